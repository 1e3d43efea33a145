import type { Clock } from "../clock/clock.js";
import { SqlError } from "../errors/errors.js";
import type { Logger } from "pino";
import { describeError } from "../errors/strata-error.js";
import type { InputRef } from "../pipeline/refs.js";
import { isParamRef, isStepRef } from "../pipeline/refs.js";
import { backoffDelay } from "../pipeline/retry-policy.js";
import { isSqlValue, type SqlQuery } from "../pipeline/sql.js";
import type { StepDefinition } from "../pipeline/step.js";
import type { ErrorInfo, RunStore, StepRecord } from "../storage/run-store.js";
import type { ResolvedQuery, TableEngine, TableName } from "../storage/table-engine.js";
import { runAttempt } from "./attempt.js";
import type { RunEventListener } from "./events.js";
import { encodeOutput } from "./output-codec.js";
import type { RunLogger } from "./run-logger.js";
import { TableHandle } from "./table-handle.js";

/** Everything a step needs from its run. */
export interface RunScope {
  readonly runId: string;
  readonly triggerId: string;
  readonly pipeline: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly store: RunStore;
  readonly engine: () => Promise<TableEngine>;
  readonly logger: RunLogger;
  readonly clock: Clock;
  readonly random: () => number;
  readonly signal: AbortSignal;
  readonly emit: RunEventListener;
  /** Output name -> value, filled as steps finish (or are reused). */
  readonly outputs: Map<string, unknown>;
  /**
   * Output name -> the table its rows were loaded into, for TypeScript outputs that SQL steps read.
   * Kept apart from `outputs` so TypeScript readers still get the rows; concurrent SQL readers
   * share one load.
   */
  readonly loadedTables: Map<string, Promise<TableName>>;
}

export type StepOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: ErrorInfo };

function outputOf(scope: RunScope, ref: Exclude<InputRef, { param: string }>): unknown {
  return scope.outputs.get(isStepRef(ref) ? ref.output : ref);
}

function inputValues(scope: RunScope, step: StepDefinition): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, ref] of Object.entries(step.inputs)) {
    values[key] = isParamRef(ref) ? scope.params[ref.param] : outputOf(scope, ref);
  }
  return values;
}

function assertRows(step: StepDefinition, output: string, value: unknown): asserts value is Record<string, unknown>[] {
  const problem = !Array.isArray(value)
    ? "is not an array of row objects"
    : value.length === 0
      ? "is an empty array, so its columns cannot be inferred (return at least one row, or filter in SQL instead)"
      : value.some((r) => r === null || typeof r !== "object" || Array.isArray(r))
        ? "has items that are not row objects"
        : undefined;
  if (problem) {
    throw new SqlError("SQL_INPUT_INVALID", `sql step "${step.name}" reads output "${output}", which ${problem}`, {
      details: { step: step.name, output },
    });
  }
}

/** An upstream output as a table: a SQL output is used in place, rows from TypeScript are loaded once. */
async function tableOf(scope: RunScope, step: StepDefinition, output: string): Promise<TableName> {
  const value = scope.outputs.get(output);
  if (value instanceof TableHandle) return value.table;
  const loaded = scope.loadedTables;
  let table = loaded.get(output);
  if (!table) {
    assertRows(step, output, value);
    table = (async () => {
      const engine = await scope.engine();
      const target = { schema: scope.runId, table: output };
      await engine.createTableFromRows(target, value);
      return target;
    })().catch((error: unknown) => {
      loaded.delete(output); // a later reader tries again
      throw error;
    });
    loaded.set(output, table);
  }
  return table;
}

async function resolveQuery(scope: RunScope, step: StepDefinition, query: SqlQuery): Promise<ResolvedQuery> {
  const parts: ResolvedQuery["parts"][number][] = [];
  for (const part of query.parts) {
    if (isParamRef(part)) parts.push({ value: (scope.params[part.param] ?? null) as never });
    else if (isStepRef(part)) parts.push({ table: await tableOf(scope, step, part.output) });
    else if (isSqlValue(part)) parts.push({ value: part.value });
    else {
      const ref = step.inputs[part]!;
      if (isParamRef(ref)) parts.push({ value: (scope.params[ref.param] ?? null) as never });
      else parts.push({ table: await tableOf(scope, step, isStepRef(ref) ? ref.output : ref) });
    }
  }
  return { strings: query.strings, parts };
}

