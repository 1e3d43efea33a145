import { setMaxListeners } from "node:events";
import type { LevelWithSilent } from "pino";
import { systemClock, type Clock } from "../clock/clock.js";
import { CancelledError } from "../errors/errors.js";
import { describeError, StrataError } from "../errors/strata-error.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import type { ErrorInfo, RunRecord, StepRecord, StepStatus, StoredOutput, Trigger, ValidationReport } from "../storage/run-store.js";
import { thisProcess } from "./abandoned-runs.js";
import type { RunEvent, RunEventListener } from "./events.js";
import { beginRun } from "./run-begin.js";
import { endRun, skippedStep, type StepFailure } from "./run-end.js";
import { RunLogger } from "./run-logger.js";
import { dropScratch, newRunScope } from "./run-scope.js";
import { schedule } from "./scheduler.js";
import { executeStep } from "./step-executor.js";
import { openWorkspace, type Workspace } from "./workspace.js";

export interface RunOptions {
  /** Raw params (CLI strings or JSON values); validated against the pipeline's schema first. */
  params?: Record<string, unknown>;
  /** Where to record the run and run SQL; an in-memory one when left out (see `RunResult.close`). */
  workspace?: Workspace;
  trigger?: Trigger;
  /** Steps running at once. Default: the pipeline's `concurrency`, else 4. */
  concurrency?: number;
  /**
   * Id (or unique prefix) of an earlier run of this pipeline in the same workspace: rerun its
   * failed steps and what depends on them, reuse the rest. Needs `workspace`.
   */
  resume?: string;
  clock?: Clock;
  /** Source of jitter in [0, 1); inject it to make backoff delays exact in tests. */
  random?: () => number;
  /** Cancels the run: running steps are aborted, the rest skipped, the run recorded as cancelled. */
  signal?: AbortSignal;
  /** Told of each step's progress. A listener that throws is logged; it never breaks the run. */
  onEvent?: RunEventListener;
  logLevel?: LevelWithSilent;
  /** Receives every log line too (e.g. stderr for `--verbose`). */
  logTee?: (line: string) => void;
  /** Program names of `command` steps -> executables; the project's `interpreters`. */
  interpreters?: Readonly<Record<string, string>>;
}

export interface StepSummary {
  readonly name: string;
  readonly status: StepStatus;
  readonly attempts: number;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly durationMs: number | null;
  readonly error: ErrorInfo | null;
  readonly output: StoredOutput | null;
  readonly reusedFrom: string | null;
}

export interface RunResult extends RunRecord {
  readonly durationMs: number;
  readonly steps: readonly StepSummary[];
  /** Output name -> value (tables as handles), for the steps that produced one. */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** Record counts of each ingestion (read = clean + quarantined) and the results of each suite of expectations. */
  readonly validations: readonly ValidationReport[];
  /** Closes the workspace if this run opened it (the in-memory default). */
  close(): Promise<void>;
}

function summarize(step: StepRecord): StepSummary {
  return {
    name: step.step,
    status: step.status,
    attempts: step.attempts,
    startedAt: step.startedAt,
    endedAt: step.endedAt,
    durationMs: step.startedAt !== null && step.endedAt !== null ? step.endedAt - step.startedAt : null,
    error: step.error,
    output: step.output,
    reusedFrom: step.reusedFrom,
  };
}

/**
 * Runs a pipeline: validates params (throwing ParamError before anything is recorded), records
 * the run, runs steps as their inputs become ready (at most `concurrency` at once), retries them
 * per their policy, skips what depends on a failure, then calls the pipeline's hooks.
 */
