import { join } from "node:path";
import { fastify as Fastify, type FastifyInstance } from "fastify";
import { pino, type Logger } from "pino";
import { systemClock, type Clock } from "../clock/clock.js";
import { StrataError } from "../errors/strata-error.js";
import { loadProject } from "../project/load-project.js";
import type { Workspace } from "../runtime/workspace.js";
import { ControlPlane } from "../schedule/control-plane.js";
import type { Executor, Launch } from "../schedule/executor.js";
import { QueueExecutor } from "../queue/queue-executor.js";
import { recoverAbandonedRuns } from "../schedule/recovery.js";
import { RunLauncher } from "../schedule/run-launcher.js";
import { TriggerQueue } from "../schedule/trigger-queue.js";
import { SqliteWaitingTriggerStore } from "../storage/sqlite/waiting-trigger-store.js";
import { nextBefore, type RunStatus } from "../storage/run-store.js";
import { openStreamStore } from "../storage/stream-stores.js";
import { ApiKeyCheck, keyOf } from "./api-key-check.js";
import { answerErrors } from "./error-replies.js";

export interface ControlServerOptions {
  readonly projectDir: string;
  /** The project's workspace; when left out, the server opens it and closes it on close(). */
  readonly workspace?: Workspace;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly log?: Logger;
  readonly clock?: Clock;
  /** How often datasets and streams are looked at (default 1 s). */
  readonly pollMs?: number;
  /** False: no timers, triggers fire only when `plane.tick()` is called (tests with a TestClock). */
  readonly autoTick?: boolean;
}

export interface ControlServer {
  readonly url: string;
  readonly plane: ControlPlane;
  readonly executor: Executor;
  /** Stops the triggers, lets runs in flight finish (cancelling them after `graceMs`), and closes. */
  close(graceMs?: number): Promise<void>;
}

const RUN_STATUSES: readonly RunStatus[] = ["running", "succeeded", "failed", "cancelled"];

function launchBody(launch: Launch): Record<string, unknown> {
  if (launch.status === "started") return { status: "started", runId: launch.runId, trigger: launch.trigger };
  if (launch.status === "queued") return { status: "queued", position: launch.position, trigger: launch.trigger };
  return { status: "skipped", reason: launch.reason, trigger: launch.trigger };
}

/**
 * `strata server`, the control plane: runs schedules and event triggers, and serves the runs API
 * (start with params, list, show, logs, cancel, retry) and stream events. Every route but the
 * health checks needs an API key with the `run` scope.
 */
