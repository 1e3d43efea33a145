import type { LevelWithSilent } from "pino";
import { systemClock, type Clock } from "../clock/clock.js";
import { describeError, StrataError } from "../errors/strata-error.js";
import { downstreamOf } from "../pipeline/dag.js";
import { validateParams } from "../pipeline/params.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import type { ErrorInfo, RunRecord, RunStatus, StepRecord, StoredOutput, Trigger } from "../storage/run-store.js";
import type { RunEventListener } from "./events.js";
import { deliverHook, describeHook, type HookPayload } from "./hook-runner.js";
import { newId } from "./ids.js";
import { decodeOutput } from "./output-codec.js";
import { RunLogger } from "./run-logger.js";
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
  /** Id (or unique prefix) of an earlier run of this pipeline: rerun its failed steps and what depends on them. */
  resume?: string;
  clock?: Clock;
  /** Source of jitter in [0, 1); inject it to make backoff delays exact in tests. */
  random?: () => number;
  /** Cancels the run: running steps are aborted, the rest skipped, the run recorded as cancelled. */
  signal?: AbortSignal;
  onEvent?: RunEventListener;
  logLevel?: LevelWithSilent;
  /** Receives every log line too (e.g. stderr for `--verbose`). */
  logTee?: (line: string) => void;
}

export interface StepSummary {
  readonly name: string;
  readonly status: StepRecord["status"];
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
  /** Closes the workspace if this run opened it (the in-memory default). */
  close(): Promise<void>;
}

interface ResumePlan {
  readonly from: RunRecord;
  readonly reuse: Map<string, { value: unknown; stored: StoredOutput | null }>;
}

async function planResume(pipeline: AnyPipeline, workspace: Workspace, runId: string): Promise<ResumePlan> {
  const from = await workspace.store.getRun(runId);
  if (from.pipeline !== pipeline.name) {
    throw new StrataError("RESUME_INVALID", `run ${from.id} is a run of "${from.pipeline}", not of "${pipeline.name}"`, {
      details: { runId: from.id },
    });
  }
  if (from.status === "running") {
    throw new StrataError("RESUME_INVALID", `run ${from.id} is still running; wait for it or cancel it before resuming`, {
      details: { runId: from.id },
    });
  }
  const records = new Map((await workspace.store.getSteps(from.id)).map((s) => [s.step, s]));
  const rerun = new Set<string>();
  const reusable = new Map<string, { value: unknown; stored: StoredOutput | null }>();
  for (const step of pipeline.steps) {
    const record = records.get(step.name);
    const done = record && (record.status === "succeeded" || record.status === "reused") && record.output;
    const decoded = done ? await decodeOutput(record.output!, () => workspace.engine()) : undefined;
    if (decoded) reusable.set(step.name, { ...decoded, stored: record!.output });
    else rerun.add(step.name);
  }
  const redo = downstreamOf(pipeline.dag, rerun);
  const reuse = new Map([...reusable].filter(([name]) => !redo.has(name)));
  return { from, reuse };
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
  const ownWorkspace = !options.workspace;
  const workspace = options.workspace ?? openWorkspace(":memory:");
  const clock = options.clock ?? systemClock;
  const emit: RunEventListener = options.onEvent ?? (() => undefined);
  try {
    const resume = options.resume ? await planResume(pipeline, workspace, options.resume) : undefined;
    if (resume && options.params && Object.keys(options.params).length) {
      const given = validateParams(pipeline, options.params);
      if (JSON.stringify(given) !== JSON.stringify(validateParams(pipeline, resume.from.params))) {
        throw new StrataError("RESUME_INVALID", `a resume reuses the params of run ${resume.from.id}; start a new run to change them`, {
          details: { runId: resume.from.id },
        });
      }
    }
    const params = validateParams(pipeline, resume ? resume.from.params : (options.params ?? {}));
    const startedAt = clock.now();
    const runId = newId("r", startedAt);
    const trigger = options.trigger ?? { kind: "manual", id: newId("t", startedAt) };
    const run: RunRecord = {
      id: runId,
      pipeline: pipeline.name,
      status: "running",
      trigger,
      params,
      resumedFrom: resume?.from.id ?? null,
      startedAt,
      endedAt: null,
      error: null,
    };
    const { store } = workspace;
    await store.createRun(
      run,
      pipeline.steps.map((s) => s.name),
    );
    emit({ type: "run-started", run, steps: pipeline.steps.map((s) => s.name) });

    const logger = new RunLogger(store, runId, trigger.id, pipeline.name, {
      ...(options.logLevel ? { level: options.logLevel } : {}),
      ...(options.logTee ? { tee: options.logTee } : {}),
    });
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
      engine: () => workspace.engine(),
      logger,
      clock,
      random: options.random ?? Math.random,
      signal: cancel.signal,
      emit,
      outputs: new Map(),
    };

    const status = new Map<string, StepRecord["status"]>();
    const firstFailure: { step: string; error: ErrorInfo }[] = [];
    for (const step of pipeline.steps) {
      const reused = resume?.reuse.get(step.name);
      if (!reused) continue;
      scope.outputs.set(step.output, reused.value);
      status.set(step.name, "reused");
      const from = resume!.from.id;
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

    // Below 1 (or NaN) no step could ever start and the run would hang: run one at a time.
    const concurrency = options.concurrency ?? pipeline.concurrency ?? 4;
    await schedule(
      pipeline,
      concurrency >= 1 ? Math.floor(concurrency) : 1,
      status,
      async (name) => {
        const step = pipeline.dag.byName.get(name)!;
        const outcome = await executeStep(scope, step);
        if (outcome.ok) {
          scope.outputs.set(step.output, outcome.value);
          return true;
        }
        firstFailure.push({ step: name, error: outcome.error });
        return false;
      },
      async (name, reason) => {
        status.set(name, "skipped");
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
      cancel.signal,
    );

    options.signal?.removeEventListener("abort", onCancel);
    const endedAt = clock.now();
    const failed = firstFailure[0];
    const finalStatus: RunStatus = cancel.signal.aborted ? "cancelled" : failed ? "failed" : "succeeded";
    const error: ErrorInfo | null =
      finalStatus === "cancelled"
        ? { code: "RUN_CANCELLED", message: "the run was cancelled" }
        : failed
          ? { code: failed.error.code, message: `step "${failed.step}" failed: ${failed.error.message}` }
          : null;
    logger.root.info({ status: finalStatus, durationMs: endedAt - startedAt }, "run finished");
    await store.finishRun(runId, finalStatus, endedAt, error);
    const finished: RunRecord = { ...run, status: finalStatus, endedAt, error };
    await runHooks(pipeline, finished, failed?.step ?? null, logger, emit);
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
      close: () => (ownWorkspace ? workspace.close() : Promise.resolve()),
    };
  } catch (error) {
    if (ownWorkspace) await workspace.close();
    throw error;
  }
}

