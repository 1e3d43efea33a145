import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Redis } from "ioredis";
import { pino, type Logger } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { TestClock } from "../../src/clock/clock.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { startControlServer, type ControlServer } from "../../src/server/control-server.js";
import { openStreamStore, type StreamChoice } from "../../src/storage/stream-stores.js";
import { makeProject } from "../cli/helpers.js";
import { redisUrl, uniqueName } from "../helpers/services.js";
import { eventually } from "../helpers/waiting.js";

type Body = Record<string, unknown> & { error?: { code: string; message: string; details: Record<string, unknown> } };

const opened: { close(): Promise<void> }[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const resource of opened.splice(0).reverse()) await resource.close();
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** The control fixture's streams on Redis Streams, under a prefix of their own. */
function streamsOnRedis(dir: string): StreamChoice {
  const prefix = uniqueName("streams");
  const config = `{ name: "control", streams: { technology: "redis", urlEnv: "STRATA_TEST_REDIS_URL", prefix: "${prefix}" } }`;
  writeFileSync(join(dir, "strata.config.ts"), `import { defineProject } from "strata";\n\nexport default defineProject(${config});\n`);
  return { technology: "redis", url: redisUrl(), endpoint: new URL(redisUrl()).host, prefix };
}

async function control(options: { clock?: TestClock; autoTick?: boolean; streams?: "sqlite" | "redis"; log?: Logger } = {}): Promise<{
  dir: string;
  workspace: Workspace;
  server: ControlServer;
  streams: StreamChoice;
  call: (method: "GET" | "POST", path: string, body?: unknown, key?: string | null) => Promise<{ status: number; body: Body }>;
}> {
  const project = makeProject("control");
  cleanups.push(project.cleanup);
  const streams: StreamChoice = options.streams === "redis" ? streamsOnRedis(project.dir) : { technology: "sqlite" };
  const workspace = openWorkspace(join(project.dir, ".strata"), { projectDir: project.dir });
  opened.push(workspace);
  const key = (await workspace.apiKeys.create("scheduler", ["run"], Date.now())).key;
  const server = await startControlServer({
    projectDir: project.dir,
    workspace,
    port: 0,
    pollMs: 20,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.autoTick === false ? { autoTick: false } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  opened.push(server);
  const call = async (method: "GET" | "POST", path: string, body?: unknown, k: string | null = key) => {
    const headers: Record<string, string> = {};
    if (k !== null) headers.authorization = `Bearer ${k}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(server.url + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: response.status, body: (await response.json()) as Body };
  };
  return { dir: project.dir, workspace, server, streams, call };
}

describe("the control plane's API", () => {
  it("starts a run with params, and shows it, its steps and its logs, each line carrying the trigger id", async () => {
    const { call, server } = await control();
    const started = await call("POST", "/v1/pipelines/daily/runs", { params: { n: 4 } });
    expect(started.status).toBe(201);
    const runId = started.body.runId as string;
    await server.executor.finished(runId);
    const run = await call("GET", `/v1/runs/${runId}`);
    expect(run.body).toMatchObject({ id: runId, pipeline: "daily", status: "succeeded", params: { n: 4 }, trigger: { kind: "api" } });
    expect((run.body.steps as { step: string; status: string }[]).map((s) => [s.step, s.status])).toEqual([["orders", "succeeded"]]);
    const logs = await call("GET", `/v1/runs/${runId}/logs`);
    const lines = logs.body.lines as { triggerId: string; runId: string }[];
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatchObject({ runId, triggerId: (run.body.trigger as { id: string }).id });
    const list = await call("GET", "/v1/runs?pipeline=daily&status=succeeded");
    expect((list.body.runs as { id: string }[]).map((r) => r.id)).toContain(runId);
  });

  it("lists runs a page at a time: next is the before of the following page, null on the last", async () => {
    const { call, server } = await control();
    const ids: string[] = [];
    for (let n = 1; n <= 3; n++) {
      const started = await call("POST", "/v1/pipelines/daily/runs", { params: { n } });
      ids.push(started.body.runId as string);
      await server.executor.finished(ids.at(-1)!);
    }
    const newestFirst = [...ids].sort().reverse();
    const first = await call("GET", "/v1/runs?pipeline=daily&limit=2");
    expect((first.body.runs as { id: string }[]).map((r) => r.id)).toEqual(newestFirst.slice(0, 2));
    expect(first.body.next).toBe(newestFirst[1]);
    const second = await call("GET", `/v1/runs?pipeline=daily&limit=2&before=${first.body.next as string}`);
    expect((second.body.runs as { id: string }[]).map((r) => r.id)).toEqual(newestFirst.slice(2));
    expect(second.body.next).toBeNull();
    const empty = await call("GET", "/v1/runs?before=");
    expect([empty.status, empty.body.error!.code, (empty.body.error as { details?: { field?: string } }).details?.field]).toEqual([
      400,
      "REQUEST_INVALID",
      "before",
    ]);
  });

  it("refuses bad params with 400 naming the field, unknown names with 404, and needs a key with the run scope", async () => {
    const { call, workspace } = await control();
    const bad = await call("POST", "/v1/pipelines/daily/runs", { params: { n: 0 } });
    expect([bad.status, bad.body.error!.code]).toEqual([400, "PARAM_INVALID"]);
    expect(bad.body.error!.message).toContain('param "n"');
    const unknown = await call("POST", "/v1/pipelines/daily/runs", { params: { m: 1 } });
    expect([unknown.status, unknown.body.error!.code]).toEqual([400, "PARAM_UNKNOWN"]);
    expect((await call("POST", "/v1/pipelines/nope/runs", {})).body.error!.code).toBe("PIPELINE_NOT_FOUND");
    expect((await call("GET", "/v1/runs/r0000")).body.error!.code).toBe("RUN_NOT_FOUND");
    expect((await call("GET", "/v1/runs", undefined, null)).status).toBe(401);
    const invokeOnly = (await workspace.apiKeys.create("app", ["invoke"], Date.now())).key;
    expect((await call("GET", "/v1/runs", undefined, invokeOnly)).body.error!.code).toBe("AUTH_FORBIDDEN");
    expect((await call("GET", "/healthz", undefined, null)).status).toBe(200);
  });

  it("cancels a run in flight, retries a failed one, and queues or skips triggers per the pipeline's overlap", async () => {
    const { call, server } = await control();
    const first = await call("POST", "/v1/pipelines/slow/runs", { params: { ms: 1500 } });
    const queued = await call("POST", "/v1/pipelines/slow/runs", { params: { ms: 10 } });
    expect([first.status, queued.status, queued.body.status, queued.body.position]).toEqual([201, 202, "queued", 1]);
    const cancelled = await call("POST", `/v1/runs/${first.body.runId as string}/cancel`);
    expect([cancelled.status, cancelled.body.status]).toEqual([202, "cancelled"]);
    expect((await call("POST", `/v1/runs/${first.body.runId as string}/cancel`)).body.error!.code).toBe("RUN_FINISHED");
    // The queued trigger starts once the first run has ended.
    await eventually(async () => expect((await call("GET", "/v1/runs?pipeline=slow&status=succeeded")).body.runs).toHaveLength(1));

    const retried = await call("POST", `/v1/runs/${first.body.runId as string}/retry`);
    expect([retried.status, retried.body.retryOf]).toEqual([201, first.body.runId]);
    await server.executor.finished(retried.body.runId as string);
    expect((await call("GET", `/v1/runs/${retried.body.runId as string}`)).body).toMatchObject({
      status: "succeeded",
      resumedFrom: first.body.runId,
    });

    const one = await call("POST", "/v1/pipelines/exclusive/runs", {});
    const two = await call("POST", "/v1/pipelines/exclusive/runs", {});
    expect([one.status, two.status, two.body.error!.code]).toEqual([201, 409, "PIPELINE_BUSY"]);
  });

  it("starts a pipeline when a dataset it watches gets a new version", async () => {
    const { call } = await control();
    await call("POST", "/v1/pipelines/daily/runs", { params: { n: 2 } });
    await eventually(async () => expect((await call("GET", "/v1/runs?pipeline=report&status=succeeded")).body.runs).toHaveLength(1));
    const [run] = (await call("GET", "/v1/runs?pipeline=report")).body.runs as { params: unknown; trigger: { id: string } }[];
    expect(run).toMatchObject({ params: { version: 1 }, trigger: { id: "dataset:orders@v1" } });
  });

  it("fires cron schedules on the injected clock, and catches up what it missed while down", async () => {
    const clock = new TestClock(Date.parse("2026-01-10T01:00:00Z")); // 02:00 in Paris
    const { server, dir, workspace } = await control({ clock, autoTick: false });
    clock.advance(60 * 60_000); // 02:00 UTC = 03:00 Paris: due
    await server.plane.tick();
    const [first] = await workspace.store.listRuns({ pipeline: "daily" });
    expect(first?.trigger).toEqual({ kind: "cron", id: "cron:daily#0@2026-01-10T02:00:00.000Z" });
    expect(first?.params).toEqual({ n: 2 });
    await server.executor.finished(first!.id);
    await server.close();

    // Down for three days; the schedule's catchUp is "all": one run per missed day, oldest first.
    clock.advance(3 * 86_400_000);
    const again = await startControlServer({ projectDir: dir, workspace, port: 0, clock, autoTick: false });
    opened.push(again);
    await again.plane.tick();
    await eventually(async () => expect(await workspace.store.listRuns({ pipeline: "daily", status: "succeeded" })).toHaveLength(4));
    const ids = (await workspace.store.listRuns({ pipeline: "daily" })).map((r) => r.trigger.id).sort();
    expect(ids).toEqual([
      "cron:daily#0@2026-01-10T02:00:00.000Z",
      "cron:daily#0@2026-01-11T02:00:00.000Z",
      "cron:daily#0@2026-01-12T02:00:00.000Z",
      "cron:daily#0@2026-01-13T02:00:00.000Z",
    ]);
  });
});

describe.each(["sqlite", "redis"] as const)("the control plane's streams, kept in %s", (technology) => {
  it("runs a pipeline once per event posted to its stream, kept durably; a repeated event id counts once", async () => {
    const warnings: string[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => void warnings.push(line) });
    const { call, server } = await control({ streams: technology, log });
    const posted = await call("POST", "/v1/streams/orders/events", { id: "order-1", payload: { id: 17 } });
    expect([posted.status, posted.body.seq, posted.body.duplicate]).toEqual([202, 1, false]);
    const again = await call("POST", "/v1/streams/orders/events", { id: "order-1", payload: { id: 17 } });
    expect([again.status, again.body.duplicate]).toEqual([200, true]);
    await eventually(async () => expect((await call("GET", "/v1/runs?pipeline=on-order&status=succeeded")).body.runs).toHaveLength(1));
    const [run] = (await call("GET", "/v1/runs?pipeline=on-order")).body.runs as {
      params: unknown;
      trigger: { kind: string; id: string };
    }[];
    expect(run).toMatchObject({ params: { orderId: "17" }, trigger: { kind: "event", id: "stream:orders#1" } });
    expect((await call("POST", "/v1/streams/bad name/events", { payload: 1 })).body.error!.code).toBe("STREAM_INVALID");
    expect((await call("POST", "/v1/streams/orders/events", { nothing: 1 })).body.error!.code).toBe("STREAM_INVALID");
    await server.plane.tick();
    expect((await call("GET", "/v1/runs?pipeline=on-order")).body.runs).toHaveLength(1);
    // The test's Redis keeps its data in memory only: the control plane said so when it started.
    const unsafe = warnings.filter((line) => line.includes("does not write an append-only file"));
    expect(unsafe).toHaveLength(technology === "redis" ? 1 : 0);
  });

  it("keeps events across a restart: an event not taken yet starts its run then, one whose run began is not started twice", async () => {
    const { dir, workspace, server, call, streams: choice } = await control({ streams: technology });
    await call("POST", "/v1/streams/orders/events", { id: "order-1", payload: { id: 1 } });
    await eventually(async () => expect((await call("GET", "/v1/runs?pipeline=on-order&status=succeeded")).body.runs).toHaveLength(1));
    await server.close();
    // As if the control plane had died after starting the first event's run but before recording
    // that it took the event; and a second event had been accepted just before it died.
    if (choice.technology === "sqlite") {
      const db = new Database(join(dir, ".strata", "streams.sqlite"));
      db.prepare("delete from stream_offsets").run();
      db.close();
    } else {
      const redis = new Redis(choice.url);
      await redis.del(`${choice.prefix}:stream:{orders}:offsets`);
      redis.disconnect();
    }
    const streams = openStreamStore(choice, join(dir, ".strata"));
    await streams.append("orders", "order-2", { id: 2 }, Date.now());
    await streams.close();

    const restarted = await startControlServer({ projectDir: dir, workspace, port: 0, pollMs: 20 });
    opened.push(restarted);
    await eventually(async () => expect((await workspace.store.listRuns({ pipeline: "on-order", status: "succeeded" })).length).toBe(2));
    await restarted.plane.tick();
    const runs = await workspace.store.listRuns({ pipeline: "on-order" });
    expect(runs.map((r) => [r.trigger.id, r.params]).sort()).toEqual([
      ["stream:orders#1", { orderId: "1" }],
      ["stream:orders#2", { orderId: "2" }],
    ]);
  });
});