async function runBody(scope: RunScope, step: StepDefinition, attempt: number, log: Logger, signal: AbortSignal): Promise<unknown> {
  if (step.query) {
    const engine = await scope.engine();
    const target = { schema: scope.runId, table: step.output };
    const rows = await engine.createTableAs(target, await resolveQuery(scope, step, step.query), signal);
    return new TableHandle(engine, target, rows);
  }
  return step.run!(inputValues(scope, step) as never, {
    runId: scope.runId,
    triggerId: scope.triggerId,
    pipeline: scope.pipeline,
    step: step.name,
    attempt,
    signal,
    log,
    params: scope.params,
  });
}

/**
 * Runs a step to its end: attempts, backoff between them (on the injected clock), and a record
 * of every attempt in the store. Never throws for a step's own failure: it returns the outcome.
 */
export async function executeStep(scope: RunScope, step: StepDefinition): Promise<StepOutcome> {
  const { store, clock, emit } = scope;
  let firstStart: number | null = null;
  for (let attempt = 1; ; attempt++) {
    const startedAt = clock.now();
    firstStart ??= startedAt;
    const base: Omit<StepRecord, "status" | "endedAt" | "error" | "output"> = {
      runId: scope.runId,
      step: step.name,
      attempts: attempt,
      startedAt: firstStart,
      reusedFrom: null,
    };
    await store.saveAttempt(
      { runId: scope.runId, step: step.name, attempt, status: "running", startedAt, endedAt: null, error: null },
      { ...base, status: "running", endedAt: null, error: null, output: null },
    );
    emit({ type: "step-started", step: step.name, attempt, at: startedAt });
    const log = scope.logger.forAttempt(step.name, attempt);
    log.info("step started");
    // Only the step's own work is inside this try: a failure in the bookkeeping after it must
    // never make a step that succeeded run again.
    let outcome: { ok: true; value: unknown } | { ok: false; thrown: unknown };
    try {
      outcome = {
        ok: true,
        value: await runAttempt(step.name, step.timeoutMs, scope.signal, (signal) => runBody(scope, step, attempt, log, signal)),
      };
    } catch (thrown) {
      outcome = { ok: false, thrown };
    }
    const endedAt = clock.now();

    if (outcome.ok) {
      const output = encodeOutput(outcome.value);
      log.info({ durationMs: endedAt - startedAt, output: output.kind }, "step succeeded");
      await store.saveAttempt(
        { runId: scope.runId, step: step.name, attempt, status: "succeeded", startedAt, endedAt, error: null },
        { ...base, status: "succeeded", endedAt, error: null, output },
      );
      emit({ type: "step-succeeded", step: step.name, attempt, durationMs: endedAt - startedAt });
      await scope.logger.flush();
      return { ok: true, value: outcome.value };
    }

    const info = describeError(outcome.thrown);
    const cancelled = scope.signal.aborted;
    const last = attempt >= step.retry.maxAttempts || !info.retryable || cancelled;
    const error = { code: info.code, message: info.message };
    log.error(
      { err: outcome.thrown, code: info.code, retryable: info.retryable },
      cancelled ? "step cancelled" : last ? "step failed" : "attempt failed, will retry",
    );
    await store.saveAttempt(
      {
        runId: scope.runId,
        step: step.name,
        attempt,
        status: "failed",
        startedAt,
        endedAt,
        error: { ...error, retryable: info.retryable },
      },
      { ...base, status: cancelled ? "cancelled" : last ? "failed" : "retrying", endedAt: last ? endedAt : null, error, output: null },
    );
    await scope.logger.flush();
    if (last) {
      emit({ type: "step-failed", step: step.name, attempt, error });
      return { ok: false, error };
    }
    const delayMs = backoffDelay(step.retry, attempt + 1, scope.random());
    emit({ type: "step-retry", step: step.name, attempt, delayMs, error });
    try {
      await clock.sleep(delayMs, scope.signal);
    } catch {
      // Record the end, or the step would stay "retrying" in a finished run.
      const stopped = { code: "RUN_CANCELLED", message: "the run was cancelled during a retry backoff" };
      await store.saveStep({ ...base, status: "cancelled", endedAt: clock.now(), error: stopped, output: null });
      emit({ type: "step-failed", step: step.name, attempt, error: stopped });
      return { ok: false, error: stopped };
    }
  }
}
