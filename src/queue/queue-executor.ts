import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Clock } from "../clock/clock.js";
import { StrataError } from "../errors/strata-error.js";
import { validateParams } from "../pipeline/params.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import type { QueueTarget } from "../project/queue-config.js";
import { beginRun } from "../runtime/run-begin.js";
import type { Workspace } from "../runtime/workspace.js";
import type { Executor, Launch, LaunchRequest } from "../schedule/executor.js";
import type { TriggerQueue } from "../schedule/trigger-queue.js";
import { LostRuns } from "./lost-runs.js";
import { advanceRun, launchRecords, type ProgressDeps } from "./run-progress.js";
import { queueConnection, queueUnavailable, RunMarks, StepQueue } from "./step-queue.js";

export interface QueueExecutorOptions {
  readonly pipelines: ReadonlyMap<string, AnyPipeline>;
  readonly workspace: Workspace;
  /** Triggers waiting for their pipeline's run in flight (overlap: queue). */
  readonly waiting: TriggerQueue;
  readonly target: QueueTarget;
  readonly clock: Clock;
  readonly log: Logger;
  /** Running runs each lost-run check looks at (see LostRuns); default 1000. */
  readonly lostRunsPage?: number;
}

/** How often `finished` looks at the run record too, in case an announcement was missed. */
const FINISHED_POLL_MS = 1000;
/** How often queued triggers are looked at besides the end announcements. */
const SWEEP_MS = 2000;
/** How often runs with no job on the queue are looked for (see LostRuns). */
const LOST_CHECK_MS = 30_000;

/**
 * The control plane's executor when the project has a queue: a run is recorded here and its
 * first steps enqueued; `strata worker` processes take each step, and the worker that ends the
 * last step ends the run. Runs are owned by the queue (`queue:<prefix>`), not by this process: they
 * go on while the control plane restarts. Overlap is read from the metadata store (runs still
 * running), so it holds across control planes; queued triggers wait in this control plane's store.
 */
export class QueueExecutor implements Executor {
  readonly #o: QueueExecutorOptions;
  readonly #deps: ProgressDeps;
  readonly #marks: RunMarks;
  readonly #subscriber: Redis;
  readonly #waiters = new Map<string, (() => void)[]>();
  readonly owner: string;
  #closed = false;
  #sweeper: NodeJS.Timeout | undefined;
  #lostChecker: NodeJS.Timeout | undefined;
  readonly #lost: LostRuns;
  readonly #starting = new Set<string>();

