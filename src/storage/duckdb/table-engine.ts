import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import { DuckDBInstance, type DuckDBValue } from "@duckdb/node-api";
import { SqlError } from "../../errors/errors.js";
import type { SqlLiteral } from "../../pipeline/sql.js";
import type { ResolvedQuery, TableEngine, TableName } from "../table-engine.js";

const quote = (ident: string): string => `"${ident.replace(/"/g, '""')}"`;

/** DuckDB hands BIGINTs back as bigint; numbers are friendlier where they are exact. */
function plain(value: unknown): unknown {
  if (typeof value === "bigint")
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  return value;
}

function toDuckValue(value: SqlLiteral): DuckDBValue {
  // Dates bind as ISO text; DuckDB casts them where a DATE or TIMESTAMP is compared.
  if (value instanceof Date) return value.toISOString();
  return value;
}

/** SQL steps on the embedded DuckDB: one database file per project, one schema per run. */
export class DuckDbTableEngine implements TableEngine {
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;
  readonly #schemas = new Set<string>();

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection) {
    this.#instance = instance;
    this.#connection = connection;
  }

  /** Opens (or creates) the database file; `:memory:` for a throwaway one. */
  static async open(path: string): Promise<DuckDbTableEngine> {
    try {
      if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
      const instance = await DuckDBInstance.create(path);
      return new DuckDbTableEngine(instance, await instance.connect());
    } catch (cause) {
      throw new SqlError("SQL_FAILED", `cannot open the DuckDB database ${path}: ${(cause as Error).message}`, {
        cause,
        details: { path },
      });
    }
  }

  qualifiedName(t: TableName): string {
    return `${quote(t.schema)}.${quote(t.table)}`;
  }

  async #ensureSchema(schema: string): Promise<void> {
    if (this.#schemas.has(schema)) return;
    await this.#connection.run(`create schema if not exists ${quote(schema)}`);
    this.#schemas.add(schema);
  }

  async createTableAs(target: TableName, query: ResolvedQuery, signal: AbortSignal): Promise<number> {
    await this.#ensureSchema(target.schema);
    const values: DuckDBValue[] = [];
    let text = query.strings[0] ?? "";
    query.parts.forEach((part, i) => {
      if ("table" in part) text += this.qualifiedName(part.table);
      else text += `$${values.push(toDuckValue(part.value))}`;
      text += query.strings[i + 1] ?? "";
    });
    // A connection of its own: interrupting it on abort must not stop another step's query.
    signal.throwIfAborted();
    const connection = await this.#instance.connect();
    const interrupt = (): void => connection.interrupt();
    signal.addEventListener("abort", interrupt, { once: true });
    try {
      await connection.run(`create or replace table ${this.qualifiedName(target)} as ${text}`, values);
    } catch (cause) {
      // The runner prefixes the step's name: the table is named after the output, which may differ.
      throw new SqlError("SQL_FAILED", (cause as Error).message, {
        cause,
        details: { table: target.table, sql: text },
      });
    } finally {
      signal.removeEventListener("abort", interrupt);
      connection.closeSync();
    }
    return this.count(target);
  }

  async createTableFromRows(target: TableName, rows: readonly Record<string, unknown>[]): Promise<number> {
    await this.#ensureSchema(target.schema);
    // JSON lines through a temp file: DuckDB infers the column types the way it does for files.
    const dir = mkdtempSync(join(tmpdir(), "strata-rows-"));
    try {
      const file = join(dir, "rows.jsonl");
      writeFileSync(file, rows.map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))).join("\n"));
      await this.#connection.run(
        `create or replace table ${this.qualifiedName(target)} as select * from read_json_auto(${`'${file.replace(/'/g, "''")}'`})`,
      );
    } catch (cause) {
      throw new SqlError("SQL_INPUT_INVALID", `cannot load output "${target.table}" into DuckDB: ${(cause as Error).message}`, {
        cause,
        details: { output: target.table },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return rows.length;
  }

  async readRows(table: TableName): Promise<Record<string, unknown>[]> {
    const reader = await this.#connection.runAndReadAll(`select * from ${this.qualifiedName(table)}`);
    const rows = reader.getRowObjectsJS() as Record<string, unknown>[];
    for (const row of rows) for (const key of Object.keys(row)) row[key] = plain(row[key]);
    return rows;
  }

  async count(table: TableName): Promise<number> {
    const reader = await this.#connection.runAndReadAll(`select count(*) as n from ${this.qualifiedName(table)}`);
    return Number(reader.getRows()[0]?.[0] ?? 0);
  }

  async exists(table: TableName): Promise<boolean> {
    const reader = await this.#connection.runAndReadAll(
      `select count(*) from information_schema.tables where table_schema = $1 and table_name = $2`,
      [table.schema, table.table],
    );
    return Number(reader.getRows()[0]?.[0] ?? 0) > 0;
  }

  close(): Promise<void> {
    this.#connection.closeSync();
    this.#instance.closeSync();
    return Promise.resolve();
  }
}
