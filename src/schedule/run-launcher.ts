import type { Logger } from "pino";
import type { Clock } from "../clock/clock.js";
import { StrataError } from "../errors/strata-error.js";
import { validateParams } from "../pipeline/params.js";
import { runPipeline, type RunResult } from "../runtime/run-pipeline.js";
import type { Workspace } from "../runtime/workspace.js";
import type { Executor, Launch, LaunchRequest } from "./executor.js";

export interface RunLauncherOptions {
  readonly workspace: Workspace;
  readonly clock: Clock;
  readonly log: Logger;
  readonly interpreters?: Readonly<Record<string, string>>;
}

interface InFlight {
  readonly pipeline: string;
  readonly cancel: AbortController;
  readonly done: Promise<RunResult | undefined>;
}

/**
 * The local executor of the control plane: starts runs in this process, applies each pipeline's
 * overlap policy (allow, skip, queue), and can cancel what it started. Queued triggers wait in
 * memory, in order, and start as soon as the pipeline's run in flight ends.
 */
export class RunLauncher implements Executor {
  readonly #options: RunLauncherOptions;
  readonly #running = new Map<string, InFlight>();
  readonly #queues = new Map<string, LaunchRequest[]>();
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
    return this.#queues.get(pipeline)?.length ?? 0;
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
      const queue = this.#queues.get(pipeline.name) ?? [];
      queue.push(request);
      this.#queues.set(pipeline.name, queue);
      this.#options.log.info({ pipeline: pipeline.name, trigger, position: queue.length }, "trigger queued (overlap: queue)");
      return { status: "queued", position: queue.length, trigger };
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

  /** Stops taking triggers, drops the queues, cancels what is still running after `graceMs`, and waits. */
  async close(graceMs = 10_000): Promise<void> {
    this.#closed = true;
    this.#queues.clear();
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
    const queue = this.#queues.get(pipeline);
    const next = queue?.shift();
    if (!queue?.length) this.#queues.delete(pipeline);
    if (!next || this.#closed) return;
    this.#start(next).catch((error: unknown) => this.#options.log.error({ err: error, pipeline }, "a queued trigger could not start"));
  }
}