/**
 * Starts each step once all it waits for have succeeded, with at most `limit` running. A failed
 * step's dependents are skipped; independent branches go on. Cancelling stops new starts.
 */
function schedule(
  pipeline: AnyPipeline,
  limit: number,
  status: Map<string, StepRecord["status"]>,
  runStep: (name: string) => Promise<boolean>,
  skip: (name: string, reason: string) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const { dag } = pipeline;
  const waiting = new Map<string, number>();
  const ready: string[] = [];
  for (const step of dag.steps) {
    if (status.has(step.name)) continue; // reused
    const pending = (dag.upstream.get(step.name) ?? []).filter((dep) => status.get(dep) !== "reused").length;
    waiting.set(step.name, pending);
    if (pending === 0) ready.push(step.name);
  }
  let head = 0;
  let running = 0;
  let left = waiting.size;
  return new Promise((resolve, reject) => {
    const finish = (): void => {
      if (left === 0) resolve();
    };
    const skipDownstream = async (from: string, reason: string): Promise<void> => {
      for (const name of downstreamOf(dag, [from])) {
        if (name === from || status.has(name)) continue;
        status.set(name, "skipped");
        left--;
        await skip(name, reason);
      }
    };
    const pump = (): void => {
      while (running < limit && head < ready.length) {
        const name = ready[head++]!;
        if (status.has(name)) continue;
        if (signal.aborted) {
          status.set(name, "skipped");
          left--;
          skip(name, "the run was cancelled").then(pump, reject);
          continue;
        }
        running++;
        status.set(name, "running");
        runStep(name)
          .then(async (ok) => {
            running--;
            left--;
            status.set(name, ok ? "succeeded" : "failed");
            if (ok) {
              for (const next of dag.downstream.get(name) ?? []) {
                const n = waiting.get(next)! - 1;
                waiting.set(next, n);
                if (n === 0 && !status.has(next)) ready.push(next);
              }
            } else {
              await skipDownstream(name, signal.aborted ? "the run was cancelled" : `upstream step "${name}" failed`);
            }
            pump();
            finish();
          })
          .catch(reject);
      }
      if (signal.aborted && running === 0) {
        const rest = [...waiting.keys()].filter((n) => !status.has(n));
        Promise.all(rest.map((n) => (status.set(n, "skipped"), left--, skip(n, "the run was cancelled")))).then(finish, reject);
        return;
      }
      finish();
    };
    signal.addEventListener("abort", pump, { once: true });
    pump();
  });
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
  const payload: HookPayload = {
    runId: run.id,
    pipeline: run.pipeline,
    status: run.status,
    triggerKind: run.trigger.kind,
    triggerId: run.trigger.id,
    failedStep,
    errorCode: run.error?.code ?? null,
    message: run.error?.message ?? null,
    startedAt: new Date(run.startedAt).toISOString(),
    endedAt: new Date(run.endedAt ?? run.startedAt).toISOString(),
    logs: `strata runs logs ${run.id}`,
  };
  await Promise.all(
    hooks.map(async (hook) => {
      try {
        await deliverHook(hook, payload);
        logger.root.info({ hook: describeHook(hook) }, "hook delivered");
      } catch (thrown) {
        // A hook that fails is logged and reported; it never changes the run's own result.
        const info = describeError(thrown);
        logger.root.warn({ hook: describeHook(hook), code: info.code, err: thrown }, "hook failed");
        emit({ type: "hook-failed", hook: describeHook(hook), error: { code: "HOOK_FAILED", message: info.message } });
      }
    }),
  );
}
