import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it, vi } from "vitest";
import { queueConnection, STEP_QUEUE, StepQueue, type StepJob } from "../../src/queue/step-queue.js";
import { runRecord } from "../helpers/run-records.js";
import { redisUrl, uniqueName } from "../helpers/services.js";

const opened: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const resource of opened.splice(0).reverse()) await resource.close();
});

const target = () => ({ url: redisUrl(), prefix: uniqueName("sq"), endpoint: "test" });

function job(runId: string, step: string): StepJob {
  return { runId, pipeline: "daily", step, run: runRecord(runId) };
}

describe("the step queue", () => {
  it("puts the steps added in one turn, by every caller, on the queue in one pipeline, once per job id", async () => {
    const where = target();
    const connection = await queueConnection(where, "producer", true);
    opened.push({ close: () => connection.quit() });
    const queue = new StepQueue(where, connection);
    opened.push(queue);
    await queue.add([job("warm", "a")]); // BullMQ loads its scripts at the first add

    const pipelines = vi.spyOn(connection, "pipeline");
    await Promise.all([
      queue.add([job("r1", "a"), job("r1", "b")]),
      queue.add([job("r2", "a")]),
      queue.add([job("r1", "a")]), // the same job again: still one
      queue.add([]),
    ]);
    expect(pipelines).toHaveBeenCalledTimes(1);

    const reader = new Queue(STEP_QUEUE, { connection: new Redis(redisUrl(), { maxRetriesPerRequest: null }), prefix: where.prefix });
    opened.push({ close: async () => (await reader.close(), (await reader.client).disconnect()) });
    const ids = (await reader.getJobs(["wait"])).map((j) => j.id).sort();
    expect(ids).toEqual(["r1~a", "r1~b", "r2~a", "warm~a"]);
  });

  it("fails every caller of a turn when Redis cannot take the pipeline", async () => {
    const where = target();
    const connection = await queueConnection(where, "producer", true);
    const queue = new StepQueue(where, connection);
    await queue.add([job("warm", "a")]);
    connection.disconnect(); // a producer connection does not queue commands while it is down
    const outcomes = await Promise.allSettled([queue.add([job("r1", "a")]), queue.add([job("r2", "a")])]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
    await queue.close().catch(() => undefined);
  });
});
