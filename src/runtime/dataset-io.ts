import type { ColumnSpec } from "../data/column-types.js";
import { schemaDifferences } from "../data/schema-check.js";
import { StrataError } from "../errors/strata-error.js";
import type { DatasetRef } from "../pipeline/dataset.js";
import { isParamRef } from "../pipeline/refs.js";
import type { StepDefinition } from "../pipeline/step.js";
import type { StorageSet } from "../data/storage-set.js";
import type { OpenStorage } from "../storage/adapter.js";
import type { CatalogStore, DatasetHold, DatasetVersion } from "../storage/catalog-store.js";
import { runningRuns } from "../storage/running-runs.js";
import type { ColumnDef, TableEngine, TableName } from "../storage/table-engine.js";
import type { RunScope } from "./step-executor.js";
import { checkOutput } from "./output-checks.js";
import { readRawDataset } from "./raw-read.js";
import { TableHandle } from "./table-handle.js";

const DEFAULT_KEEP = 5;

// A dataset's tables live in its engine's dataset schema: versions, and the alias (a view).
export const aliasOf = (engine: TableEngine, dataset: string): TableName => ({ schema: engine.datasetSchema, table: dataset });
export const versionTable = (engine: TableEngine, dataset: string, version: number): TableName => ({
  schema: engine.datasetSchema,
  table: `${dataset}__v${version}`,
});

function invalid(ds: DatasetRef<unknown>, message: string): StrataError {
  return new StrataError("DATASET_INVALID", `dataset "${ds.name}" (storage "${ds.options.storage}"): ${message}`, {
    details: { dataset: ds.name, storage: ds.options.storage },
  });
}

export function columnDefs(columns: Readonly<Record<string, ColumnSpec>>): ColumnDef[] {
  return Object.entries(columns).map(([name, c]) => ({
    name,
    kind: c.kind,
    nullable: c.nullable,
    ...(c.precision !== undefined ? { precision: c.precision } : {}),
    ...(c.scale !== undefined ? { scale: c.scale } : {}),
  }));
}

/**
 * The table a step reads for a dataset input: the live version of a table dataset (pinned for the
 * whole run, so every step sees the same version), or raw files read and coerced to the schema.
 * Recorded in the run's lineage.
 */
export async function readDataset(scope: RunScope, step: StepDefinition, ds: DatasetRef<unknown>): Promise<unknown> {
  // Written earlier in this run: read that version (and say so in the lineage).
  const written = scope.writtenVersions.get(ds.name);
  if (written !== undefined) {
    await scope.catalog.recordLineage([
      { runId: scope.runId, step: step.name, dataset: ds.name, version: written, direction: "read", at: scope.clock.now() },
    ]);
    return scope.outputs.get(ds.name);
  }
  return readLiveVersion(scope, step, ds);
}

function readLiveVersion(scope: RunScope, step: StepDefinition, ds: DatasetRef<unknown>): Promise<TableHandle> {
  let read = scope.datasetReads.get(ds.name);
  if (!read) {
    read = openDatasetForRead(scope, step, ds);
    read.catch(() => scope.datasetReads.delete(ds.name)); // a retry reads again
    scope.datasetReads.set(ds.name, read);
  }
  return read;
}

async function openDatasetForRead(scope: RunScope, step: StepDefinition, ds: DatasetRef<unknown>): Promise<TableHandle> {
  const storage = await scope.storages.open(ds.options.storage);
  if (storage.files) return readRawDataset(scope, step, ds, storage.files.folder);
  if (!storage.tables) throw invalid(ds, `its storage is of format "${storage.definition.format}", which steps cannot read as a table`);
  const live = await scope.catalog.liveVersion(ds.name);
  if (!live) {
    throw new StrataError("DATASET_NOT_FOUND", `dataset "${ds.name}" has no version yet: run the pipeline that writes it first`, {
      details: { dataset: ds.name },
    });
  }
  await scope.catalog.recordLineage([
    { runId: scope.runId, step: step.name, dataset: ds.name, version: live.version, direction: "read", at: scope.clock.now() },
  ]);
  return new TableHandle(storage.tables, versionTable(storage.tables, ds.name, live.version), live.rows ?? 0);
}

