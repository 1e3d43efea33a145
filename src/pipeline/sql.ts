import { isDataset, type DatasetRef } from "./dataset.js";
import { isParamRef, isStepRef, type ParamRef, type StepRef } from "./refs.js";

const SQL_QUERY = Symbol.for("strata.sqlQuery");

/** A literal bound as a query parameter (never spliced into the SQL text). */
export type SqlLiteral = string | number | boolean | bigint | Date | null;

/**
 * A piece interpolated into a `sql` template:
 * - a string names one of the step's inputs (a table),
 * - a StepRef is another step's output (a table; it becomes an input of the step),
 * - a dataset is its live version (or the one this run writes); it becomes an input too,
 * - a ParamRef is a run parameter, bound as a value,
 * - `sql.value(x)` binds a literal.
 */
export type SqlPart = string | StepRef<unknown> | ParamRef<unknown> | DatasetRef<unknown> | SqlValue;

export interface SqlValue {
  readonly kind: "value";
  readonly value: SqlLiteral;
}

/** A SQL query template. `Row` types the rows of the table it produces. */
export interface SqlQuery<Row = Record<string, unknown>> {
  readonly [SQL_QUERY]: true;
  readonly strings: readonly string[];
  readonly parts: readonly SqlPart[];
  readonly __row?: Row;
}

/**
 * Tag for a SQL step's query; it runs inside the engine with its inputs attached as tables.
 *
 * ```ts
 * step("summary", { inputs: { tx } }, sql`select customer_id, count(*) as n from ${"tx"} group by 1`)
 * ```
 */
export function sql<Row = Record<string, unknown>>(strings: TemplateStringsArray, ...parts: SqlPart[]): SqlQuery<Row> {
  return { [SQL_QUERY]: true, strings: [...strings], parts };
}

/** Binds a literal value into a `sql` template. */
sql.value = (value: SqlLiteral): SqlValue => ({ kind: "value", value });

export function isSqlQuery(value: unknown): value is SqlQuery {
  return typeof value === "object" && value !== null && SQL_QUERY in value;
}

/** Step outputs and datasets written straight into a query: inputs even if not listed in `inputs`. */
export function sqlTableRefs(query: SqlQuery): (StepRef<unknown> | DatasetRef<unknown>)[] {
  return query.parts.filter((p): p is StepRef<unknown> | DatasetRef<unknown> => isStepRef(p) || isDataset(p));
}

export function isSqlValue(part: SqlPart): part is SqlValue {
  return typeof part === "object" && !isStepRef(part) && !isParamRef(part) && !isDataset(part);
}
