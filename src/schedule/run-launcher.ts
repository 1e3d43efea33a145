import type { Logger } from "pino";
import type { Clock } from "../clock/clock.js";
import { StrataError } from "../errors/strata-error.js";
import { validateParams } from "../pipeline/params.js";
import { runPipeline, type RunResult } from "../runtime/run-pipeline.js";
import type { Workspace } from "../runtime/workspace.js";
import type { Executor, Launch, LaunchRequest } from "./executor.js";
import type { TriggerQueue } from "./trigger-queue.js";

export interface RunLauncherOptions {
  readonly workspace: Workspace;
  readonly clock: Clock;
  readonly log: Logger;
  readonly interpreters?: Readonly<Record<string, string>>;
  /** Triggers waiting for their pipeline's run in flight (overlap: queue). */
  readonly waiting: TriggerQueue;
}

interface InFlight {
  readonly pipeline: string;
  readonly cancel: AbortController;
  readonly done: Promise<RunResult | undefined>;
}

/**
 * The local executor of the control plane: starts runs in this process, applies each pipeline's
 * overlap policy (allow, skip, queue), and can cancel what it started. Queued triggers wait in
 * order (in a store: they survive a restart) and start as soon as the pipeline's run in flight ends.
 */
export class RunLauncher implements Executor {
  readonly #options: RunLauncherOptions;
  readonly #running = new Map<string, InFlight>();
  #closed = false;

  constructor(options: RunLauncherOptions) {
    this.#options = options;
  }

  /** Runs of `pipeline` (all when left out) in flight in this process. */
  inFlight(pipeline?: string): Promise<string[]> {
    return Promise.resolve(this.#ids(pipeline));
  }

  #ids(pipeline?: string): string[] {
    return [...this.#running].filter(([, r]) => pipeline === undefined || r.pipeline === pipeline).map(([id]) => id);
  }

  /** Queued triggers per pipeline. */
  queued(pipeline: string): number {
    return this.#options.waiting.size(pipeline);
  }

  async launch(request: LaunchRequest): Promise<Launch> {
    if (this.#closed) throw new StrataError("SERVER_STOPPING", "the control plane is shutting down");
    if (!request.resume) validateParams(request.pipeline, request.params);
    const { pipeline, trigger } = request;
    const busy = this.#ids(pipeline.name).length > 0 || this.queued(pipeline.name) > 0;
    if (busy && pipeline.overlap === "skip") {
      this.#options.log.info({ pipeline: pipeline.name, trigger }, "trigger skipped: a run is in flight (overlap: skip)");
      return { status: "skipped", reason: `a run of "${pipeline.name}" is in flight (overlap: skip)`, trigger };
    }
    if (busy && pipeline.overlap === "queue") {
      const position = await this.#options.waiting.push(request);
      this.#options.log.info({ pipeline: pipeline.name, trigger, position }, "trigger queued (overlap: queue)");
      return { status: "queued", position, trigger };
    }
    return { status: "started", runId: await this.#start(request), trigger };
  }

  /** Cancels a run this process started; false when it is not running here. */
  cancel(runId: string): Promise<boolean> {
    const run = this.#running.get(runId);
    run?.cancel.abort(new StrataError("RUN_CANCELLED", "the run was cancelled"));
    return Promise.resolve(!!run);
  }

  /** Resolves once a run started here has ended (at once when it is not one of them). */
  async finished(runId: string): Promise<void> {
    await this.#running.get(runId)?.done;
  }

  startWaiting(): Promise<void> {
    for (const pipeline of this.#options.waiting.pipelines()) if (!this.#ids(pipeline).length) this.#next(pipeline);
    return Promise.resolve();
  }

  /** Stops taking triggers (waiting ones stay in their store), cancels what is still running after `graceMs`, and waits. */
  async close(graceMs = 10_000): Promise<void> {
    this.#closed = true;
    const all = [...this.#running.values()];
    const timer = setTimeout(
      () => all.forEach((r) => r.cancel.abort(new StrataError("RUN_CANCELLED", "the control plane stopped"))),
      graceMs,
    );
    await Promise.all(all.map((r) => r.done));
    clearTimeout(timer);
  }

  /** Starts the run and resolves with its id as soon as it is recorded. */
  #start(request: LaunchRequest): Promise<string> {
    const { workspace, clock, log, interpreters } = this.#options;
    const cancel = new AbortController();
    return new Promise<string>((resolve, reject) => {
      let runId: string | undefined;
      const done = runPipeline(request.pipeline, {
        params: request.params,
        workspace,
        clock,
        trigger: request.trigger,
        signal: cancel.signal,
        ...(request.resume ? { resume: request.resume } : {}),
        ...(interpreters ? { interpreters } : {}),
        onEvent: (event) => {
          if (event.type !== "run-started") return;
          runId = event.run.id;
          this.#running.set(runId, { pipeline: request.pipeline.name, cancel, done: done.catch(() => undefined) });
          resolve(runId);
        },
      }).then(
        (result) => {
          log.info({ runId: result.id, pipeline: result.pipeline, status: result.status, trigger: result.trigger }, "run ended");
          return result;
        },
        (error: unknown) => {
          // Before the run was recorded (a bad param, a resume refused): the trigger's answer.
          if (runId === undefined) reject(error);
          else log.error({ err: error, runId }, "run ended with an internal error");
          return undefined;
        },
      );
      void done.finally(() => {
        if (runId !== undefined) this.#running.delete(runId);
        this.#next(request.pipeline.name);
      });
    });
  }

  #next(pipeline: string): void {
    if (this.#closed) return; // what waits stays in the store, for the next start
    const next = this.#options.waiting.take(pipeline);
    if (!next) return;
    this.#start(next.request)
      .then(() => this.#options.waiting.started(next))
      .catch((error: unknown) => this.#options.log.error({ err: error, pipeline }, "a queued trigger could not start"));
  }
}
