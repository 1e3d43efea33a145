import type { LevelWithSilent } from "pino";
import { systemClock, type Clock } from "../clock/clock.js";
import { describeError, StrataError } from "../errors/strata-error.js";
import { downstreamOf } from "../pipeline/dag.js";
import { validateParams } from "../pipeline/params.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import type {
  ErrorInfo,
  RunRecord,
  RunStatus,
  StepRecord,
  StepStatus,
  StoredOutput,
  Trigger,
  ValidationReport,
} from "../storage/run-store.js";
import { settleAbandoned, thisProcess } from "./abandoned-runs.js";
import type { RunEvent, RunEventListener } from "./events.js";
import { hookPayload } from "./hook-payload.js";
import { deliverWithRetry } from "./hook-retry.js";
import { describeHook } from "./hook-runner.js";
import { newId } from "./ids.js";
import { decodeOutput } from "./output-codec.js";
import { RunLogger } from "./run-logger.js";
import { schedule } from "./scheduler.js";
import { executeStep, type RunScope } from "./step-executor.js";
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

interface ResumePlan {
  readonly from: RunRecord;
  readonly reuse: Map<string, { value: unknown; stored: StoredOutput | null }>;
}

async function planResume(pipeline: AnyPipeline, workspace: Workspace, runId: string, now: number): Promise<ResumePlan> {
  const from = await settleAbandoned(workspace, await workspace.store.getRun(runId), now);
  if (from.pipeline !== pipeline.name) {
    throw new StrataError("RESUME_INVALID", `run ${from.id} is a run of "${from.pipeline}", not of "${pipeline.name}"`, {
      details: { runId: from.id },
    });
  }
  if (from.status === "running") {
    throw new StrataError(
      "RESUME_INVALID",
      `run ${from.id} is still running (${from.owner ?? "owner unknown"}); wait for it or cancel it before resuming`,
      {
        details: { runId: from.id },
      },
    );
  }
  const records = new Map((await workspace.store.getSteps(from.id)).map((s) => [s.step, s]));
  const done = (name: string): boolean => {
    const record = records.get(name);
    return !!record?.output && (record.status === "succeeded" || record.status === "reused");
  };
  // Everything downstream of a step that did not finish runs again; only the rest is decoded.
  const redo = downstreamOf(
    pipeline.dag,
    pipeline.steps.filter((s) => !done(s.name)).map((s) => s.name),
  );
  const reuse = new Map<string, { value: unknown; stored: StoredOutput | null }>();
  for (const step of pipeline.steps) {
    if (redo.has(step.name)) continue;
    const stored = records.get(step.name)!.output!;
    const decoded = await decodeOutput(stored, () => workspace.engine());
    if (decoded) reuse.set(step.name, { ...decoded, stored });
  }
  // A step whose output cannot be reused (opaque, or its table is gone) reruns with its dependents.
  const lost = pipeline.steps.filter((s) => !redo.has(s.name) && !reuse.has(s.name)).map((s) => s.name);
  for (const name of downstreamOf(pipeline.dag, lost)) reuse.delete(name);
  return { from, reuse };
}

