import type { ColumnKind } from "../data/column-types.js";
import type { SqlLiteral } from "../pipeline/sql.js";

/** A table inside an engine: a schema (one per run, or one per dataset storage) and a name. */
export interface TableName {
  readonly schema: string;
  readonly table: string;
}

/** A `sql` template with its references resolved: tables to name, values to bind. */
export interface ResolvedQuery {
  readonly strings: readonly string[];
  readonly parts: readonly ({ readonly table: TableName } | { readonly value: SqlLiteral })[];
}

/** A column of a table to create, when its type is known rather than inferred. */
export interface ColumnDef {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly nullable: boolean;
  readonly precision?: number;
  readonly scale?: number;
}

/** Rows in columns: `columns[name][i]` is row i's value. What TypeScript steps stream over. */
export interface ColumnBatch {
  readonly length: number;
  readonly columns: Readonly<Record<string, readonly unknown[]>>;
}

/** SQL that differs between engines, for checks compiled to SQL (expectations). */
export interface SqlDialect {
  /** A boolean expression: `expr` (text) matches `pattern` (a regular expression) in full. */
  regexFullMatch(expr: string, pattern: string): string;
}

/**
 * The capability of holding tables and running SQL steps inside an engine (DuckDB embedded,
 * Postgres). Each technology implements it in src/storage/<technology>/table-engine.ts, and
 * test/conformance/table-engine.suite.ts runs the same cases against every one of them.
 */
export interface TableEngine {
  /**
   * The schema this storage's datasets live in (versions and their alias views). Each Postgres
   * storage has its own (its `schema` option), so projects sharing a database do not collide.
   */
  readonly datasetSchema: string;
  /** Runs the query and stores its result as `target` (replacing it); returns the row count. */
  createTableAs(target: TableName, query: ResolvedQuery, signal: AbortSignal): Promise<number>;
  /**
   * Stores plain objects as a table (replacing it); returns the row count. With `columns` the
   * table gets exactly those columns and types; without, types are inferred from the values.
   */
  createTableFromRows(target: TableName, rows: readonly Record<string, unknown>[], columns?: readonly ColumnDef[]): Promise<number>;
  /**
   * Runs a query and returns its rows as plain objects: a SELECT, or a DELETE ... RETURNING.
   * For small results (aggregates, samples); big tables go through `batches`.
   */
  query(query: ResolvedQuery, signal?: AbortSignal): Promise<Record<string, unknown>[]>;
  readonly dialect: SqlDialect;
  /** All rows as plain objects (BIGINTs that fit become numbers). */
  readRows(table: TableName): Promise<Record<string, unknown>[]>;
  /** The rows in column batches of at most `batchSize`, streamed: memory stays flat on big tables. */
  batches(table: TableName, batchSize?: number): AsyncIterable<ColumnBatch>;
  count(table: TableName): Promise<number>;
  exists(table: TableName): Promise<boolean>;
  /** Column names and engine types, in order. */
  describe(table: TableName): Promise<{ name: string; type: string }[]>;
  /**
   * Points `alias` (a view) at `target` in one atomic step: a reader sees the old table or the
   * new one, never neither and never a mix. This is how a dataset version goes live.
   */
  activate(alias: TableName, target: TableName): Promise<void>;
  /** The table `alias` points at, or null when it is not (yet) an alias. */
  aliasTarget(alias: TableName): Promise<TableName | null>;
  /** Drops a table if it exists. */
  drop(table: TableName): Promise<void>;
  /** The quoted, qualified name, as SQL would write it. */
  qualifiedName(table: TableName): string;
  close(): Promise<void>;
}
