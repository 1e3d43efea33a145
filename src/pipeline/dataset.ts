import type { ColumnSpec, RowOf, Schema } from "../data/column-types.js";
import { DagError } from "../errors/errors.js";
import type { CsvOptions } from "../storage/files/file-source.js";

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
  return { [DATASET]: true, name, options, columns } as unknown as DatasetRef<RowOf<S>>;
}

export function isDataset(value: unknown): value is DatasetRef<unknown> {
  return typeof value === "object" && value !== null && DATASET in value;
}
