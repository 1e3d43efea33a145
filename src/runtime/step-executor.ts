import type { Clock } from "../clock/clock.js";
import { SqlError } from "../errors/errors.js";
import type { Logger } from "pino";
import { describeError } from "../errors/strata-error.js";
import type { StorageSet } from "../data/storage-set.js";
import { isDataset } from "../pipeline/dataset.js";
import { isParamRef, outputOf, type InputRef } from "../pipeline/refs.js";
import { backoffDelay } from "../pipeline/retry-policy.js";
import { isSqlValue, type SqlLiteral, type SqlQuery } from "../pipeline/sql.js";
import type { StepDefinition } from "../pipeline/step.js";
import type { CatalogStore } from "../storage/catalog-store.js";
import type { ModelRegistry } from "../storage/model-registry.js";
import type { QuarantineStore } from "../storage/quarantine-store.js";
import type { AttemptEnd, ErrorInfo, RunStore, StepRecord } from "../storage/run-store.js";
import type { ResolvedQuery, TableEngine, TableName } from "../storage/table-engine.js";
import { runAttempt } from "./attempt.js";
import { AttemptStart, runFinished } from "./attempt-start.js";
import { runCommandStep } from "./command-step.js";
import { readDataset, writeDataset } from "./dataset-io.js";
import type { RunEventListener } from "./events.js";
import { checkOutput } from "./output-checks.js";
import { ingestRaw } from "./raw-read.js";
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
  readonly catalog: CatalogStore;
  readonly models: ModelRegistry;
  readonly storages: StorageSet;
  /** The warehouse engine, where the run's own SQL tables live. */
  readonly engine: () => Promise<TableEngine>;
  /** Where rejected records are kept (the warehouse's quarantine). */
  readonly quarantine: () => Promise<QuarantineStore>;
  readonly logger: RunLogger;
  readonly clock: Clock;
  readonly random: () => number;
  readonly signal: AbortSignal;
  readonly emit: RunEventListener;
  /** Output name -> value, filled as steps finish (or are reused). */
  readonly outputs: Map<string, unknown>;
  /**
   * Engine -> output name -> the table its rows were loaded into there, for TypeScript outputs that
   * SQL steps read (and tables copied in from another engine). Kept apart from `outputs` so TypeScript readers
   * still get the rows; concurrent SQL readers share one load.
   */
  readonly loadedTables: Map<TableEngine, Map<string, Promise<TableName>>>;
  /** Dataset name -> the version this run reads (pinned at first read). */
  readonly datasetReads: Map<string, Promise<TableHandle>>;
  /** Dataset name -> the version this run wrote (later steps read that one). */
  readonly writtenVersions: Map<string, number>;
  /**
   * Tables this run made only to read its inputs (raw files loaded, rows loaded for SQL): dropped
   * when the run ends. A resume never needs them; step outputs are kept.
   */
  readonly scratch: { engine: TableEngine; table: TableName }[];
  /**
   * Step name -> records its running attempt's start now (see AttemptStart), while that start is
   * not recorded yet: called before a write that a lost attempt must be found by.
   */
  readonly starts: Map<string, () => Promise<void>>;
  /** Program names of `command` steps -> executables (e.g. python -> /usr/bin/python3). */
  readonly interpreters: Readonly<Record<string, string>>;
  /**
   * On a worker: resolves while this process still holds the step, and throws STEP_TAKEN_OVER once
   * another worker may have taken it. Called before what an attempt leaves behind is written (its
   * dataset version made ready and live, its end recorded), so a worker that comes back late keeps
   * nothing. It narrows the window to one write; the stores do not check it themselves.
   */
  readonly lease?: () => Promise<void>;
}

/** How a step ended; `end`: its last attempt's end, left for the caller to write (see executeStep's `keepEnd`). */
export type StepOutcome = ({ readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: ErrorInfo }) & {
  readonly end?: AttemptEnd;
};

/** An input's value: a param, an output of this run, or a dataset (written by this run, or read). */
async function inputValue(scope: RunScope, step: StepDefinition, ref: InputRef): Promise<unknown> {
  if (isParamRef(ref)) return scope.params[ref.param];
  if (isDataset(ref)) return readDataset(scope, step, ref);
  return scope.outputs.get(outputOf(ref)!);
}

