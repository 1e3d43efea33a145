import type { Batch, Table } from "../pipeline/table.js";
import type { TableEngine, TableName } from "../storage/table-engine.js";

/** A SQL step's output as TypeScript steps see it. */
export class TableHandle<Row = Record<string, unknown>> implements Table<Row> {
  readonly name: string;

  constructor(
    readonly engine: TableEngine,
    readonly table: TableName,
    readonly rowCount: number,
  ) {
    this.name = engine.qualifiedName(table);
  }

  rows(): Promise<Row[]> {
    return this.engine.readRows(this.table) as Promise<Row[]>;
  }

  count(): Promise<number> {
    return this.engine.count(this.table);
  }

  batches(batchSize = 10_000): AsyncIterable<Batch<Row>> {
    return this.engine.batches(this.table, batchSize) as AsyncIterable<Batch<Row>>;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Row> {
    for await (const batch of this.engine.batches(this.table, 10_000)) {
      const names = Object.keys(batch.columns);
      for (let i = 0; i < batch.length; i++) yield Object.fromEntries(names.map((n) => [n, batch.columns[n]![i]])) as Row;
    }
  }

  toJSON(): { table: string; rows: number } {
    return { table: this.name, rows: this.rowCount };
  }
}