/** The partition value a step writes, from its `partition` option. */
function partitionValue(scope: RunScope, step: StepDefinition): string | null {
  const p = step.partition;
  if (p === undefined) return null;
  const value = isParamRef(p) ? scope.params[p.param] : p;
  return value instanceof Date ? value.toISOString().slice(0, 10) : String(value);
}

/** Rows to write, from what a step returned: an array of objects, or a table (streamed). */
async function* rowsOf(ds: DatasetRef<unknown>, value: unknown): AsyncIterable<Record<string, unknown>[]> {
  if (value instanceof TableHandle) {
    for await (const batch of value.engine.batches(value.table, 10_000)) {
      const names = Object.keys(batch.columns);
      const rows: Record<string, unknown>[] = [];
      for (let i = 0; i < batch.length; i++) rows.push(Object.fromEntries(names.map((n) => [n, batch.columns[n]![i]])));
      yield rows;
    }
    return;
  }
  if (!Array.isArray(value) || value.some((r) => r === null || typeof r !== "object" || Array.isArray(r))) {
    throw invalid(ds, "the step must return an array of row objects (or be a sql step) to write it");
  }
  yield value as Record<string, unknown>[];
}

// One writer at a time per dataset, from reading the live version (a partition merge builds on
// it) to the flip: two concurrent writers could otherwise lose each other's rows. In this process
// writers queue here; across processes (a worker fleet) the catalog's lock keeps them apart.
const writeLocks = new Map<string, Promise<unknown>>();

async function exclusively<T>(scope: RunScope, dataset: string, signal: AbortSignal, fn: (hold: DatasetHold) => Promise<T>): Promise<T> {
  const previous = writeLocks.get(dataset) ?? Promise.resolve();
  const mine = previous
    .catch(() => undefined)
    .then(async () => {
      const hold = await scope.catalog.holdDataset(dataset, signal); // a step timed out or cancelled stops waiting
      try {
        return await fn(hold);
      } finally {
        await hold.release();
      }
    });
  writeLocks.set(dataset, mine);
  try {
    return await mine;
  } finally {
    if (writeLocks.get(dataset) === mine) writeLocks.delete(dataset);
  }
}

/**
 * Writes a step's result as a new version of its output dataset and makes it live: the version
 * is written whole, checked against the schema, then swapped in atomically. Any failure before
 * the flip drops the new version and leaves the live one as it was; after the flip the version is
 * live, and bookkeeping failures (lineage, retention) are logged, not thrown. `signal` is the
 * attempt's: a write that timed out never goes live. Returns what downstream steps read.
 */