  private constructor(options: QueueExecutorOptions, connection: Redis, subscriber: Redis) {
    this.#o = options;
    this.#marks = new RunMarks(connection, options.target.prefix);
    this.#deps = {
      workspace: options.workspace,
      queue: new StepQueue(options.target, connection),
      marks: this.#marks,
      clock: options.clock,
    };
    this.#subscriber = subscriber;
    this.owner = `queue:${options.target.prefix}`;
    this.#lost = new LostRuns({
      deps: this.#deps,
      pipelines: options.pipelines,
      owner: this.owner,
      log: options.log,
      ...(options.lostRunsPage ? { batch: options.lostRunsPage } : {}),
    });
  }

  /** Connects to the queue; QUEUE_UNAVAILABLE naming host:port when it cannot. */
  static async open(options: QueueExecutorOptions): Promise<QueueExecutor> {
    const connection = await queueConnection(options.target, "producer", true);
    const subscriber = await queueConnection(options.target, "worker").catch((error: unknown) => {
      connection.disconnect();
      throw error;
    });
    const executor = new QueueExecutor(options, connection, subscriber);
    await subscriber.subscribe(executor.#marks.endedChannel);
    subscriber.on("message", (_channel: string, message: string) => executor.#ended(message));
    executor.#sweeper = setInterval(() => {
      if (options.waiting.pipelines().length)
        executor.#sweep().catch((error: unknown) => options.log.warn({ err: error }, "queued triggers could not be looked at"));
    }, SWEEP_MS);
    executor.#sweeper.unref();
    executor.#lostChecker = setInterval(() => {
      executor.moveLostRuns().catch((error: unknown) => options.log.warn({ err: error }, "runs with no job could not be looked for"));
    }, LOST_CHECK_MS);
    executor.#lostChecker.unref();
    return executor;
  }

  async inFlight(pipeline?: string): Promise<string[]> {
    const runs = await this.#o.workspace.store.listRuns({ status: "running", limit: 1000, ...(pipeline ? { pipeline } : {}) });
    return runs.filter((r) => r.owner === this.owner).map((r) => r.id);
  }

  queued(pipeline: string): number {
    return this.#o.waiting.size(pipeline);
  }

  async launch(request: LaunchRequest): Promise<Launch> {
    if (this.#closed) throw new StrataError("SERVER_STOPPING", "the control plane is shutting down");
    const { pipeline, trigger } = request;
    if (!request.resume) validateParams(pipeline, request.params);
    if (pipeline.overlap !== "allow") {
      const busy = this.queued(pipeline.name) > 0 || (await this.inFlight(pipeline.name)).length > 0;
      if (busy && pipeline.overlap === "skip")
        return { status: "skipped", reason: `a run of "${pipeline.name}" is in flight (overlap: skip)`, trigger };
      if (busy) {
        return { status: "queued", position: await this.#o.waiting.push(request), trigger };
      }
    }
    return { status: "started", runId: await this.#start(request), trigger };
  }

  async cancel(runId: string): Promise<boolean> {
    const run = await this.#o.workspace.store.getRun(runId);
    if (run.owner !== this.owner || run.status !== "running") return false;
    await this.#call(() => this.#marks.cancel(run.id));
    // Steps not taken yet are skipped now; with none running, the run ends here.
    await this.#call(() => advanceRun(this.#deps, this.#pipelineOf(run.pipeline, run.id), run));
    return true;
  }

  async finished(runId: string): Promise<void> {
    const ended = new Promise<void>((resolve) => {
      const list = this.#waiters.get(runId) ?? [];
      list.push(resolve);
      this.#waiters.set(runId, list);
    });
    try {
      for (;;) {
        const run = await this.#o.workspace.store.getRun(runId);
        if (run.status !== "running") return;
        const timer = new Promise<void>((resolve) => setTimeout(resolve, FINISHED_POLL_MS).unref());
        await Promise.race([ended, timer]);
      }
    } finally {
      this.#waiters.delete(runId);
    }
  }

  /** Stops taking triggers; runs in flight are the workers' and go on. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    clearInterval(this.#lostChecker);
    await this.#disconnect();
  }

  /** Moves on the runs of this queue that no job moves on any more (LostRuns); resolves with their ids. */
  moveLostRuns(): Promise<string[]> {
    return this.#call(() => this.#lost.check());
  }

  #pipelineOf(name: string, runId: string): AnyPipeline {
    const pipeline = this.#o.pipelines.get(name);
    if (!pipeline)
      throw new StrataError("RUN_NOT_HERE", `run ${runId} is of pipeline "${name}", which this control plane does not have`, {
        details: { runId },
      });
    return pipeline;
  }

  async #start(request: LaunchRequest): Promise<string> {
    const { workspace, clock, log } = this.#o;
    const { run, reused } = await beginRun(request.pipeline, workspace, {
      clock,
      owner: this.owner,
      params: request.params,
      trigger: request.trigger,
      ...(request.resume ? { resume: request.resume } : {}),
    });
    try {
      await advanceRun(this.#deps, request.pipeline, run, {
        known: launchRecords(request.pipeline, run.id, reused),
        cancelled: false,
      });
    } catch (error) {
      // Recorded but not enqueued (Redis failed under the pipeline that carried its jobs): fail it now
      // rather than leave it running, its hooks due at the next sweep. A failure to say so must not hide why.
      const failure = error instanceof StrataError ? error : queueUnavailable(this.#o.target, error);
      const now = clock.now();
      const ended = await workspace.store
        .finishRun(run.id, "failed", now, { code: failure.code, message: failure.message }, { hooksDueAt: now })
        .catch(() => false);
      const steps = request.pipeline.steps.map((s) => s.name); // some may be in packs that did get on the queue
      if (ended) await this.#marks.announceEnd(run.id, run.pipeline, "failed", steps).catch(() => undefined);
      throw failure;
    }
    log.info({ runId: run.id, pipeline: run.pipeline, trigger: run.trigger }, "run enqueued");
    return run.id;
  }

  #ended(message: string): void {
    for (const ended of RunMarks.endsIn(message)) {
      for (const resolve of this.#waiters.get(ended.runId) ?? []) resolve();
      this.#waiters.delete(ended.runId);
      this.#startNext(ended.pipeline);
    }
  }

  #startNext(pipeline: string): void {
    if (this.#closed) return; // what waits stays in the store, for the next start
    const next = this.#o.waiting.take(pipeline);
    if (!next) return;
    this.#starting.add(pipeline);
    this.#start(next.request)
      .then(() => this.#o.waiting.started(next))
      .catch((error: unknown) => this.#o.log.error({ err: error, pipeline }, "a queued trigger could not start"))
      .finally(() => this.#starting.delete(pipeline));
  }

  /** Announcements can be lost (pub/sub during a reconnect): a queue whose pipeline has nothing in flight moves on anyway. */
  startWaiting(): Promise<void> {
    return this.#sweep();
  }

  async #sweep(): Promise<void> {
    for (const pipeline of this.#o.waiting.pipelines()) {
      if (this.#starting.has(pipeline)) continue; // its run is being recorded: not in flight yet
      if ((await this.inFlight(pipeline)).length === 0 && !this.#starting.has(pipeline)) this.#startNext(pipeline);
    }
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof StrataError) throw error;
      throw queueUnavailable(this.#o.target, error);
    }
  }

  async #disconnect(): Promise<void> {
    await this.#deps.queue.close().catch(() => undefined);
    await Promise.all([this.#marks.redis, this.#subscriber].map((r) => r.quit().catch(() => undefined)));
  }
}