function resumeParams(pipeline: AnyPipeline, options: RunOptions, from: RunRecord): Record<string, unknown> {
  const params = validateParams(pipeline, from.inputParams);
  if (options.params && Object.keys(options.params).length) {
    if (JSON.stringify(validateParams(pipeline, options.params)) !== JSON.stringify(params)) {
      throw new StrataError("RESUME_INVALID", `a resume reuses the params of run ${from.id}; start a new run to change them`, {
        details: { runId: from.id },
      });
    }
  }
  return params;
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

function runError(status: RunStatus, failures: readonly { step: string; error: ErrorInfo }[]): ErrorInfo | null {
  if (status === "cancelled") return { code: "RUN_CANCELLED", message: "the run was cancelled" };
  const first = failures[0];
  if (!first) return null;
  const more = failures.length > 1 ? ` (${failures.length} steps failed: ${failures.map((f) => f.step).join(", ")})` : "";
  return { code: first.error.code, message: `step "${first.step}" failed: ${first.error.message}${more}` };
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
    const resume = options.resume ? await planResume(pipeline, workspace, options.resume, clock.now()) : undefined;
    const params = resume ? resumeParams(pipeline, options, resume.from) : validateParams(pipeline, options.params ?? {});
    const startedAt = clock.now();
    const runId = newId("r", startedAt);
    const trigger = options.trigger ?? { kind: "manual", id: newId("t", startedAt) };
    const run: RunRecord = {
      id: runId,
      pipeline: pipeline.name,
      status: "running",
      trigger,
      params,
      inputParams: resume ? resume.from.inputParams : (options.params ?? {}),
      owner: thisProcess,
      resumedFrom: resume?.from.id ?? null,
      startedAt,
      endedAt: null,
      error: null,
    };
    const logger = new RunLogger(store, runId, trigger.id, pipeline.name, {
      ...(options.logLevel ? { level: options.logLevel } : {}),
      ...(options.logTee ? { tee: options.logTee } : {}),
    });
    await store.createRun(
      run,
      pipeline.steps.map((s) => s.name),
    );
    started = { run, logger };
    const emit: RunEventListener = (event: RunEvent) => {
      try {
        options.onEvent?.(event);
      } catch (error) {
        logger.root.warn({ err: error, event: event.type }, "an onEvent listener threw; the run goes on");
      }
    };
    emit({ type: "run-started", run, steps: pipeline.steps.map((s) => s.name) });
    logger.root.info({ params, resumedFrom: run.resumedFrom }, "run started");

    const cancel = new AbortController();
    const onCancel = (): void => cancel.abort();
    options.signal?.addEventListener("abort", onCancel, { once: true });
    if (options.signal?.aborted) cancel.abort();
    const scope: RunScope = {
      runId,
      triggerId: trigger.id,
      pipeline: pipeline.name,
      params,
      store,
      catalog: workspace.catalog,
      models: workspace.models,
      storages: workspace.storages,
      engine: () => workspace.engine(),
      quarantine: () => workspace.quarantine(),
      logger,
      clock,
      random: options.random ?? Math.random,
      signal: cancel.signal,
      emit,
      outputs: new Map(),
      loadedTables: new Map(),
      datasetReads: new Map(),
      writtenVersions: new Map(),
      scratch: [],
      interpreters: { ...(process.env.STRATA_PYTHON ? { python: process.env.STRATA_PYTHON } : {}), ...options.interpreters },
    };

    const status = new Map<string, StepStatus>();
    for (const step of pipeline.steps) {
      const reused = resume?.reuse.get(step.name);
      if (!reused) continue;
      const from = resume!.from.id;
      scope.outputs.set(step.output, reused.value);
      status.set(step.name, "reused");
      await store.saveStep({
        runId,
        step: step.name,
        status: "reused",
        attempts: 0,
        startedAt: null,
        endedAt: null,
        error: null,
        output: reused.stored,
        reusedFrom: from,
      });
      emit({ type: "step-reused", step: step.name, from });
    }

    const failures: { step: string; error: ErrorInfo }[] = [];
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
            await store.saveStep({
              runId,
              step: name,
              status: "skipped",
              attempts: 0,
              startedAt: null,
              endedAt: null,
              error: { code: "STEP_SKIPPED", message: reason },
              output: null,
              reusedFrom: null,
            });
            emit({ type: "step-skipped", step: name, reason });
          },
        },
        cancel.signal,
      );
    } finally {
      options.signal?.removeEventListener("abort", onCancel);
    }

    // Input scratch tables go now; a failure to drop one costs disk, never the run's result.
    for (const { engine, table } of scope.scratch) await engine.drop(table).catch(() => undefined);
    const endedAt = clock.now();
    const finalStatus: RunStatus = cancel.signal.aborted ? "cancelled" : failures.length ? "failed" : "succeeded";
    // Failures in the pipeline's step order, not in the order they happened to end: the run's
    // error then reads the same every time.
    const position = new Map(pipeline.steps.map((s, i) => [s.name, i]));
    failures.sort((a, b) => (position.get(a.step) ?? 0) - (position.get(b.step) ?? 0));
    const error = runError(finalStatus, failures);
    logger.root.info({ status: finalStatus, durationMs: endedAt - startedAt }, "run finished");
    await store.finishRun(runId, finalStatus, endedAt, error);
    const finished: RunRecord = { ...run, status: finalStatus, endedAt, error };
    await runHooks(pipeline, finished, failures[0]?.step ?? null, logger, emit);
    await logger.flush();
    emit({ type: "run-finished", run: finished });

    const outputs: Record<string, unknown> = {};
    for (const [key, value] of scope.outputs) if (value !== undefined) outputs[key] = value;
    const steps = (await store.getSteps(runId)).map(summarize);
    return {
      ...finished,
      durationMs: endedAt - startedAt,
      steps,
      outputs,
      validations: await store.getValidations(runId),
      close: () => (ownWorkspace ? workspace.close() : Promise.resolve()),
    };
  } catch (thrown) {
    // Strata's own machinery failed after the run was recorded: never leave it "running".
    if (started) {
      const { code, message } = describeError(thrown);
      await store.finishRun(started.run.id, "failed", clock.now(), { code, message }).catch(() => undefined);
      started.logger.root.error({ err: thrown }, "run aborted by an internal error");
      await started.logger.flush().catch(() => undefined);
    }
    if (ownWorkspace) await workspace.close();
    throw thrown;
  }
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