export async function writeDataset(
  scope: RunScope,
  step: StepDefinition,
  value: unknown,
  produceTable: ((target: TableName, engine: TableEngine) => Promise<number>) | undefined,
  signal: AbortSignal,
): Promise<unknown> {
  const ds = step.dataset!;
  const storage = await scope.storages.open(ds.options.storage);
  if (storage.definition.format === "files") throw invalid(ds, "a files storage holds raw input; write to a table or kv storage");
  const partition = partitionValue(scope, step);
  if (partition !== null && !ds.options.partitionBy)
    throw invalid(ds, `step "${step.name}" writes partition ${partition}, but the dataset has no partitionBy`);
  await scope.starts.get(step.name)?.(); // a version is found, adopted or discarded, through its attempt's record
  const version = await scope.catalog.beginVersion({
    dataset: ds.name,
    storage: storage.definition.name,
    runId: scope.runId,
    step: step.name,
    partition,
    at: scope.clock.now(),
  });
  let result: { rows: number; handle: unknown };
  let live = false;
  try {
    result = await exclusively(scope, ds.name, signal, async (hold) => {
      let written: { rows: number; handle: unknown };
      if (storage.tables) {
        const engine = storage.tables;
        const table = await writeTableVersion(scope, engine, ds, version, partition, value, produceTable, signal);
        const live = await engine.aliasTarget(aliasOf(engine, ds.name));
        const dropped = await checkOutput(
          scope,
          step,
          { engine, table: table.handle.table },
          {
            version,
            previous: live ? { engine, table: live } : null,
            signal,
          },
        );
        written = dropped
          ? { rows: table.rows - dropped, handle: new TableHandle(engine, table.handle.table, table.rows - dropped) }
          : table;
      } else {
        // A key-value dataset is checked on the table it is published from, when there is one.
        if (step.expectations.length && value instanceof TableHandle) {
          if (step.expectations.some((e) => e.severity === "drop"))
            throw invalid(ds, "expectations with severity drop need a table dataset (a key-value version is written as it is read)");
          await checkOutput(scope, step, { engine: value.engine, table: value.table }, { version, previous: null, signal });
        }
        written = await writeKvVersion(storage, ds, version, value);
      }
      await scope.lease?.(); // a worker taken over must not make its version ready, let alone live
      await scope.catalog.finishVersion(ds.name, version, written.rows, scope.clock.now());
      signal.throwIfAborted();
      await goLive(scope.catalog, hold, storage, ds.name, version, scope.clock.now(), () => (live = true));
      return written;
    });
  } catch (error) {
    if (live) throw error; // live in its storage: never dropped
    await scope.catalog.failVersion(ds.name, version, (error as Error).message, scope.clock.now()).catch(() => undefined);
    await dropVersion(storage, ds.name, version).catch(() => undefined);
    throw error;
  }
  // Live from here on: what follows must not undo it.
  scope.writtenVersions.set(ds.name, version);
  const at = scope.clock.now();
  try {
    await scope.catalog.recordLineage([{ runId: scope.runId, step: step.name, dataset: ds.name, version, direction: "write", at }]);
    await applyRetention(scope, storage, ds);
  } catch (error) {
    scope.logger
      .forAttempt(step.name, 0)
      .warn({ err: error, dataset: ds.name, version }, "the version is live, but its lineage or retention failed");
  }
  return result.handle;
}

/** `a, b, c` of the declared columns, quoted: copies match columns by name, never by position. */
function columnList(ds: DatasetRef<unknown>): string {
  return Object.keys(ds.columns)
    .map((c) => `"${c.replace(/"/g, '""')}"`)
    .join(", ");
}

async function writeTableVersion(
  scope: RunScope,
  engine: TableEngine,
  ds: DatasetRef<unknown>,
  version: number,
  partition: string | null,
  value: unknown,
  produceTable: ((target: TableName, engine: TableEngine) => Promise<number>) | undefined,
  signal: AbortSignal,
): Promise<{ rows: number; handle: TableHandle }> {
  const target = versionTable(engine, ds.name, version);
  // A partition write first lands in a staging table, then joins the live version's other partitions.
  const staging = { schema: engine.datasetSchema, table: `${ds.name}__v${version}_staging` };
  const landing = partition === null ? target : staging;
  try {
    let rows: number;
    if (produceTable) rows = await produceTable(landing, engine);
    else if (value instanceof TableHandle && value.engine === engine) {
      // Already a table in this engine: copy it there, not through JavaScript.
      rows = await engine.createTableAs(landing, { strings: ["select * from ", ""], parts: [{ table: value.table }] }, signal);
    } else {
      const all: Record<string, unknown>[] = [];
      for await (const batch of rowsOf(ds, value)) all.push(...batch);
      rows = await engine.createTableFromRows(landing, all, columnDefs(ds.columns));
    }
    const problems = schemaDifferences(await engine.describe(landing), ds.columns);
    if (problems.length) {
      throw new StrataError(
        "SCHEMA_MISMATCH",
        `dataset "${ds.name}" (storage "${ds.options.storage}"): what the step wrote does not match its schema: ${problems.join("; ")}`,
        {
          details: { dataset: ds.name, storage: ds.options.storage, problems },
        },
      );
    }
    if (partition !== null) rows = await mergePartition(engine, ds, staging, target, partition, signal);
    return { rows, handle: new TableHandle(engine, target, rows) };
  } finally {
    if (partition !== null) await engine.drop(staging).catch(() => undefined);
  }
}

