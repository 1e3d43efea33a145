import type { SqlLiteral } from "../pipeline/sql.js";

/** A table inside an engine: a schema (one per run) and a name. */
export interface TableName {
  readonly schema: string;
  readonly table: string;
}

/** A `sql` template with its references resolved: tables to name, values to bind. */
export interface ResolvedQuery {
  readonly strings: readonly string[];
  readonly parts: readonly ({ readonly table: TableName } | { readonly value: SqlLiteral })[];
}

/**
 * The capability of running SQL steps inside an engine (DuckDB embedded; Postgres later).
 * Each technology implements it in src/storage/<technology>/table-engine.ts.
 */
export interface TableEngine {
  /** Runs the query and stores its result as `target`; returns the row count. */
  createTableAs(target: TableName, query: ResolvedQuery, signal: AbortSignal): Promise<number>;
  /** Stores plain objects as a table (types inferred); returns the row count. */
  createTableFromRows(target: TableName, rows: readonly Record<string, unknown>[]): Promise<number>;
  readRows(table: TableName): Promise<Record<string, unknown>[]>;
  count(table: TableName): Promise<number>;
  exists(table: TableName): Promise<boolean>;
  /** The quoted, qualified name, as SQL would write it. */
  qualifiedName(table: TableName): string;
  close(): Promise<void>;
}
