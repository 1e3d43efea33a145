import type { Clock } from "../clock/clock.js";
import { describeError } from "../errors/strata-error.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import type { Hook } from "../pipeline/hooks.js";
import type { AttemptEnd, ErrorInfo, RunRecord, RunStatus, RunStore, StepRecord } from "../storage/run-store.js";
import type { RunEventListener } from "./events.js";
import { hookPayload } from "./hook-payload.js";
import { deliverWithRetry, deliveryBudgetMs } from "./hook-retry.js";
import { describeHook } from "./hook-runner.js";
import type { RunLogger } from "./run-logger.js";

export interface StepFailure {
  readonly step: string;
  readonly error: ErrorInfo;
}

/** The failures among a run's step records (failed or cancelled, with an error), in the pipeline's step order. */
export function stepFailures(pipeline: AnyPipeline, records: readonly StepRecord[]): StepFailure[] {
  const failures = records
    .filter(
      (s): s is StepRecord & { error: NonNullable<StepRecord["error"]> } =>
        (s.status === "failed" || s.status === "cancelled") && !!s.error,
    )
    .map((s) => ({ step: s.step, error: s.error }));
  return inStepOrder(pipeline, failures);
}

// The pipeline's step order, not the order steps happened to end: the run's error then reads the same every time.
function inStepOrder(pipeline: AnyPipeline, failures: readonly StepFailure[]): StepFailure[] {
  const position = new Map(pipeline.steps.map((s, i) => [s.name, i]));
  return [...failures].sort((a, b) => (position.get(a.step) ?? 0) - (position.get(b.step) ?? 0));
}

/** The hooks a run's end calls: the pipeline's onSuccess or onFailure (the project's, when loaded from one); none for a cancel. */
export function hooksFor(pipeline: AnyPipeline, status: RunStatus): readonly Hook[] {
  return status === "succeeded" ? pipeline.onSuccess : status === "failed" ? (pipeline.onFailure ?? []) : [];
}

function runError(status: RunStatus, failures: readonly StepFailure[]): ErrorInfo | null {
  if (status === "cancelled") return { code: "RUN_CANCELLED", message: "the run was cancelled" };
  const first = failures[0];
  if (!first) return null;
  const more = failures.length > 1 ? ` (${failures.length} steps failed: ${failures.map((f) => f.step).join(", ")})` : "";
  return { code: first.error.code, message: `step "${first.step}" failed: ${first.error.message}${more}` };
}

export interface EndRunOptions {
  readonly store: RunStore;
  readonly clock: Clock;
  readonly logger: RunLogger;
  readonly emit: RunEventListener;
  readonly cancelled: boolean;
  readonly failures: readonly StepFailure[];
  /** Strata's own failure stopped the run (not a step's): it fails with this error. */
  readonly aborted?: ErrorInfo;
  /** The end of the attempt that ended the run's last step, not written yet: written with the run's end. */
  readonly attempt?: AttemptEnd;
}

/**
 * Records how a run ended (cancelled, failed with its first failing step in pipeline order, or
 * succeeded) and calls the pipeline's hooks. Whoever saw the last step end calls it: the run's own
 * process on the local executor, the worker that finished the last step on the queue. A run ends
 * once: when another caller ended it first, nothing is logged or called, and it returns undefined.
 */
export async function endRun(pipeline: AnyPipeline, run: RunRecord, options: EndRunOptions): Promise<RunRecord | undefined> {
  const { store, clock, logger, emit } = options;
  const endedAt = clock.now();
  const status: RunStatus = options.aborted ? "failed" : options.cancelled ? "cancelled" : options.failures.length ? "failed" : "succeeded";
  const failures = inStepOrder(pipeline, options.failures);
  const error = options.aborted ?? runError(status, failures);
  const hooks = hooksFor(pipeline, status);
  // Recorded as due once this process has had its time to deliver them: should it die first, a
  // control plane's sweep delivers them (schedule/overdue-hooks.ts).
  const hooksDueAt = hooks.length ? endedAt + deliveryBudgetMs(hooks) : null;
  // The lines logged so far, the last attempt's end (when the caller kept it) and the end with its
  // "run finished", which only the call that ends the run writes, go in one turn: on a store that
  // batches writes, one statement. The lines logged before "run finished" go first.
  const flushed = logger.flush();
  const finishedLine = logger.captured(() => logger.root.info({ status, durationMs: endedAt - run.startedAt }, "run finished"));
  const finishing = store.finishRun(run.id, status, endedAt, error, {
    hooksDueAt,
    lines: finishedLine,
    ...(options.attempt ? { attempt: options.attempt } : {}),
  });
  // Lines that could not be written must not hide the run's end once it is recorded.
  const kept = flushed.catch((e: unknown) => logger.root.warn({ err: e }, "the run's lines logged before its end could not be written"));
  if (!(await Promise.all([finishing, kept]))[0]) return undefined;
  const finished: RunRecord = { ...run, status, endedAt, error };
  await runHooks(hooks, finished, failures[0]?.step ?? null, logger, emit);
  if (hooksDueAt !== null) await hooksDelivered(store, run.id, hooksDueAt, logger);
  await logger.flush();
  emit({ type: "run-finished", run: finished });
  return finished;
}

/** Records a run's hooks as delivered (tried to the end); a failure to say so only means a sweep may deliver them again. */
export async function hooksDelivered(store: RunStore, runId: string, dueAt: number, logger: RunLogger): Promise<void> {
  try {
    if (!(await store.moveHooks(runId, dueAt, null)))
      logger.root.warn("a control plane took these hooks over while they were being delivered (past their budget): they may go out twice");
  } catch (error) {
    logger.root.warn({ err: error }, "the hooks could not be recorded as delivered: a control plane may deliver them again");
  }
}

/** Delivers a run's hooks, each with its retries; one that fails is logged and emitted, never thrown. */
export async function runHooks(
  hooks: readonly Hook[],
  run: RunRecord,
  failedStep: string | null,
  logger: RunLogger,
  emit: RunEventListener,
): Promise<void> {
  if (!hooks.length) return;
  const payload = hookPayload(run, failedStep);
  await Promise.all(
    hooks.map(async (hook) => {
      const described = describeHook(hook);
      const outcome = await deliverWithRetry(hook, payload, {
        onRetry: ({ attempt, delayMs, error }) =>
          logger.root.info({ hook: described, attempt, delayMs, reason: describeError(error).message }, "hook attempt failed, retrying"),
      });
      if (outcome.ok) {
        logger.root.info({ hook: described, attempts: outcome.attempts }, "hook delivered");
        return;
      }
      // A hook that fails is logged and reported; it never changes the run's own result.
      const info = describeError(outcome.error);
      logger.root.warn({ hook: described, code: "HOOK_FAILED", attempts: outcome.attempts, err: outcome.error }, "hook failed");
      emit({ type: "hook-failed", hook: described, error: { code: "HOOK_FAILED", message: info.message } });
    }),
  );
}

/** The record of a step that will not run, and why (an upstream failure, a cancel). */
export function skippedStep(runId: string, step: string, reason: string): StepRecord {
  return {
    runId,
    step,
    status: "skipped",
    attempts: 0,
    startedAt: null,
    endedAt: null,
    error: { code: "STEP_SKIPPED", message: reason },
    output: null,
    reusedFrom: null,
  };
}
