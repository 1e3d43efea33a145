import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Queue, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { systemClock, TestClock, type Clock } from "../../src/clock/clock.js";
import { notify } from "../../src/pipeline/hooks.js";
import { pipeline, type AnyPipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";
import { QueueExecutor } from "../../src/queue/queue-executor.js";
import { jobIdOf, STEP_QUEUE } from "../../src/queue/step-queue.js";
import { startStepWorker, type StepWorker } from "../../src/queue/step-worker.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { TriggerQueue } from "../../src/schedule/trigger-queue.js";
import { SqliteWaitingTriggerStore } from "../../src/storage/sqlite/waiting-trigger-store.js";
import { postgresUrl, redisUrl, uniqueName } from "../helpers/services.js";
import { eventually } from "../helpers/waiting.js";

const log = pino({ level: "silent" });
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const resource of opened.splice(0).reverse()) await resource.close();
});

let ran = 0;
const counted = pipeline("counted", {}, () => {
  step("count", () => ({ n: ++ran }));
});

/** The control plane's executor and a worker in this process, on the throwaway servers. */
async function fleet(
  workerPipelines: readonly AnyPipeline[],
  clock: Clock = systemClock,
  lostRunsPage?: number,
): Promise<{ workspace: Workspace; executor: QueueExecutor; worker: () => Promise<StepWorker>; target: { url: string; prefix: string } }> {
  const workspace = openWorkspace(":memory:", {
    metadata: { technology: "postgres", url: postgresUrl(), schema: uniqueName("q").toLowerCase() },
  });
  opened.push(workspace);
  const target = { url: redisUrl(), prefix: uniqueName("q"), endpoint: "test" };
  const waiting = new TriggerQueue(new SqliteWaitingTriggerStore(":memory:"));
  opened.push(waiting.store);
  const executor = await QueueExecutor.open({
    pipelines: new Map([counted, ...workerPipelines].map((p) => [p.name, p])),
    workspace,
    waiting,
    target,
    clock,
    log,
    ...(lostRunsPage ? { lostRunsPage } : {}),
  });
  opened.push(executor);
  const worker = async () => {
    const started = await startStepWorker({
      pipelines: new Map(workerPipelines.map((p) => [p.name, p])),
      workspace,
      target,
      concurrency: 2,
      log,
      clock,
    });
    opened.push(started);
    return started;
  };
  return { workspace, executor, worker, target };
}

