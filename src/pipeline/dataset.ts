import type { ColumnSpec, RowOf, Schema } from "../data/column-types.js";
import { DagError } from "../errors/errors.js";
import type { CsvOptions } from "../storage/files/file-source.js";
import type { Expectation } from "../validation/expectations.js";
import type { RecordRule, UnknownFields } from "../validation/record-rules.js";

export type { CsvOptions };

const DATASET = Symbol.for("strata.dataset");
declare const phantom: unique symbol;

export interface DatasetOptions<S extends Schema = Schema> {
  /** The named storage holding it (see `strata storage list`). */
  readonly storage: string;
  readonly schema: S;
  /** For a key-value storage: the column each document is found by. For a table: its unique key. */
  readonly key?: Extract<keyof S, string>;
  /** A date (or other) column: a step can then write one partition at a time. */
  readonly partitionBy?: Extract<keyof S, string>;
  /** Versions kept for rollback. Default 5. */
  readonly keep?: number;
  readonly description?: string;
  /** In a `files` storage: the file or glob, relative to the storage's folder. */
  readonly path?: string;
  /** In a `files` storage: how the files are written. Default from the extension, else csv. */
  readonly format?: "csv" | "jsonl" | "parquet";
  readonly csv?: CsvOptions;
  /**
   * A raw files dataset: records that do not pass its checks go to the quarantine, with every
   * reason, instead of failing the run. `maxRate` (0..1): the step fails anyway when a bigger
   * share is rejected (the source has probably changed), after keeping every reject.
   */
  readonly quarantine?: boolean | { readonly maxRate?: number };
  /** Cross-field record rules (`rule.sql`, `rule.ts`), checked at ingestion with the columns' own checks. */
  readonly rules?: readonly RecordRule[];
  /** Fields in the files that the schema does not name: reject the record (default), drop them, or keep them in `_extra`. */
  readonly unknownFields?: UnknownFields;
  /** Checked on every new version before it goes live, and by `strata validate <dataset>`. */
  readonly expectations?: readonly Expectation[];
}

/**
 * A named dataset: a step input (it reads the live version, recorded in the run's lineage) or a
 * step's output (each run writes a new version, made live atomically when it is whole and matches
 * the schema).
 */
export interface DatasetRef<Row = Record<string, unknown>> {
  readonly [DATASET]: true;
  readonly name: string;
  readonly options: DatasetOptions;
  readonly columns: Readonly<Record<string, ColumnSpec>>;
  readonly [phantom]?: Row;
}

const NAME = /^[a-z_][a-z0-9_]*$/;

/**
 * Declares a dataset.
 *
 * ```ts
 * const tx = dataset("raw_transactions", { storage: "lake", path: "CDNOW_master.txt", csv: { whitespace: true },
 *   schema: { customer_id: t.string(), date: t.date("%Y%m%d"), cds: t.int().min(0), amount: t.double().min(0) } });
 * ```
 */
export function dataset<const S extends Schema>(name: string, options: DatasetOptions<S>): DatasetRef<RowOf<S>> {
  const fail = (message: string, field: string): never => {
    throw new DagError("DATASET_INVALID", `dataset "${name}": ${message}`, { details: { dataset: name, field } });
  };
  if (!NAME.test(name)) fail(`the name must match ${NAME.source} (it becomes a table name)`, "name");
  const columns = Object.fromEntries(Object.entries(options.schema).map(([column, type]) => [column, type.spec]));
  if (!Object.keys(columns).length) fail("the schema has no columns", "schema");
  for (const field of ["key", "partitionBy"] as const) {
    const column = options[field];
    if (column !== undefined && !(column in columns))
      fail(`${field} "${column}" is not a column of its schema (${Object.keys(columns).join(", ")})`, field);
  }
  if (options.keep !== undefined && (!Number.isInteger(options.keep) || options.keep < 1)) fail("keep must be a whole number >= 1", "keep");
  for (const column of Object.keys(columns))
    if (column.startsWith("__")) fail(`column "${column}": names starting with "__" are reserved`, "schema");
  if (options.unknownFields !== undefined && !["reject", "drop", "keep"].includes(options.unknownFields))
    fail(`unknownFields must be "reject", "drop" or "keep", not ${JSON.stringify(options.unknownFields)}`, "unknownFields");
  const maxRate = typeof options.quarantine === "object" ? options.quarantine.maxRate : undefined;
  if (maxRate !== undefined && !(maxRate >= 0 && maxRate <= 1)) fail(`quarantine.maxRate must be in [0, 1], not ${maxRate}`, "quarantine");
  const ruleNames = (options.rules ?? []).map((r) => r.name);
  const twice = ruleNames.find((n, i) => ruleNames.indexOf(n) !== i);
  if (twice) fail(`two rules are named "${twice}"`, "rules");
  for (const e of options.expectations ?? []) {
    const missing = expectationColumns(e).filter((c) => !(c in columns));
    if (missing.length)
      fail(`expectation ${e.id}: no column ${missing.map((c) => JSON.stringify(c)).join(", ")} in its schema`, "expectations");
  }
  return { [DATASET]: true, name, options, columns } as unknown as DatasetRef<RowOf<S>>;
}

export function isDataset(value: unknown): value is DatasetRef<unknown> {
  return typeof value === "object" && value !== null && DATASET in value;
}

/** The columns an expectation names (checked against a schema where one is known). */
export function expectationColumns(e: Expectation): string[] {
  switch (e.kind) {
    case "unique":
    case "references":
      return [...e.columns];
    case "rowCount":
    case "sql":
      return [];
    default:
      return [e.column];
  }
}