async function inputValues(scope: RunScope, step: StepDefinition): Promise<Record<string, unknown>> {
  const values: Record<string, unknown> = {};
  for (const [key, ref] of Object.entries(step.inputs)) values[key] = await inputValue(scope, step, ref);
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

/**
 * An input as a table in `engine`: a table there is used in place; rows from TypeScript, or a
 * table of another engine, are loaded once per run.
 */
async function tableIn(scope: RunScope, step: StepDefinition, name: string, value: unknown, engine: TableEngine): Promise<TableName> {
  if (value instanceof TableHandle && value.engine === engine) return value.table;
  let loaded = scope.loadedTables.get(engine);
  if (!loaded) scope.loadedTables.set(engine, (loaded = new Map()));
  const tables = loaded;
  let table = tables.get(name);
  if (!table) {
    if (!(value instanceof TableHandle)) assertRows(step, name, value);
    table = (async () => {
      const target = { schema: scope.runId, table: `${name}__input` };
      await engine.createTableFromRows(target, value instanceof TableHandle ? await value.rows() : value);
      scope.scratch.push({ engine, table: target });
      return target;
    })().catch((error: unknown) => {
      tables.delete(name); // a later reader tries again
      throw error;
    });
    tables.set(name, table);
  }
  return table;
}

async function resolveQuery(scope: RunScope, step: StepDefinition, query: SqlQuery, engine: TableEngine): Promise<ResolvedQuery> {
  const parts: ResolvedQuery["parts"][number][] = [];
  for (const part of query.parts) {
    const ref: InputRef | undefined = typeof part === "string" ? step.inputs[part] : isSqlValue(part) ? undefined : part;
    if (ref === undefined) parts.push({ value: (part as { value: SqlLiteral }).value });
    else if (isParamRef(ref)) parts.push({ value: (scope.params[ref.param] ?? null) as SqlLiteral });
    else parts.push({ table: await tableIn(scope, step, outputOf(ref)!, await inputValue(scope, step, ref), engine) });
  }
  return { strings: query.strings, parts };
}

async function runBody(scope: RunScope, step: StepDefinition, attempt: number, log: Logger, signal: AbortSignal): Promise<unknown> {
  // A step writing a table dataset runs its SQL in that dataset's engine (DuckDB or Postgres).
  const target = step.dataset ? await scope.storages.open(step.dataset.options.storage) : undefined;
  if (step.query) {
    const engine = target?.tables ?? (await scope.engine());
    const query = await resolveQuery(scope, step, step.query, engine);
    if (target?.tables) return writeDataset(scope, step, undefined, (table, e) => e.createTableAs(table, query, signal), signal);
    const table = { schema: scope.runId, table: step.output };
    const handle = new TableHandle(engine, table, await engine.createTableAs(table, query, signal));
    return step.dataset ? writeDataset(scope, step, handle, undefined, signal) : checkPlainOutput(scope, step, handle, signal);
  }
  if (step.kind === "ingest" && target?.tables && target.tables === (await scope.engine())) {
    // The clean records land straight in the new version's table: no second copy of the data.
    const [raw] = Object.values(step.inputs);
    const source = isDataset(raw) ? await scope.storages.open(raw.options.storage) : undefined;
    if (isDataset(raw) && source?.files) {
      const folder = source.files.folder;
      return writeDataset(scope, step, undefined, (table) => ingestRaw(scope, step, raw, folder, table, signal), signal);
    }
  }
  if (step.command) {
    const value = await runCommandStep(scope, step, step.command, await inputValues(scope, step), log, signal);
    return step.dataset ? writeDataset(scope, step, value, undefined, signal) : checkPlainOutput(scope, step, value, signal);
  }
  const value: unknown = await step.run!((await inputValues(scope, step)) as never, {
    runId: scope.runId,
    triggerId: scope.triggerId,
    pipeline: scope.pipeline,
    step: step.name,
    attempt,
    signal,
    log,
    params: scope.params,
    registerModel: async (name, model, options) => {
      const at = scope.clock.now();
      const registered = await scope.models.register({ name, ...model, runId: scope.runId, step: step.name, at });
      if (options?.alias) await scope.models.setAlias(name, options.alias, registered.version, at);
      log.info({ model: name, version: registered.version, metrics: model.metrics }, "model registered");
      return options?.alias ? { ...registered, aliases: [options.alias] } : registered;
    },
  });
  return step.dataset ? writeDataset(scope, step, value, undefined, signal) : checkPlainOutput(scope, step, value, signal);
}

/**
 * Expectations on an output that is not a dataset: checked on its table (rows from TypeScript are
 * loaded into the warehouse first). Rows a `drop` expectation removes leave the output too.
 */
async function checkPlainOutput(scope: RunScope, step: StepDefinition, value: unknown, signal: AbortSignal): Promise<unknown> {
  if (!step.expectations.length) return value;
  if (value instanceof TableHandle) {
    const dropped = await checkOutput(scope, step, { engine: value.engine, table: value.table }, { version: null, previous: null, signal });
    return dropped ? new TableHandle(value.engine, value.table, value.rowCount - dropped) : value;
  }
  assertRows(step, step.output, value);
  const engine = await scope.engine();
  const table = { schema: scope.runId, table: `${step.output}__checked` };
  scope.scratch.push({ engine, table });
  await engine.createTableFromRows(table, value);
  const dropped = await checkOutput(scope, step, { engine, table }, { version: null, previous: null, signal });
  return dropped ? engine.readRows(table) : value;
}

/**
 * Runs a step to its end: attempts, backoff between them (on the injected clock), and a record
 * of every attempt in the store. Never throws for a step's own failure: it returns the outcome.
 * `firstAttempt` > 1 numbers on after attempts a lost worker left; they do not use up the retries.
 * `keepEnd`: the last attempt's end is not written (nor its lines flushed) but returned, for a
 * caller whose step's end ends the run to write it with the run's end (FinishRunOptions.attempt).
 */
export async function executeStep(
  scope: RunScope,
  step: StepDefinition,
  firstAttempt = 1,
  options: { readonly keepEnd?: boolean } = {},
): Promise<StepOutcome> {
  const { store, clock, emit } = scope;
  // An attempt's end and its lines together: on a store that batches writes, one statement.
  const saveEnd = async ({ attempt: a, step: s, opens }: AttemptEnd): Promise<boolean> =>
    (await Promise.all([store.saveAttempt(a, s, opens), scope.logger.flush()]))[0];
  let firstStart: number | null = null;
  for (let attempt = firstAttempt; ; attempt++) {
    const startedAt = clock.now();
    firstStart ??= startedAt;
    const base: Omit<StepRecord, "status" | "endedAt" | "error" | "output"> = {
      runId: scope.runId,
      step: step.name,
      attempts: attempt,
      startedAt: firstStart,
      reusedFrom: null,
    };
    const start = new AttemptStart(() =>
      store.saveAttempt(
        { runId: scope.runId, step: step.name, attempt, status: "running", startedAt, endedAt: null, error: null },
        { ...base, status: "running", endedAt: null, error: null, output: null },
      ),
    );
    // The run ended before this attempt was recorded (a step job that outlived its run, or a run
    // ended during a retry's backoff): the attempt does not count, and a step left retrying is
    // recorded cancelled.
    const refused = async (): Promise<never> => {
      const ended = runFinished(scope.runId, step.name);
      if (attempt > firstAttempt)
        await store.saveStep({
          ...base,
          attempts: attempt - 1,
          status: "cancelled",
          endedAt: clock.now(),
          error: { code: ended.code, message: ended.message },
          output: null,
        });
      throw ended;
    };
    // Writes the attempt's end; the last one only unless the caller keeps it (false: it is returned).
    const written = async (end: AttemptEnd, last: boolean): Promise<boolean> => {
      if (last && options.keepEnd) return false;
      if (!(await saveEnd(end))) return refused();
      return true;
    };
    if (attempt > firstAttempt && !(await start.record())) {
      await start.end();
      return refused();
    }
    scope.starts.set(step.name, () => start.ensure(scope.runId, step.name));
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
    } finally {
      scope.starts.delete(step.name);
    }
    const endedAt = clock.now();
    const recorded = await start.end();
    if (recorded === false) return refused();
    const opens = recorded === undefined; // the end is the attempt's first record

    await scope.lease?.(); // taken over meanwhile: nothing of this attempt is recorded
    if (outcome.ok) {
      const output = encodeOutput(outcome.value);
      log.info({ durationMs: endedAt - startedAt, output: output.kind }, "step succeeded");
      const end: AttemptEnd = {
        attempt: { runId: scope.runId, step: step.name, attempt, status: "succeeded", startedAt, endedAt, error: null },
        step: { ...base, status: "succeeded", endedAt, error: null, output },
        opens,
      };
      const kept = !(await written(end, true));
      emit({ type: "step-succeeded", step: step.name, attempt, durationMs: endedAt - startedAt });
      return { ok: true, value: outcome.value, ...(kept ? { end } : {}) };
    }

    const info = describeError(outcome.thrown);
    const cancelled = scope.signal.aborted;
    const tries = attempt - firstAttempt + 1;
    const last = tries >= step.retry.maxAttempts || !info.retryable || cancelled;
    const error = { code: info.code, message: info.message };
    log.error(
      { err: outcome.thrown, code: info.code, retryable: info.retryable },
      cancelled ? "step cancelled" : last ? "step failed" : "attempt failed, will retry",
    );
    const end: AttemptEnd = {
      attempt: {
        runId: scope.runId,
        step: step.name,
        attempt,
        status: "failed",
        startedAt,
        endedAt,
        error: { ...error, retryable: info.retryable },
      },
      step: {
        ...base,
        status: cancelled ? "cancelled" : last ? "failed" : "retrying",
        endedAt: last ? endedAt : null,
        error,
        output: null,
      },
      opens,
    };
    const kept = !(await written(end, last));
    if (last) {
      emit({ type: "step-failed", step: step.name, attempt, error });
      return { ok: false, error, ...(kept ? { end } : {}) };
    }
    const delayMs = backoffDelay(step.retry, tries + 1, scope.random());
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