describe("the queue executor", () => {
  it("a run cancelled before any worker took its step never runs it", async () => {
    const { workspace, executor, worker } = await fleet([counted]);
    const before = ran;
    const launch = await executor.launch({ pipeline: counted, params: {}, trigger: { kind: "api", id: "t1" } });
    if (launch.status !== "started") throw new Error(launch.status);
    expect(await executor.cancel(launch.runId)).toBe(true);
    expect((await workspace.store.getRun(launch.runId)).status).toBe("cancelled");
    await worker(); // takes the job, sees the step skipped
    const again = await executor.launch({ pipeline: counted, params: {}, trigger: { kind: "api", id: "t2" } });
    if (again.status !== "started") throw new Error(again.status);
    await executor.finished(again.runId);
    expect(ran).toBe(before + 1); // only the second run's step ran
    expect((await workspace.store.getSteps(launch.runId)).map((s) => [s.status, s.error?.code])).toEqual([["skipped", "STEP_SKIPPED"]]);
  });

  it("two steps ending at the same moment end their run once: one end, one hook call, one line saying so", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strata-twins-"));
    opened.push({ close: async () => rmSync(dir, { recursive: true, force: true }) });
    const calls = join(dir, "calls.txt");
    let arrived = 0;
    let release: () => void = () => undefined;
    const together = new Promise<void>((done) => (release = done));
    const meet = async (): Promise<number> => {
      if (++arrived === 2) release();
      await together;
      return 1;
    };
    const twins = pipeline("twins", { onSuccess: [notify.command(`echo called >> '${calls}'`)] }, () => {
      step("left", meet);
      step("right", meet);
    });
    const { workspace, executor, worker } = await fleet([twins]);
    const running = await worker();
    const launch = await executor.launch({ pipeline: twins, params: {}, trigger: { kind: "api", id: "twins" } });
    if (launch.status !== "started") throw new Error(launch.status);
    await executor.finished(launch.runId);
    await running.close(); // both jobs have ended, hooks and all
    expect((await workspace.store.getRun(launch.runId)).status).toBe("succeeded");
    expect(readFileSync(calls, "utf8")).toBe("called\n");
    const finished = (await workspace.store.getLogs(launch.runId)).filter((l) => l.line.includes('"msg":"run finished"'));
    expect(finished).toHaveLength(1);
  });

  it("a worker whose project lacks the pipeline ends the run failed, naming the pipeline", async () => {
    const { workspace, executor, worker } = await fleet([]);
    await worker();
    const launch = await executor.launch({ pipeline: counted, params: {}, trigger: { kind: "api", id: "t3" } });
    if (launch.status !== "started") throw new Error(launch.status);
    const run = await eventually(async () => {
      const found = await workspace.store.getRun(launch.runId);
      if (found.status === "running") throw new Error("still running");
      return found;
    });
    expect(run.status).toBe("failed");
    expect(run.error?.code).toBe("PIPELINE_NOT_FOUND");
    expect(run.error?.message).toContain('no pipeline "counted"');
  });

  it("runs launched together share a job: their steps run at most `concurrency` at once, and a cancel stops only its own run", async () => {
    const holding = new Map<string, AbortSignal>(); // run id -> signal of its step, while it runs
    let most = 0;
    let release: () => void = () => undefined;
    const released = new Promise<void>((done) => (release = done));
    const held = pipeline("held", {}, () => {
      step("hold", async (_inputs: Record<string, never>, { runId, signal }) => {
        holding.set(runId, signal);
        most = Math.max(most, holding.size);
        try {
          await Promise.race([released, new Promise((_, fail) => signal.addEventListener("abort", () => fail(new Error("stopped"))))]);
        } finally {
          holding.delete(runId);
        }
        return 1;
      });
    });
    const { workspace, executor, worker, target } = await fleet([held]);
    const launches = await Promise.all(
      Array.from({ length: 5 }, (_, i) => executor.launch({ pipeline: held, params: {}, trigger: { kind: "api", id: `h${i}` } })),
    );
    const runIds = launches.map((l) => (l.status === "started" ? l.runId : ""));
    const redis = new Redis(target.url);
    opened.push({ close: async () => void (await redis.quit()) });
    const waiting = await redis.lrange(`${target.prefix}:${STEP_QUEUE}:wait`, 0, -1);
    expect(waiting.length).toBeLessThan(5);
    expect(waiting.some((id) => id.startsWith("pack~"))).toBe(true);

    await worker(); // concurrency 2
    await eventually(async () => expect(holding.size).toBe(2));
    const [cancelled, other] = [...holding.keys()];
    const otherSignal = holding.get(other!)!;
    expect(await executor.cancel(cancelled!)).toBe(true);
    await executor.finished(cancelled!);
    expect(otherSignal.aborted).toBe(false);
    release();
    await Promise.all(runIds.map((id) => executor.finished(id)));
    const statuses = await Promise.all(runIds.map(async (id) => [id, (await workspace.store.getRun(id)).status]));
    expect(Object.fromEntries(statuses)).toEqual(
      Object.fromEntries(runIds.map((id) => [id, id === cancelled ? "cancelled" : "succeeded"])),
    );
    expect(most).toBe(2);
  });

  it("a job enqueued before packs, one step as its data, is still run by an upgraded worker", async () => {
    const { workspace, executor, worker, target } = await fleet([counted]);
    const launch = await executor.launch({ pipeline: counted, params: {}, trigger: { kind: "api", id: "old" } });
    if (launch.status !== "started") throw new Error(launch.status);
    const runId = launch.runId;
    const producer = new Queue(STEP_QUEUE, { connection: new Redis(target.url, { maxRetriesPerRequest: null }), prefix: target.prefix });
    opened.push({ close: async () => (await producer.close(), (await producer.client).disconnect()) });
    await producer.remove(jobIdOf(runId, "count"));
    const old = { runId, pipeline: "counted", step: "count", run: await workspace.store.getRun(runId) };
    await producer.add("counted", old, { jobId: jobIdOf(runId, "count") });
    await worker();
    await executor.finished(runId);
    expect((await workspace.store.getRun(runId)).status).toBe("succeeded");
  });

  describe("a run with no job on the queue", () => {
    const MINUTE = 60_000;

    /** A run of `counted` started with no worker up, so its job waits on the queue. */
    async function waitingRun(clock: TestClock) {
      const setup = await fleet([counted], clock);
      const launch = await setup.executor.launch({ pipeline: counted, params: {}, trigger: { kind: "api", id: uniqueName("t") } });
      if (launch.status !== "started") throw new Error(launch.status);
      const redis = new Redis(setup.target.url);
      opened.push({ close: async () => void (await redis.quit()) });
      return { ...setup, runId: launch.runId, redis, jobKey: `${setup.target.prefix}:${STEP_QUEUE}` };
    }

    /** Two checks a grace period apart, as the control plane's timer makes them. */
    async function checkTwice(executor: QueueExecutor, clock: TestClock): Promise<string[][]> {
      clock.advance(MINUTE + 1);
      const first = await executor.moveLostRuns();
      clock.advance(MINUTE + 1);
      return [first, await executor.moveLostRuns()];
    }

    it("is left alone while its job waits for a worker", async () => {
      const clock = new TestClock(Date.now());
      const { workspace, executor, runId } = await waitingRun(clock);
      expect(await checkTwice(executor, clock)).toEqual([[], []]);
      expect((await workspace.store.getRun(runId)).status).toBe("running");
    });

    it("whose job Redis lost gets it again once it looked lost for a minute, and completes", async () => {
      const clock = new TestClock(Date.now());
      const { workspace, executor, worker, runId, redis, jobKey } = await waitingRun(clock);
      // Redis lost the job (a restart without an append-only file): its hash and its place in the wait list.
      await redis.del(`${jobKey}:${jobIdOf(runId, "count")}`);
      await redis.lrem(`${jobKey}:wait`, 0, jobIdOf(runId, "count"));
      clock.advance(MINUTE + 1);
      expect(await executor.moveLostRuns()).toEqual([]); // seen lost once: not yet
      clock.advance(30_000);
      expect(await executor.moveLostRuns()).toEqual([]); // half the grace later: still not
      clock.advance(30_000);
      expect(await executor.moveLostRuns()).toEqual([runId]);
      await worker();
      await executor.finished(runId);
      expect((await workspace.store.getRun(runId)).status).toBe("succeeded");
    });

    it("more runs lost than one check looks at are all found, a page per check, and complete", async () => {
      const clock = new TestClock(Date.now());
      const { workspace, executor, worker, target } = await fleet([counted], clock, 2);
      const redis = new Redis(target.url);
      opened.push({ close: async () => void (await redis.quit()) });
      const runIds: string[] = [];
      for (let i = 0; i < 3; i++) {
        clock.advance(1); // ids in launch order
        const launch = await executor.launch({ pipeline: counted, params: {}, trigger: { kind: "api", id: uniqueName("t") } });
        if (launch.status !== "started") throw new Error(launch.status);
        runIds.push(launch.runId);
      }
      const [oldest, middle, newest] = runIds;
      // Redis lost every job, packs and all: nothing on the queue moves these runs on.
      await redis.del(...(await redis.keys(`${target.prefix}:${STEP_QUEUE}:*`)));
      clock.advance(MINUTE + 1);
      expect(await executor.moveLostRuns()).toEqual([]); // the newest two: suspects
      expect(await executor.moveLostRuns()).toEqual([]); // the oldest one: a suspect
      clock.advance(MINUTE + 1);
      expect((await executor.moveLostRuns()).sort()).toEqual([middle, newest].sort());
      expect(await executor.moveLostRuns()).toEqual([oldest]);
      await worker();
      await Promise.all(runIds.map((id) => executor.finished(id)));
      for (const id of runIds) expect((await workspace.store.getRun(id)).status).toBe("succeeded");
    });

    it("whose step was taken and then lost with its job is taken again as a lost attempt", async () => {
      const clock = new TestClock(Date.now());
      const { workspace, executor, worker, runId, redis, jobKey } = await waitingRun(clock);
      // A worker took the step and recorded its start; then the job went (Redis flushed, say).
      const at = clock.now();
      const base = { runId, step: "count", startedAt: at, reusedFrom: null, output: null };
      await workspace.store.saveAttempt(
        { runId, step: "count", attempt: 1, status: "running", startedAt: at, endedAt: null, error: null },
        { ...base, status: "running", attempts: 1, endedAt: null, error: null },
      );
      await redis.del(`${jobKey}:${jobIdOf(runId, "count")}`);
      await redis.lrem(`${jobKey}:wait`, 0, jobIdOf(runId, "count"));
      expect(await checkTwice(executor, clock)).toEqual([[], [runId]]);
      await worker();
      await executor.finished(runId);
      expect((await workspace.store.getRun(runId)).status).toBe("succeeded");
      const attempts = await workspace.store.getAttempts(runId);
      expect(attempts.map((a) => [a.attempt, a.status, a.error?.code ?? null])).toEqual([
        [1, "failed", "WORKER_LOST"],
        [2, "succeeded", null],
      ]);
    });

    it("whose job failed for good while nobody could record it ends failed with the job's reason", async () => {
      const clock = new TestClock(Date.now());
      const { workspace, executor, target, runId } = await waitingRun(clock);
      // A worker took the job and failed it for good, then died before it recorded the failure.
      const taker = new Worker(STEP_QUEUE, null, {
        connection: new Redis(target.url, { maxRetriesPerRequest: null }),
        prefix: target.prefix,
        autorun: false,
      });
      opened.push(taker);
      const job = await taker.getNextJob("token");
      await job!.moveToFailed(new UnrecoverableError("STORAGE_UNAVAILABLE: the metadata store was out of reach"), "token");
      expect(await checkTwice(executor, clock)).toEqual([[], [runId]]);
      const run = await workspace.store.getRun(runId);
      expect(run.status).toBe("failed");
      expect(run.error?.code).toBe("STORAGE_UNAVAILABLE");
      expect(run.error?.message).toContain("the metadata store was out of reach");
      expect((await workspace.store.getSteps(runId)).map((s) => s.status)).toEqual(["failed"]);
    });
  });
});
