import type { Table } from "../pipeline/table.js";
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

  toJSON(): { table: string; rows: number } {
    return { table: this.name, rows: this.rowCount };
  }
}
