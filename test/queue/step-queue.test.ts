import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PACK_SIZE, queueConnection, RunMarks, STEP_QUEUE, StepQueue, type QueueJob, type StepJob } from "../../src/queue/step-queue.js";
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

/** A step queue on its own pipelined producer connection, closed after the test. */
async function openQueue(where: ReturnType<typeof target>) {
  const connection = await queueConnection(where, "producer", true);
  opened.push({ close: () => connection.quit() });
  const queue = new StepQueue(where, connection);
  opened.push(queue);
  return { connection, queue };
}

/** The jobs waiting on the queue, read as a worker would. */
async function waitingJobs(where: ReturnType<typeof target>) {
  const reader = new Queue<QueueJob>(STEP_QUEUE, {
    connection: new Redis(redisUrl(), { maxRetriesPerRequest: null }),
    prefix: where.prefix,
  });
  opened.push({ close: async () => (await reader.close(), (await reader.client).disconnect()) });
  return reader.getJobs(["wait"]);
}

describe("the step queue", () => {
  it("puts the steps added in one turn, by every caller, on the queue in one pipeline, once per job id", async () => {
    const where = target();
    const { connection, queue } = await openQueue(where);
    await queue.add([job("warm", "a")]); // BullMQ loads its scripts at the first add

    const pipelines = vi.spyOn(connection, "pipeline");
    await Promise.all([
      queue.add([job("r1", "a"), job("r1", "b")]),
      queue.add([job("r2", "a")]),
      queue.add([job("r1", "a")]), // the same job again: still one
      queue.add([]),
    ]);
    expect(pipelines).toHaveBeenCalledTimes(1);

    const ids = (await waitingJobs(where)).map((j) => j.id).sort();
    expect(ids).toEqual(["r1~a", "r1~b", "r2~a", "warm~a"]);
  });

  it("packs the steps launched in one turn, up to PACK_SIZE a job, and finds each packed step's job until it is unpacked", async () => {
    const where = target();
    const { queue } = await openQueue(where);
    const launched = Array.from({ length: PACK_SIZE + 2 }, (_, i) => job(`p${String(i).padStart(2, "0")}`, "a"));
    await Promise.all([
      ...launched.map((j) => queue.add([j], true)),
      queue.add([job("s1", "b")]), // a step enqueued by a step's end keeps a job of its own
    ]);

    const jobs = await waitingJobs(where);
    const members = Object.fromEntries(jobs.map((j) => [j.id, j.data.steps.map((s) => s.runId)]));
    expect(members).toEqual({
      "pack~p00~a": launched.slice(0, PACK_SIZE).map((j) => j.runId),
      "pack~p08~a": ["p08", "p09"],
      "s1~b": ["s1"],
    });
    expect(await queue.jobOf("p03", "a")).toEqual({ state: "waiting" });
    expect(await queue.jobOf("s1", "b")).toEqual({ state: "waiting" });
    await queue.unpacked(launched.slice(0, PACK_SIZE));
    expect(await queue.jobOf("p03", "a")).toEqual({ state: "unknown" });
    expect(await queue.jobOf("p09", "a")).toEqual({ state: "waiting" });
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

describe("run marks", () => {
  it("asks for the cancels of one turn in one command, and tells each run whether it is cancelled", async () => {
    const where = target();
    const connection = await queueConnection(where, "worker", true);
    opened.push({ close: () => connection.quit() });
    const marks = new RunMarks(connection, where.prefix);
    const ids = Array.from({ length: 6 }, (_, i) => `r${i}`);
    const sent = vi.spyOn(connection, "exists");
    expect(await Promise.all(ids.map((id) => marks.isCancelled(id)))).toEqual(ids.map(() => false));
    expect(sent).toHaveBeenCalledTimes(1);

    await marks.cancel("r2");
    await marks.cancel("r4");
    expect(await Promise.all(ids.map((id) => marks.isCancelled(id)))).toEqual([false, false, true, false, true, false]);
    expect(await marks.isCancelled("r4")).toBe(true);
  });

  it("announces the ends of one turn as one message, and reads an end as earlier workers announced it", async () => {
    const where = target();
    const connection = await queueConnection(where, "worker", true);
    const listener = await queueConnection(where, "worker");
    opened.push({ close: () => connection.quit() }, { close: () => listener.quit() });
    const marks = new RunMarks(connection, where.prefix);
    const messages: string[] = [];
    await listener.subscribe(marks.endedChannel);
    // Everything published before the sentinel, on the same connection, is heard before it.
    const heard = new Promise<void>((resolve) =>
      listener.on("message", (_channel: string, message: string) => (message === "done" ? resolve() : void messages.push(message))),
    );

    await Promise.all([marks.announceEnd("r1", "daily", "succeeded", ["a"]), marks.announceEnd("r2", "daily", "failed", ["a"])]);
    await connection.publish(marks.endedChannel, "done");
    await heard;
    expect(messages).toHaveLength(1);
    expect(RunMarks.endsIn(messages[0]!)).toEqual([
      { runId: "r1", pipeline: "daily", status: "succeeded" },
      { runId: "r2", pipeline: "daily", status: "failed" },
    ]);
    expect(RunMarks.endsIn('{"runId":"r3","pipeline":"daily","status":"succeeded"}')).toEqual([
      { runId: "r3", pipeline: "daily", status: "succeeded" },
    ]);
    expect(RunMarks.endsIn("not json")).toEqual([]);
    expect(RunMarks.endsIn('[null, 1, {"runId":"r4"}, {"runId":"r5","pipeline":"daily","status":"failed"}]')).toEqual([
      { runId: "r5", pipeline: "daily", status: "failed" },
    ]);
    expect(RunMarks.endsIn("null")).toEqual([]);
  });

  it("drops the pack entries of the runs whose end it announces, in the same write", async () => {
    const where = target();
    const { connection, queue } = await openQueue(where);
    const marks = new RunMarks(connection, where.prefix);
    await Promise.all(["p1", "p2", "p3"].map((id) => queue.add([job(id, "a")], true)));
    expect(await queue.jobOf("p1", "a")).toEqual({ state: "waiting" });

    const writes = vi.spyOn(connection.stream, "write");
    await Promise.all([marks.announceEnd("p1", "daily", "succeeded", ["a", "b"]), marks.announceEnd("p2", "daily", "failed", ["a"])]);
    expect(writes).toHaveBeenCalledTimes(1);
    expect(await queue.jobOf("p1", "a")).toEqual({ state: "unknown" });
    expect(await queue.jobOf("p2", "a")).toEqual({ state: "unknown" });
    expect(await queue.jobOf("p3", "a")).toEqual({ state: "waiting" }); // its run goes on
  });
});
