/**
 * The output of a SQL step: a table in the engine. A TypeScript step that takes it as an input
 * reads it through this handle; SQL steps use it in place, with no copy.
 */
export interface Table<Row = Record<string, unknown>> {
  /** The engine's qualified, quoted name, usable in SQL. */
  readonly name: string;
  /** All rows as plain objects (BIGINTs that fit become numbers). Mind the size. */
  rows(): Promise<Row[]>;
  count(): Promise<number>;
}
