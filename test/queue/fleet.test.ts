import { spawn, type ChildProcess } from "node:child_process";
import type { ServerResponse } from "node:http";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TestClock } from "../../src/clock/clock.js";
import { loadProject, openProject } from "../../src/project/load-project.js";
import { queueConnection, StepQueue } from "../../src/queue/step-queue.js";
import { OverdueHooks } from "../../src/schedule/overdue-hooks.js";
import { aliasOf } from "../../src/runtime/dataset-io.js";
import type { Workspace } from "../../src/runtime/workspace.js";
import { startControlServer, type ControlServer } from "../../src/server/control-server.js";
import { BIN, makeProject } from "../cli/helpers.js";
import { postgresUrl, redisUrl, uniqueName } from "../helpers/services.js";
import { killHard, startServerProcess } from "../helpers/server-process.js";
import { runRecord } from "../helpers/run-records.js";
import { eventually } from "../helpers/waiting.js";
import { startWebhookSink, type WebhookSink } from "../helpers/webhook-sink.js";

// The fixture's config reads these when the project loads, here and in the worker processes.
const env: Record<string, string> = {};
let project: ReturnType<typeof makeProject>;
let workspace: Workspace;
let server: ControlServer;
let key: string;
/** The alerts `alerted` sends; the first is held unanswered, so its worker is still delivering it. */
let alerts: WebhookSink;
const held: ServerResponse[] = [];
const workers = new Set<ChildProcess>();
/** Each worker process with its log, to find the one that took a step. */
const taken = new Map<ChildProcess, Worker>();