export async function runPipeline(pipeline: AnyPipeline, options: RunOptions = {}): Promise<RunResult> {
  if (options.resume && !options.workspace) {
    throw new StrataError("RESUME_INVALID", "resume needs the workspace that recorded the earlier run (options.workspace)");
  }
  const ownWorkspace = !options.workspace;
  const workspace = options.workspace ?? openWorkspace(":memory:");
  const clock = options.clock ?? systemClock;
  const { store } = workspace;
  let started: { run: RunRecord; logger: RunLogger } | undefined;
  try {
    const { run, reused } = await beginRun(pipeline, workspace, {
      clock,
      owner: thisProcess,
      ...(options.params ? { params: options.params } : {}),
      ...(options.trigger ? { trigger: options.trigger } : {}),
      ...(options.resume ? { resume: options.resume } : {}),
    });
    const logger = new RunLogger(store, run.id, run.trigger.id, pipeline.name, {
      ...(options.logLevel ? { level: options.logLevel } : {}),
      ...(options.logTee ? { tee: options.logTee } : {}),
    });
    started = { run, logger };
    const emit: RunEventListener = (event: RunEvent) => {
      try {
        options.onEvent?.(event);
      } catch (error) {
        logger.root.warn({ err: error, event: event.type }, "an onEvent listener threw; the run goes on");
      }
    };
    emit({ type: "run-started", run, steps: pipeline.steps.map((s) => s.name) });
    logger.root.info({ params: run.params, resumedFrom: run.resumedFrom }, "run started");

    // Whatever stopped it, a step's signal says the run was cancelled (see runAttempt). Every
    // running step listens to it (an attempt without a time budget has no signal of its own), and
    // stops listening at its end: as many listeners as steps at once is no leak to warn about.
    const cancel = new AbortController();
    setMaxListeners(0, cancel.signal);
    const onCancel = (): void => cancel.abort(new CancelledError());
    options.signal?.addEventListener("abort", onCancel, { once: true });
    if (options.signal?.aborted) onCancel();
    const scope = newRunScope(workspace, run, {
      logger,
      clock,
      signal: cancel.signal,
      emit,
      ...(options.random ? { random: options.random } : {}),
      ...(options.interpreters ? { interpreters: options.interpreters } : {}),
    });

    const status = new Map<string, StepStatus>();
    for (const step of pipeline.steps) {
      const entry = reused.get(step.name);
      if (!entry) continue;
      scope.outputs.set(step.output, entry.value);
      status.set(step.name, "reused");
      emit({ type: "step-reused", step: step.name, from: entry.from });
    }

    const failures: StepFailure[] = [];
    try {
      await schedule(
        pipeline.dag,
        options.concurrency ?? pipeline.concurrency ?? 4,
        status,
        {
          run: async (name) => {
            const step = pipeline.dag.byName.get(name)!;
            const outcome = await executeStep(scope, step);
            if (outcome.ok) scope.outputs.set(step.output, outcome.value);
            else failures.push({ step: name, error: outcome.error });
            return outcome.ok;
          },
          skip: async (name, reason) => {
            await store.saveStep(skippedStep(run.id, name, reason));
            emit({ type: "step-skipped", step: name, reason });
          },
        },
        cancel.signal,
      );
    } finally {
      options.signal?.removeEventListener("abort", onCancel);
    }

    // Input scratch tables go now; a resume never needs them.
    await dropScratch(scope);
    // Ended elsewhere first only if this process was taken for dead (Ctrl-C twice, a settle): as recorded.
    const finished =
      (await endRun(pipeline, run, { store, clock, logger, emit, cancelled: cancel.signal.aborted, failures })) ??
      (await store.getRun(run.id));

    const outputs: Record<string, unknown> = {};
    for (const [key, value] of scope.outputs) if (value !== undefined) outputs[key] = value;
    const steps = (await store.getSteps(run.id)).map(summarize);
    return {
      ...finished,
      durationMs: (finished.endedAt ?? finished.startedAt) - finished.startedAt,
      steps,
      outputs,
      validations: await store.getValidations(run.id),
      close: () => (ownWorkspace ? workspace.close() : Promise.resolve()),
    };
  } catch (thrown) {
    // Strata's own machinery failed after the run was recorded: never leave it "running", and
    // send its failure alerts (when the store cannot record the end either, the run is settled as
    // abandoned once this process has gone, and a control plane sends them).
    if (started) {
      const { code, message } = describeError(thrown);
      started.logger.root.error({ err: thrown }, "run aborted by an internal error");
      await endRun(pipeline, started.run, {
        store,
        clock,
        logger: started.logger,
        emit: () => undefined,
        cancelled: false,
        failures: [],
        aborted: { code, message },
      }).catch(() => undefined);
      await started.logger.close().catch(() => undefined);
    }
    if (ownWorkspace) await workspace.close();
    throw thrown;
  } finally {
    await started?.logger.close().catch(() => undefined);
  }
}
