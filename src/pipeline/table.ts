/** Rows in columns: `columns.amount[i]` is row i's amount. */
export interface Batch<Row> {
  readonly length: number;
  readonly columns: { readonly [K in keyof Row]: readonly Row[K][] };
}

/**
 * A table a step reads: a SQL step's output, or a dataset version. TypeScript steps read it
 * whole, in streamed column batches, or row by row; SQL steps use it in place, with no copy.
 *
 * ```ts
 * for await (const batch of tx.batches(50_000)) total += batch.columns.amount.reduce((a, b) => a + b, 0);
 * for await (const row of tx) seen.add(row.customer_id);
 * ```
 */
export interface Table<Row = Record<string, unknown>> extends AsyncIterable<Row> {
  /** The engine's qualified, quoted name, usable in SQL. */
  readonly name: string;
  /** All rows as plain objects (BIGINTs that fit become numbers). Mind the size. */
  rows(): Promise<Row[]>;
  /** The rows in column batches of at most `batchSize` (default 10,000), streamed: memory stays flat. */
  batches(batchSize?: number): AsyncIterable<Batch<Row>>;
  count(): Promise<number>;
}