interface Worker {
  readonly child: ChildProcess;
  /** Resolves with the first JSON log line matching `match`. */
  line(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

function startWorker(): Worker {
  const child = spawn(process.execPath, [BIN, "worker", "--concurrency", "2", "--lock-ms", "1500", "--project", project.dir], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  workers.add(child);
  child.on("exit", () => workers.delete(child));
  const lines: Record<string, unknown>[] = [];
  const listeners: (() => void)[] = [];
  let rest = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    const text = rest + chunk.toString();
    const parts = text.split("\n");
    rest = parts.pop()!;
    for (const part of parts) if (part.trim()) lines.push(JSON.parse(part) as Record<string, unknown>);
    listeners.forEach((l) => l());
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const worker: Worker = {
    child,
    line: (match) =>
      new Promise((resolve, reject) => {
        const look = (): boolean => {
          const found = lines.find(match);
          if (found) resolve(found);
          return !!found;
        };
        if (look()) return;
        listeners.push(look);
        child.on("exit", (code) => reject(new Error(`worker exited (${code}) before the line: ${stderr}`)));
      }),
  };
  taken.set(child, worker);
  child.on("exit", () => taken.delete(child));
  return worker;
}

async function call(method: "GET" | "POST", path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(server.url + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function runToEnd(
  pipeline: string,
  params: Record<string, unknown> = {},
): Promise<{ id: string; status: string; error: { code: string } | null }> {
  const started = await call("POST", `/v1/pipelines/${pipeline}/runs`, { params });
  expect(started.status, JSON.stringify(started.body)).toBe(201);
  const runId = started.body.runId as string;
  await server.executor.finished(runId);
  return (await call("GET", `/v1/runs/${runId}`)).body as never;
}

/** When the one step of a run of a holding pipeline ran (the times it returned). */
async function heldSpan(runId: string): Promise<{ startedAt: number; endedAt: number }> {
  const output = (await workspace.store.getSteps(runId))[0]!.output;
  if (output?.kind !== "json") throw new Error(`run ${runId}: no JSON output`);
  return JSON.parse(output.json) as { startedAt: number; endedAt: number };
}

beforeAll(async () => {
  alerts = await startWebhookSink((res) => (alerts.received.length === 1 ? held.push(res) : res.end()));
  Object.assign(env, {
    FLEET_ALERT_URL: `${alerts.url}/alert`,
    FLEET_METADATA_URL: postgresUrl(),
    FLEET_QUEUE_URL: redisUrl(),
    FLEET_SCHEMA: uniqueName("fleet").toLowerCase(),
    FLEET_PREFIX: uniqueName("fleet"),
  });
  Object.assign(process.env, env);
  project = makeProject("fleet");
  workspace = (await openProject(project.dir)).openWorkspace();
  key = (await workspace.apiKeys.create("fleet", ["run"], Date.now())).key;
  server = await startControlServer({ projectDir: project.dir, workspace, port: 0 });
  const ready = [startWorker(), startWorker()];
  await Promise.all(ready.map((w) => w.line((l) => l.msg === "worker ready")));
}, 60_000);

afterEach(() => undefined);

afterAll(async () => {
  for (const child of workers) child.kill("SIGKILL");
  await alerts?.close();
  await server?.close(1000);
  await workspace?.close();
  project?.cleanup();
  for (const name of Object.keys(env)) delete process.env[name];
});

describe("runs on the worker fleet (BullMQ on Redis, metadata on Postgres)", () => {
  it("runs each step on a worker, passing plain data and a Postgres dataset between them", async () => {
    const run = await runToEnd("chain", { n: 4 });
    expect(run.status, JSON.stringify(run)).toBe("succeeded");
    const steps = (run as unknown as { steps: { step: string; status: string; output: { json?: string } }[] }).steps;
    expect(steps.map((s) => [s.step, s.status])).toEqual([
      ["rows", "succeeded"],
      ["totals", "succeeded"],
      ["sum", "succeeded"],
    ]);
    // (0 + 2 + 4 + 6) * 1.5
    expect(JSON.parse(steps.find((s) => s.step === "sum")!.output.json!)).toEqual({ sum: 18 });
    expect((await workspace.catalog.liveVersion("totals"))?.rows).toBe(4);
    const logs = (await call("GET", `/v1/runs/${run.id}/logs`)).body.lines as { triggerId: string; step?: string; pid?: number }[];
    expect(new Set(logs.filter((l) => l.step).map((l) => l.step))).toEqual(new Set(["rows", "totals", "sum"]));
    // Every line, the workers' included, carries the run's trigger id.
    const { trigger } = run as unknown as { trigger: { id: string } };
    expect(trigger.id).toMatch(/\S/);
    expect(logs.filter((l) => l.triggerId !== trigger.id)).toEqual([]);
  });

  it("keeps each pipeline's overlap policy across workers: skip while one runs, queue until it ends", async () => {
    const first = await call("POST", "/v1/pipelines/skipping/runs", {});
    expect(first.status).toBe(201);
    const skipped = await call("POST", "/v1/pipelines/skipping/runs", {});
    expect([skipped.status, (skipped.body.error as { code: string }).code]).toEqual([409, "PIPELINE_BUSY"]);
    await server.executor.finished(first.body.runId as string);

    const running = await call("POST", "/v1/pipelines/queued/runs", {});
    const waiting = await call("POST", "/v1/pipelines/queued/runs", { params: { ms: 10 } });
    expect([running.status, waiting.status, waiting.body.status]).toEqual([201, 202, "queued"]);
    await server.executor.finished(running.body.runId as string);
    await eventually(async () => expect((await workspace.store.listRuns({ pipeline: "queued", status: "succeeded" })).length).toBe(2));
    const [second, firstRun] = await workspace.store.listRuns({ pipeline: "queued" }); // newest first
    // The queued trigger's run began only once the first run's step had ended.
    expect((await heldSpan(second!.id)).startedAt).toBeGreaterThanOrEqual((await heldSpan(firstRun!.id)).endedAt);
    expect((await workspace.store.listRuns({ pipeline: "skipping" })).length).toBe(1);
  });

  it("runs at most --concurrency steps at once on each worker, and more than one", async () => {
    const launched = await Promise.all(Array.from({ length: 8 }, () => call("POST", "/v1/pipelines/hold/runs", { params: { ms: 1500 } })));
    const ids = launched.map((l) => l.body.runId as string);
    for (const id of ids) await server.executor.finished(id);
    const spans = await Promise.all(ids.map((id) => heldSpan(id)));
    // The most steps running at one moment: two workers started with --concurrency 2.
    const most = Math.max(...spans.map((s) => spans.filter((o) => o.startedAt <= s.startedAt && s.startedAt < o.endedAt).length));
    // Four when every slot is taken at once; three leaves room for a slot taken late on a busy machine.
    expect(most).toBeLessThanOrEqual(4);
    expect(most).toBeGreaterThanOrEqual(3);
  });

  it("fails the run with the step's error code and skips what depends on it", async () => {
    const run = await runToEnd("broken");
    expect(run.status).toBe("failed");
    expect(run.error?.code).toBe("STEP_FAILED");
    const steps = (run as unknown as { steps: { step: string; status: string }[] }).steps;
    expect(steps.map((s) => [s.step, s.status])).toEqual([
      ["explode", "failed"],
      ["after", "skipped"],
    ]);
  });

  it("cancels a step running on a worker", async () => {
    const started = await call("POST", "/v1/pipelines/waiting/runs", {});
    const runId = started.body.runId as string;
    await eventually(async () => {
      const steps = (await workspace.store.getSteps(runId)).map((s) => s.status);
      if (steps[0] !== "running") throw new Error(`not running yet: ${steps.join()}`);
    });
    const cancelled = await call("POST", `/v1/runs/${runId}/cancel`);
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(202);
    expect(cancelled.body.status).toBe("cancelled");
    expect((await workspace.store.getSteps(runId))[0]!.status).toBe("cancelled");
  });

  it("a worker stopped with SIGTERM lets the step it runs end, then exits 0", async () => {
    const started = await call("POST", "/v1/pipelines/queued/runs", { params: { ms: 1500 } });
    const runId = started.body.runId as string;
    const holder = await Promise.race(
      [...taken].map(async ([child, w]) => {
        await w.line((l) => l.msg === "step taken" && l.runId === runId);
        return child;
      }),
    );
    let stderr = "";
    holder.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => holder.once("exit", resolve));
    holder.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stderr).toContain("stopping: no new steps; waiting for the steps running here");
    // The step ended, and moved its run on, before the worker went.
    expect(((await call("GET", `/v1/runs/${runId}`)).body as { status: string }).status).toBe("succeeded");
    await startWorker().line((l) => l.msg === "worker ready"); // the other tests' fleet is two
  }, 30_000);

  it("a worker killed in the middle of a dataset write: another takes the step, and the dataset gets one version, whole", async () => {
    const started = await call("POST", "/v1/pipelines/slow-write/runs", { params: { seconds: 2 } });
    const runId = started.body.runId as string;
    // Wait until the write is under way: its version is allocated and Postgres is sleeping.
    const writing = await eventually(async () => {
      const version = (await workspace.catalog.versionsOfRun(runId)).find((v) => v.status === "writing");
      if (!version) throw new Error("no version being written yet");
      return version;
    });
    const holder = await Promise.race(
      [...taken].map(async ([child, w]) => {
        await w.line((l) => l.msg === "step taken" && l.runId === runId);
        return child;
      }),
    );
    holder.kill("SIGKILL");
    // Another worker takes the step once the dead one's lock expires (--lock-ms 1500).
    await server.executor.finished(runId);
    const run = (await call("GET", `/v1/runs/${runId}`)).body as {
      status: string;
      attempts: { attempt: number; status: string; error: { code: string } | null }[];
    };
    expect(run.status, JSON.stringify(run)).toBe("succeeded");
    expect(run.attempts.map((a) => [a.attempt, a.status, a.error?.code ?? null])).toEqual([
      [1, "failed", "WORKER_LOST"],
      [2, "succeeded", null],
    ]);
    const versions = await workspace.catalog.versionsOfRun(runId);
    expect(versions.map((v) => [v.version, v.status, v.live])).toEqual([
      [writing.version, "failed", false],
      [writing.version + 1, "ready", true],
    ]);
    expect((await workspace.catalog.liveVersion("slow_totals"))?.rows).toBe(5);
  }, 60_000);

  it("a worker whose step blocks it past its lock comes back to a step taken over, and keeps nothing of its attempt", async () => {
    const started = await call("POST", "/v1/pipelines/stall/runs", { params: { seconds: 4 } });
    const runId = started.body.runId as string;
    const holder = await Promise.race(
      [...taken].map(async ([, w]) => {
        await w.line((l) => l.msg === "step taken" && l.runId === runId);
        return w;
      }),
    );
    // The other worker takes the step once the blocked one's lock runs out (--lock-ms 1500) and ends the run.
    await server.executor.finished(runId);
    // The blocked one comes back, finds the step gone, and drops what it made.
    await holder.line((l) => l.code === "STEP_TAKEN_OVER" && l.runId === runId);
    const run = (await call("GET", `/v1/runs/${runId}`)).body as {
      status: string;
      attempts: { attempt: number; status: string; error: { code: string } | null }[];
      steps: { status: string; attempts: number }[];
    };
    expect(run.status, JSON.stringify(run)).toBe("succeeded");
    expect(run.attempts.map((a) => [a.attempt, a.status, a.error?.code ?? null])).toEqual([
      [1, "failed", "WORKER_LOST"],
      [2, "succeeded", null],
    ]);
    expect(run.steps.map((s) => [s.status, s.attempts])).toEqual([["succeeded", 2]]);
    const versions = await workspace.catalog.versionsOfRun(runId);
    expect(versions.filter((v) => v.live).map((v) => v.status)).toEqual(["ready"]);
    expect(versions.filter((v) => !v.live).map((v) => v.status)).toEqual(["failed"]);
    const shared = await workspace.storages.open("shared");
    const live = await workspace.catalog.liveVersion("stalled_totals");
    expect(live?.runId).toBe(runId);
    expect((await shared.tables!.readRows(aliasOf(shared.tables!, "stalled_totals"))).map((r) => Number(r.k))).toEqual([2]);
    const logs = (await call("GET", `/v1/runs/${runId}/logs`)).body.lines as { code?: string }[];
    expect(logs.some((l) => l.code === "STEP_TAKEN_OVER")).toBe(true);
  }, 60_000);

  it("runs writing days of one partitioned dataset at once on two workers keep every day", async () => {
    const days = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05", "2026-01-06"];
    const runs = await Promise.all(days.map((day) => runToEnd("daily", { day })));
    expect(runs.map((r) => r.status)).toEqual(days.map(() => "succeeded"));
    const shared = await workspace.storages.open("shared");
    const rows = await shared.tables!.readRows(aliasOf(shared.tables!, "daily_totals"));
    expect(rows.map((r) => String(r.day)).sort()).toEqual(days);
  }, 60_000);

  it("a step job of a run that ended before a worker took it (its other jobs failed to enqueue) is not run", async () => {
    const runId = `r-ended-${Date.now().toString(36)}`;
    const record = runRecord(runId, { pipeline: "one", params: {}, inputParams: {}, startedAt: Date.now() });
    await workspace.store.createRun(record, ["noop"]);
    await workspace.store.finishRun(runId, "failed", Date.now(), { code: "QUEUE_UNAVAILABLE", message: "redis went away" });
    // The job that made it into Redis before the connection broke.
    const target = (await loadProject(project.dir)).queue()!;
    const redis = await queueConnection(target, "producer");
    const queue = new StepQueue(target, redis);
    try {
      await queue.add([{ runId, pipeline: "one", step: "noop", run: record }]);
      await Promise.race([...taken.values()].map((w) => w.line((l) => l.runId === runId && l.code === "RUN_FINISHED")));
    } finally {
      await queue.close();
      redis.disconnect();
    }
    expect(await workspace.store.getAttempts(runId)).toEqual([]);
    expect((await workspace.store.getSteps(runId)).map((s) => s.status)).toEqual(["pending"]);
    expect(await workspace.store.getRun(runId)).toMatchObject({ status: "failed", error: { code: "QUEUE_UNAVAILABLE" } });
  }, 30_000);

  it("a worker killed while it delivers a run's alert: the control plane's sweep delivers it once the worker's time is up", async () => {
    const started = await call("POST", "/v1/pipelines/alerted/runs", {});
    const runId = started.body.runId as string;
    await eventually(async () => {
      if (alerts.received.length < 1) throw new Error("no alert yet");
    });
    const holder = await Promise.race(
      [...taken].map(async ([child, w]) => {
        await w.line((l) => l.msg === "step taken" && l.runId === runId);
        return child;
      }),
    );
    await killHard(holder);
    expect(await workspace.store.getRun(runId)).toMatchObject({ status: "failed", error: { code: "STEP_FAILED" } });
    const [due] = await workspace.store.dueHooks(Number.MAX_SAFE_INTEGER, 10);
    expect(due?.run.id).toBe(runId);
    // The control plane's sweeper, on a clock just before, then at, the end of the worker's delivery budget (20 s timeout + margin).
    const pipelines = new Map([...(await loadProject(project.dir)).pipelines].map(([name, p]) => [name, p.pipeline]));
    const sweepAt = (at: number): Promise<number> =>
      new OverdueHooks({ pipelines, store: workspace.store, clock: new TestClock(at), log: pino({ level: "silent" }) }).sweep();
    expect(await sweepAt(due!.dueAt - 1)).toBe(0);
    expect(alerts.received).toHaveLength(1);
    expect(await sweepAt(due!.dueAt)).toBe(1);
    expect(alerts.received.map((a) => a.body.runId)).toEqual([runId, runId]);
    expect(await workspace.store.dueHooks(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    await startWorker().line((l) => l.msg === "worker ready"); // the fleet is two again
  }, 60_000);

  it("a control plane killed with a run in flight: the workers finish the run, and the restarted one shows it ended", async () => {
    const first = await startServerProcess(project.dir, env);
    try {
      const response = await fetch(`${first.url}/v1/pipelines/slow-write/runs`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ params: { seconds: 1 } }),
      });
      const runId = ((await response.json()) as { runId: string }).runId;
      await killHard(first.child);
      await eventually(async () => {
        if ((await workspace.store.getRun(runId)).status !== "succeeded") throw new Error("still running");
      }, 20_000);
      const second = await startServerProcess(project.dir, env);
      try {
        const shown = await fetch(`${second.url}/v1/runs/${runId}`, { headers: { authorization: `Bearer ${key}` } });
        expect(((await shown.json()) as { status: string }).status).toBe("succeeded");
        // Runs on the queue belong to the fleet, not to a process: the restart resumed nothing.
        expect((await workspace.store.listRuns({ pipeline: "slow-write" })).filter((r) => r.trigger.kind === "recovery")).toEqual([]);
      } finally {
        await killHard(second.child);
      }
    } finally {
      await killHard(first.child);
    }
  }, 60_000);
});