export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const project = await loadProject(options.projectDir);
  const workspace = options.workspace ?? project.openWorkspace();
  const clock = options.clock ?? systemClock;
  const log = options.log ?? pino({ level: "silent" });
  const pipelines = new Map([...project.pipelines].map(([name, p]) => [name, p.pipeline]));
  // With a queue, steps go to `strata worker` processes; without, runs execute in this process.
  const queue = project.queue();
  const streams = openStreamStore(project.streams(), project.stateDir);
  const waiting = new TriggerQueue(new SqliteWaitingTriggerStore(join(project.stateDir, "control.sqlite")));
  let executor: Executor;
  try {
    executor = queue
      ? await QueueExecutor.open({ pipelines, workspace, waiting, target: queue, clock, log })
      : new RunLauncher({
          workspace,
          waiting,
          clock,
          log,
          ...(project.config.interpreters ? { interpreters: project.config.interpreters } : {}),
        });
  } catch (error) {
    await waiting.store.close();
    await streams.close();
    throw error;
  }
  // A stream store that may lose accepted events, or is out of reach now, is said at start; the control plane runs on.
  streams.durabilityWarning().then(
    (warning) => warning && log.warn({ streams: streams.location }, warning),
    (error: unknown) => log.warn({ streams: streams.location, err: error }, "the stream store is out of reach for now"),
  );
  const plane = new ControlPlane({
    pipelines,
    workspace,
    streams,
    executor,
    clock,
    log,
    ...(options.pollMs ? { pollMs: options.pollMs } : {}),
  });
  await plane.load();
  await recoverAbandonedRuns(pipelines, workspace, executor, clock.now(), log);
  // Then the triggers that waited when it stopped, behind the runs just resumed.
  await waiting.restore(pipelines, workspace.store);
  await executor.startWaiting();
  const keys = new ApiKeyCheck(workspace.apiKeys, () => clock.now());
  let closing = false;

  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024, return503OnClosing: true });
  answerErrors(app, { log, unexpected: { code: "STORE_FAILED", message: "the control plane failed to answer; see its log" } });
  app.addHook("onRequest", async (request) => {
    if (request.url === "/healthz" || request.url === "/readyz") return;
    if (closing) throw new StrataError("SERVER_STOPPING", "the control plane is shutting down");
    await keys.check(keyOf(request.headers), "run");
  });

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => (closing ? reply.code(503).send({ status: "stopping" }) : { status: "ready" }));

  app.get("/v1/pipelines", async () => ({
    pipelines: await Promise.all(
      [...pipelines.values()].map(async (p) => ({
        name: p.name,
        description: p.description ?? null,
        overlap: p.overlap,
        schedules: p.schedules.map((s) => ({ expression: s.expression, timezone: s.timezone, catchUp: s.catchUp })),
        triggers: p.triggers.map((t) =>
          t.kind === "dataset" ? { kind: t.partitions ? "partition" : "dataset", dataset: t.dataset } : { kind: t.kind, stream: t.stream },
        ),
        running: await executor.inFlight(p.name),
        queued: executor.queued(p.name),
      })),
    ),
  }));

  app.post<{ Params: { name: string } }>("/v1/pipelines/:name/runs", async (request, reply) => {
    const body = (request.body ?? {}) as { params?: unknown };
    if (body.params !== undefined && (typeof body.params !== "object" || body.params === null || Array.isArray(body.params)))
      throw new StrataError("PARAM_INVALID", 'params are a JSON object: {"params": {"name": value}}', { details: { field: "params" } });
    const launch = await plane.trigger(request.params.name, (body.params ?? {}) as Record<string, unknown>);
    if (launch.status === "skipped")
      throw new StrataError("PIPELINE_BUSY", launch.reason, { details: { pipeline: request.params.name, trigger: launch.trigger } });
    return reply.code(launch.status === "started" ? 201 : 202).send(launchBody(launch));
  });

  // Newest first, a page at a time: `next`, when there may be more, is the `before` of the next page.
  app.get<{ Querystring: { pipeline?: string; status?: string; limit?: string; before?: string } }>("/v1/runs", async (request) => {
    const { pipeline, status, limit, before } = request.query;
    if (status !== undefined && !RUN_STATUSES.includes(status as RunStatus))
      throw new StrataError("REQUEST_INVALID", `status must be one of ${RUN_STATUSES.join(", ")}`, { details: { field: "status" } });
    const n = limit === undefined ? 50 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000)
      throw new StrataError("REQUEST_INVALID", "limit must be a whole number from 1 to 1000", { details: { field: "limit" } });
    if (before === "")
      throw new StrataError("REQUEST_INVALID", "before must be a run id (the next of an earlier page)", { details: { field: "before" } });
    const runs = await workspace.store.listRuns({
      limit: n,
      ...(pipeline ? { pipeline } : {}),
      ...(status ? { status: status as RunStatus } : {}),
      ...(before ? { before } : {}),
    });
    return { runs, next: nextBefore(runs, n) ?? null };
  });

  app.get<{ Params: { id: string } }>("/v1/runs/:id", async (request) => {
    const run = await workspace.store.getRun(request.params.id);
    const [steps, attempts] = await Promise.all([workspace.store.getSteps(run.id), workspace.store.getAttempts(run.id)]);
    return { ...run, steps, attempts };
  });

  app.get<{ Params: { id: string }; Querystring: { step?: string } }>("/v1/runs/:id/logs", async (request) => {
    const run = await workspace.store.getRun(request.params.id);
    const lines = await workspace.store.getLogs(run.id, request.query.step ? { step: request.query.step } : {});
    return { runId: run.id, lines: lines.map((l) => JSON.parse(l.line) as unknown) };
  });

  app.post<{ Params: { id: string } }>("/v1/runs/:id/cancel", async (request, reply) => {
    const run = await workspace.store.getRun(request.params.id);
    if (run.status !== "running")
      throw new StrataError("RUN_FINISHED", `run ${run.id} has already ended (${run.status})`, {
        details: { runId: run.id, status: run.status },
      });
    if (!(await executor.cancel(run.id)))
      throw new StrataError("RUN_NOT_HERE", `run ${run.id} is not running in this control plane (${run.owner ?? "owner unknown"})`, {
        details: { runId: run.id, owner: run.owner },
      });
    await executor.finished(run.id);
    return reply.code(202).send({ runId: run.id, status: (await workspace.store.getRun(run.id)).status });
  });

  app.post<{ Params: { id: string } }>("/v1/runs/:id/retry", async (request, reply) => {
    const run = await workspace.store.getRun(request.params.id);
    const launch = await executor.launch({
      pipeline: plane.pipeline(run.pipeline),
      params: {},
      resume: run.id,
      trigger: { kind: "api", id: `retry:${run.id}` },
    });
    if (launch.status === "skipped") throw new StrataError("PIPELINE_BUSY", launch.reason, { details: { pipeline: run.pipeline } });
    return reply.code(launch.status === "started" ? 201 : 202).send({ ...launchBody(launch), retryOf: run.id });
  });

  app.post<{ Params: { name: string } }>("/v1/streams/:name/events", async (request, reply) => {
    const body = request.body as { id?: unknown; payload?: unknown } | null;
    if (!body || typeof body !== "object" || !("payload" in body))
      throw new StrataError("STREAM_INVALID", 'an event is {"payload": ..., "id"?: "<unique id>"}', { details: { field: "payload" } });
    if (body.id !== undefined && (typeof body.id !== "string" || !body.id))
      throw new StrataError("STREAM_INVALID", "an event's id, when given, is a non-empty string", { details: { field: "id" } });
    const { event, duplicate } = await plane.postEvent(request.params.name, body.id, body.payload);
    return reply.code(duplicate ? 200 : 202).send({ stream: event.stream, seq: event.seq, id: event.id, duplicate });
  });

  if (options.autoTick !== false) plane.start();
  await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 8070 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : (options.port ?? 8070);
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    plane,
    executor,
    async close(graceMs = 10_000) {
      closing = true;
      await plane.stop();
      await executor.close(graceMs);
      const cut = setTimeout(() => app.server.closeAllConnections(), 5000);
      await app.close();
      clearTimeout(cut);
      await streams.close();
      await waiting.store.close();
      if (!options.workspace) await workspace.close();
    },
  };
}