/**
 * The new version of a partitioned dataset: the live version without partition `partition`, plus
 * the staged rows, which must all belong to it. Columns are copied by name in the declared order,
 * and `is distinct from` keeps rows whose partition column is null.
 */
async function mergePartition(
  engine: TableEngine,
  ds: DatasetRef<unknown>,
  staging: TableName,
  target: TableName,
  partition: string,
  signal: AbortSignal,
): Promise<number> {
  const column = `"${ds.options.partitionBy!.replace(/"/g, '""')}"`;
  const check = { schema: engine.datasetSchema, table: `${target.table}_check` };
  try {
    const outside = await engine.createTableAs(
      check,
      {
        strings: ["select 1 as x from ", ` where cast(${column} as varchar) is distinct from `, ""],
        parts: [{ table: staging }, { value: partition }],
      },
      signal,
    );
    if (outside > 0) throw invalid(ds, `${outside} rows written for partition ${partition} have another ${ds.options.partitionBy}`);
  } finally {
    await engine.drop(check).catch(() => undefined);
  }
  const live = await engine.aliasTarget(aliasOf(engine, ds.name));
  if (live) {
    const problems = schemaDifferences(await engine.describe(live), ds.columns);
    if (problems.length)
      throw invalid(ds, `the live version's columns differ from the schema (${problems.join("; ")}); write a whole new version first`);
  }
  const columns = columnList(ds);
  return live
    ? engine.createTableAs(
        target,
        {
          strings: [
            `select ${columns} from `,
            ` where cast(${column} as varchar) is distinct from `,
            ` union all select ${columns} from `,
            "",
          ],
          parts: [{ table: live }, { value: partition }, { table: staging }],
        },
        signal,
      )
    : engine.createTableAs(target, { strings: [`select ${columns} from `, ""], parts: [{ table: staging }] }, signal);
}

async function writeKvVersion(
  storage: OpenStorage,
  ds: DatasetRef<unknown>,
  version: number,
  value: unknown,
): Promise<{ rows: number; handle: unknown }> {
  const kv = storage.kv;
  const key = ds.options.key;
  if (!kv) throw invalid(ds, `its storage is of format "${storage.definition.format}"`);
  if (!key) throw invalid(ds, "a dataset in a key-value storage needs `key`: the column each document is found by");
  const writer = await kv.beginVersion(ds.name, version);
  try {
    let checked = false;
    for await (const rows of rowsOf(ds, value)) {
      if (!checked && rows[0]) {
        const problems = schemaDifferences(
          Object.keys(rows[0]).map((name) => ({ name, type: jsonType(rows[0]![name], ds.columns[name]) })),
          ds.columns,
        );
        if (problems.length)
          throw new StrataError("SCHEMA_MISMATCH", `dataset "${ds.name}": ${problems.join("; ")}`, {
            details: { dataset: ds.name, problems },
          });
        checked = true;
      }
      await writer.put(
        rows.map((row) => [String(row[key]), JSON.stringify(row, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v))] as const),
      );
    }
    const rows = await writer.finish();
    return { rows, handle: { dataset: ds.name, version, rows } };
  } catch (error) {
    await writer.abort().catch(() => undefined);
    throw error;
  }
}

/** A JS value's type family, for checking documents (a null fits any nullable column). */
function jsonType(value: unknown, spec: ColumnSpec | undefined): string {
  if (value === null || value === undefined) return spec && spec.nullable ? typeNameOf(spec) : "null";
  if (typeof value === "number" || typeof value === "bigint")
    return Number.isInteger(Number(value)) && spec?.kind !== "double" && spec?.kind !== "decimal" ? "integer" : "double";
  if (typeof value === "boolean") return "boolean";
  if (value instanceof Date) return spec?.kind === "date" ? "date" : "timestamp";
  if (typeof value === "object") return "json";
  return spec?.kind === "date" || spec?.kind === "timestamp" ? spec.kind : "varchar";
}

