import type { Clock } from "../clock/clock.js";
import { describeError } from "../errors/strata-error.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import type { ErrorInfo, RunRecord, RunStatus, RunStore, StepRecord } from "../storage/run-store.js";
import type { RunEventListener } from "./events.js";
import { hookPayload } from "./hook-payload.js";
import { deliverWithRetry } from "./hook-retry.js";
import { describeHook } from "./hook-runner.js";
import type { RunLogger } from "./run-logger.js";

export interface StepFailure {
  readonly step: string;
  readonly error: ErrorInfo;
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
  const status: RunStatus = options.cancelled ? "cancelled" : options.failures.length ? "failed" : "succeeded";
  // Failures in the pipeline's step order, not in the order they happened to end: the run's
  // error then reads the same every time.
  const position = new Map(pipeline.steps.map((s, i) => [s.name, i]));
  const failures = [...options.failures].sort((a, b) => (position.get(a.step) ?? 0) - (position.get(b.step) ?? 0));
  const error = runError(status, failures);
  if (!(await store.finishRun(run.id, status, endedAt, error))) return undefined;
  logger.root.info({ status, durationMs: endedAt - run.startedAt }, "run finished");
  const finished: RunRecord = { ...run, status, endedAt, error };
  await runHooks(pipeline, finished, failures[0]?.step ?? null, logger, emit);
  await logger.flush();
  emit({ type: "run-finished", run: finished });
  return finished;
}

async function runHooks(
  pipeline: AnyPipeline,
  run: RunRecord,
  failedStep: string | null,
  logger: RunLogger,
  emit: RunEventListener,
): Promise<void> {
  const hooks = run.status === "succeeded" ? pipeline.onSuccess : run.status === "failed" ? pipeline.onFailure : [];
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