const typeNameOf = (spec: ColumnSpec): string =>
  ({
    string: "varchar",
    int: "integer",
    bigint: "bigint",
    double: "double",
    decimal: "decimal",
    bool: "boolean",
    date: "date",
    timestamp: "timestamp",
    json: "json",
  })[spec.kind];

async function activate(storage: OpenStorage, dataset: string, version: number): Promise<void> {
  if (storage.tables) await storage.tables.activate(aliasOf(storage.tables, dataset), versionTable(storage.tables, dataset, version));
  else await storage.kv!.activate(dataset, version);
}

async function dropVersion(storage: OpenStorage, dataset: string, version: number): Promise<void> {
  if (storage.tables) await storage.tables.drop(versionTable(storage.tables, dataset, version));
  else await storage.kv?.dropVersion(dataset, version);
}

/** Marks a version failed and drops its data, e.g. one a killed process left half-written. */
export async function discardVersion(
  workspace: { catalog: CatalogStore; storages: StorageSet },
  version: DatasetVersion,
  reason: string,
  at: number,
): Promise<void> {
  await workspace.catalog.failVersion(version.dataset, version.version, reason, at);
  await dropVersion(await workspace.storages.open(version.storage), version.dataset, version.version).catch(() => undefined);
}

/**
 * Makes `version` the live one, under the dataset's write lock: its storage's pointer flips (then
 * `flipped` is called: from there the version must never be dropped), and the catalog records it
 * before the lock is let go, so the two agree. A lock lost meanwhile stops it before the flip.
 */
export async function goLive(
  catalog: CatalogStore,
  hold: DatasetHold,
  storage: OpenStorage,
  dataset: string,
  version: number,
  at: number,
  flipped?: () => void,
): Promise<void> {
  hold.ensure(); // another writer may be under way: this version must not go live
  await activate(storage, dataset, version);
  flipped?.();
  await catalog.setLive(dataset, version, at);
}

/**
 * Drops all but the newest `keep` finished versions: never the live one, nor one that a run still
 * in progress has read (reads pin a version for the whole run).
 */
async function applyRetention(scope: RunScope, storage: OpenStorage, ds: DatasetRef<unknown>): Promise<void> {
  const keep = ds.options.keep ?? DEFAULT_KEEP;
  const kept = (await scope.catalog.versions(ds.name)).filter((v) => v.status === "ready");
  const old = kept.slice(0, Math.max(0, kept.length - keep)).filter((v) => !v.live);
  if (!old.length) return;
  const pinned = new Set<number>();
  for await (const run of runningRuns(scope.store)) {
    for (const read of await scope.catalog.lineageOfRun(run.id))
      if (read.dataset === ds.name && read.direction === "read") pinned.add(read.version);
  }
  for (const version of old) {
    if (pinned.has(version.version)) continue; // a later write drops it, once its readers are done
    await dropVersion(storage, ds.name, version.version);
    await scope.catalog.markDropped(ds.name, version.version);
  }
}

/**
 * A dataset version that an earlier step of the run wrote or read in another process (the queue
 * executor's workers), made what this process's steps get: the version's table, or a key-value
 * version's summary. A read is pinned, so every step of the run keeps reading that version.
 */
export async function adoptVersion(
  scope: RunScope,
  ds: DatasetRef<unknown>,
  record: { version: number; rows: number | null },
  direction: "read" | "write",
): Promise<void> {
  const storage = await scope.storages.open(ds.options.storage);
  const rows = record.rows ?? 0;
  if (direction === "read") {
    if (storage.tables)
      scope.datasetReads.set(
        ds.name,
        Promise.resolve(new TableHandle(storage.tables, versionTable(storage.tables, ds.name, record.version), rows)),
      );
    return;
  }
  scope.writtenVersions.set(ds.name, record.version);
  scope.outputs.set(
    ds.name,
    storage.tables
      ? new TableHandle(storage.tables, versionTable(storage.tables, ds.name, record.version), rows)
      : { dataset: ds.name, version: record.version, rows },
  );
}
