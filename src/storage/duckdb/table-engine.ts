import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import {
  DuckDBDataChunk,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBTimestampValue,
  DuckDBTypeId,
  JSDuckDBValueConverter,
  type DuckDBConnection,
  type DuckDBResultReader,
  type DuckDBType,
  type DuckDBValue,
} from "@duckdb/node-api";
import { SqlError } from "../../errors/errors.js";
import { StrataError, isStrataError } from "../../errors/strata-error.js";
import type { ColumnKind } from "../../data/column-types.js";
import type { SqlLiteral } from "../../pipeline/sql.js";
import type { ColumnBatch, ColumnDef, ResolvedQuery, SqlDialect, TableEngine, TableName } from "../table-engine.js";

const quote = (ident: string): string => `"${ident.replace(/"/g, '""')}"`;
const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`;

const DEFAULT_BATCH_SIZE = 10_000;
/** Idle connections kept for reuse; more are opened when queries run at once, and closed after. */
const MAX_IDLE_CONNECTIONS = 4;
/** An alias view's comment: the target it was activated with, so aliasTarget needs no SQL parsing. */
const ALIAS_MARK = "strata:alias ";

/** DuckDB hands BIGINTs back as bigint; numbers are friendlier where they are exact. */
function plain(value: unknown): unknown {
  if (typeof value === "bigint")
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  return value;
}

/** `plain` through lists and structs, whose items come back as bigint too. */
function deepPlain(value: unknown): unknown {
  if (typeof value === "bigint") return plain(value);
  if (Array.isArray(value)) return value.map(deepPlain);
  if (value !== null && typeof value === "object" && !(value instanceof Date) && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepPlain(v)]));
  }
  return value;
}

const NESTED = new Set<DuckDBTypeId>([DuckDBTypeId.LIST, DuckDBTypeId.STRUCT, DuckDBTypeId.MAP, DuckDBTypeId.ARRAY, DuckDBTypeId.UNION]);

/** How each result column's JS values are finished: JSON parsed, BIGINTs made numbers where exact. */
function finisher(type: DuckDBType): ((value: unknown) => unknown) | undefined {
  if (type.alias === "JSON") return (v) => (typeof v === "string" ? JSON.parse(v) : v);
  if (NESTED.has(type.typeId)) return deepPlain;
  if (type.typeId === DuckDBTypeId.BIGINT || type.typeId === DuckDBTypeId.HUGEINT || type.typeId === DuckDBTypeId.UBIGINT) return plain;
  return undefined;
}

/** A result as plain objects: JSON parsed, BIGINTs made numbers where exact. */
function rowObjects(reader: DuckDBResultReader): Record<string, unknown>[] {
  const names = reader.deduplicatedColumnNames();
  const finish = reader.columnTypes().map(finisher);
  const columns = reader.convertColumns(JSDuckDBValueConverter);
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < reader.currentRowCount; i++) {
    const row: Record<string, unknown> = {};
    names.forEach((name, j) => {
      const value = columns[j]![i];
      const f = finish[j];
      row[name] = f && value !== null ? f(value) : value;
    });
    rows.push(row);
  }
  return rows;
}

function toDuckValue(value: SqlLiteral): DuckDBValue {
  // Dates bind as ISO text; DuckDB casts them where a DATE or TIMESTAMP is compared.
  if (value instanceof Date) return value.toISOString();
  return value;
}

function sqlType(column: ColumnDef): string {
  switch (column.kind) {
    case "string":
      return "VARCHAR";
    case "int":
      return "INTEGER";
    case "bigint":
      return "BIGINT";
    case "double":
      return "DOUBLE";
    case "decimal":
      return `DECIMAL(${column.precision ?? 18},${column.scale ?? 2})`;
    case "bool":
      return "BOOLEAN";
    case "date":
      return "DATE";
    case "timestamp":
      return "TIMESTAMP";
    case "json":
      return "JSON";
  }
}

const MS_PER_DAY = 86_400_000;
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/** A timestamp written as text: ISO or SQL style; without a zone it is UTC, as DuckDB's TIMESTAMP is. */
function parseTimestamp(text: string): number {
  const iso = text.trim().replace(" ", "T");
  const zoned = /([zZ]|[+-]\d\d(:?\d\d)?)$/.test(iso) || !iso.includes("T") ? iso : `${iso}Z`;
  return Date.parse(/^\d{4}-\d\d-\d\d$/.test(zoned) ? `${zoned}T00:00:00Z` : zoned);
}

/** A decimal number (text, number or bigint) scaled to `scale` digits, rounded half away from zero. */
function scaledDecimal(value: unknown, precision: number, scale: number): bigint | undefined {
  if (typeof value === "bigint") return value * 10n ** BigInt(scale);
  if (typeof value === "number" && !Number.isFinite(value)) return undefined;
  const text = typeof value === "number" ? String(value) : typeof value === "string" ? value.trim() : undefined;
  const m = text === undefined ? null : /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m || (m[2] === "" && !m[3])) return undefined;
  const digits = `${m[2] ?? ""}${m[3] ?? ""}`;
  // Position of the decimal point in `digits` once the exponent applies.
  const point = (m[2] ?? "").length + Number(m[4] ?? 0);
  const keep = point + scale;
  let scaled: bigint;
  if (keep <= 0) scaled = keep === 0 && Number(digits[0] ?? 0) >= 5 ? 1n : 0n;
  else if (keep >= digits.length) scaled = BigInt(digits.padEnd(keep, "0") || "0");
  else scaled = BigInt(digits.slice(0, keep)) + (Number(digits[keep]) >= 5 ? 1n : 0n);
  if (scaled >= 10n ** BigInt(precision)) return undefined;
  return m[1] === "-" ? -scaled : scaled;
}

/** Turns one JS value into what a DuckDB vector of the column's type holds; undefined when it cannot. */
function converter(column: ColumnDef): (value: unknown) => DuckDBValue | undefined {
  const kind: ColumnKind = column.kind;
  switch (kind) {
    case "string":
      return (v) =>
        typeof v === "string"
          ? v
          : v instanceof Date
            ? v.toISOString()
            : typeof v === "object"
              ? JSON.stringify(v)
              : String(v as number | bigint | boolean);
    case "int":
      return (v) => {
        const n = typeof v === "bigint" ? Number(v) : typeof v === "string" && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : v;
        return typeof n === "number" && Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX ? n : undefined;
      };
    case "bigint":
      return (v) => {
        if (typeof v === "bigint") return v;
        if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
        if (typeof v === "string" && /^\s*[+-]?\d+\s*$/.test(v)) return BigInt(v.trim());
        return undefined;
      };
    case "double":
      return (v) => {
        if (typeof v === "number") return v;
        if (typeof v === "bigint") return Number(v);
        if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v);
        return undefined;
      };
    case "decimal": {
      const precision = column.precision ?? 18;
      const scale = column.scale ?? 2;
      return (v) => {
        const scaled = scaledDecimal(v, precision, scale);
        return scaled === undefined ? undefined : new DuckDBDecimalValue(scaled, precision, scale);
      };
    }
    case "bool":
      return (v) => (typeof v === "boolean" ? v : undefined);
    case "date":
      return (v) => {
        const ms = v instanceof Date ? v.getTime() : typeof v === "string" ? parseTimestamp(v) : NaN;
        return Number.isNaN(ms) ? undefined : new DuckDBDateValue(Math.floor(ms / MS_PER_DAY));
      };
    case "timestamp":
      return (v) => {
        const ms = v instanceof Date ? v.getTime() : typeof v === "string" ? parseTimestamp(v) : NaN;
        return Number.isNaN(ms) ? undefined : new DuckDBTimestampValue(BigInt(ms) * 1000n);
      };
    case "json":
      // Always serialized, so a JS string round-trips as a string rather than being taken for JSON text.
      return (v) => JSON.stringify(v);
  }
}

export interface DuckDbTableEngineOptions {
  /** The storage's name, for messages. */
  readonly storage?: string;
}

/**
 * Tables on embedded DuckDB: one database file per project (a schema per run, or per dataset
 * storage), or `:memory:`.
 *
 * A file is opened through DuckDB's instance cache, so the engines of one process that open the
 * same file (a project's run tables and its dataset tables) share one database: DuckDB allows a
 * single writer process per file. Each engine holds its own handle and connections; DuckDB counts
 * the references and releases the file when the last engine closes, so closing one never breaks
 * another.
 */
export class DuckDbTableEngine implements TableEngine {
  /** One DuckDB file per storage: a fixed schema name keeps datasets apart from run tables. */
  readonly datasetSchema = "datasets";
  readonly #instance: DuckDBInstance;
  readonly #label: string;
  readonly #schemas = new Map<string, Promise<void>>();
  readonly #idle: DuckDBConnection[] = [];
  #activating: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(instance: DuckDBInstance, label: string) {
    this.#instance = instance;
    this.#label = label;
  }

  /** Opens (or creates) the database file; `:memory:` for a throwaway one. */
  static async open(path: string, options: DuckDbTableEngineOptions = {}): Promise<DuckDbTableEngine> {
    const memory = path === ":memory:";
    const full = memory ? path : resolve(path);
    const label = `${options.storage === undefined ? "DuckDB" : `storage "${options.storage}" (duckdb)`} ${full}`;
    try {
      if (!memory) mkdirSync(dirname(full), { recursive: true });
      const instance = memory ? await DuckDBInstance.create(full) : await DuckDBInstance.fromCache(full);
      return new DuckDbTableEngine(instance, label);
    } catch (cause) {
      const message = (cause as Error).message;
      // Another process holds the file: that passes, so it is worth a retry.
      const locked = /lock/i.test(message);
      throw new StrataError(locked ? "STORAGE_UNAVAILABLE" : "SQL_FAILED", `cannot open ${label}: ${message}`, {
        cause,
        details: { path: full },
      });
    }
  }

  qualifiedName(t: TableName): string {
    return `${quote(t.schema)}.${quote(t.table)}`;
  }

  async #connect(): Promise<DuckDBConnection> {
    if (this.#closed) throw new StrataError("STORAGE_UNAVAILABLE", `${this.#label} is closed`, { retryable: false });
    return this.#instance.connect();
  }

  #release(connection: DuckDBConnection, reuse: boolean): void {
    if (reuse && !this.#closed && this.#idle.length < MAX_IDLE_CONNECTIONS) {
      this.#idle.push(connection);
    } else {
      connection.closeSync();
    }
  }

  /**
   * Runs `use` on a connection of its own. Connections are not shared between concurrent calls:
   * a transaction or a streaming result on a shared one would capture the other calls' queries.
   * One that saw a failure is closed rather than reused, whatever state it was left in.
   */
  async #with<T>(use: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = this.#idle.pop() ?? (await this.#connect());
    let reuse = false;
    try {
      const result = await use(connection);
      reuse = true;
      return result;
    } finally {
      this.#release(connection, reuse);
    }
  }

  async #transaction<T>(use: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.#with(async (connection) => {
      await connection.run("begin transaction");
      try {
        const result = await use(connection);
        await connection.run("commit");
        return result;
      } catch (error) {
        await connection.run("rollback").catch(() => undefined);
        throw error;
      }
    });
  }

  #failed(cause: unknown, message: string, details: Record<string, unknown>): StrataError {
    if (isStrataError(cause)) return cause;
    return new SqlError("SQL_FAILED", `${message}: ${(cause as Error).message}`, { cause, details });
  }

  /**
   * DDL from two connections at once can meet in a write-write conflict on the catalog (two
   * queries creating the same schema, two flips of one alias). Trying again resolves it.
   */
  async #retryConflicts<T>(run: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        if (attempt >= 5 || !/conflict/i.test((error as Error).message)) throw error;
        await new Promise((r) => setTimeout(r, 5 * attempt));
      }
    }
  }

  #ensureSchema(schema: string): Promise<void> {
    let created = this.#schemas.get(schema);
    if (!created) {
      created = this.#retryConflicts(() => this.#with((c) => c.run(`create schema if not exists ${quote(schema)}`))).then(() => undefined);
      created.catch(() => this.#schemas.delete(schema));
      this.#schemas.set(schema, created);
    }
    return created;
  }

  /** The query's text with tables named and values as $n parameters. */
  #resolve(query: ResolvedQuery): { text: string; values: DuckDBValue[] } {
    const values: DuckDBValue[] = [];
    let text = query.strings[0] ?? "";
    query.parts.forEach((part, i) => {
      if ("table" in part) text += this.qualifiedName(part.table);
      else text += `$${values.push(toDuckValue(part.value))}`;
      text += query.strings[i + 1] ?? "";
    });
    return { text, values };
  }

  readonly dialect: SqlDialect = {
    regexFullMatch: (expr, pattern) => `regexp_full_match(${expr}, ${literal(pattern)})`,
  };

  async query(query: ResolvedQuery, signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    const { text, values } = this.#resolve(query);
    signal?.throwIfAborted();
    const connection = await this.#connect();
    const interrupt = (): void => connection.interrupt();
    signal?.addEventListener("abort", interrupt, { once: true });
    try {
      return rowObjects(await connection.runAndReadAll(text, values));
    } catch (cause) {
      throw new SqlError("SQL_FAILED", signal?.aborted ? `query interrupted: ${(cause as Error).message}` : (cause as Error).message, {
        cause,
        details: { sql: text },
      });
    } finally {
      signal?.removeEventListener("abort", interrupt);
      this.#release(connection, false);
    }
  }

  async createTableAs(target: TableName, query: ResolvedQuery, signal: AbortSignal): Promise<number> {
    await this.#ensureSchema(target.schema);
    const { text, values } = this.#resolve(query);
    // A fresh connection, closed after: interrupting it on abort must not stop another query,
    // and an interrupt that lands late must not hit the next user of a reused connection.
    signal.throwIfAborted();
    const connection = await this.#connect();
    const interrupt = (): void => connection.interrupt();
    signal.addEventListener("abort", interrupt, { once: true });
    try {
      await connection.run(`create or replace table ${this.qualifiedName(target)} as ${text}`, values);
    } catch (cause) {
      // The runner prefixes the step's name: the table is named after the output, which may differ.
      const message = (cause as Error).message;
      throw new SqlError("SQL_FAILED", signal.aborted ? `query interrupted: ${message}` : message, {
        cause,
        details: { table: target.table, sql: text },
      });
    } finally {
      signal.removeEventListener("abort", interrupt);
      this.#release(connection, false);
    }
    return this.count(target);
  }

  async createTableFromRows(target: TableName, rows: readonly Record<string, unknown>[], columns?: readonly ColumnDef[]): Promise<number> {
    if (!columns && rows.length === 0) {
      throw new SqlError("SQL_INPUT_INVALID", `cannot infer the columns of "${target.table}" from zero rows: give its columns`, {
        details: { output: target.table },
      });
    }
    await this.#ensureSchema(target.schema);
    try {
      if (columns) await this.#appendRows(target, rows, columns);
      else await this.#loadInferred(target, rows);
    } catch (cause) {
      if (isStrataError(cause)) throw cause;
      throw new SqlError("SQL_INPUT_INVALID", `cannot load "${target.table}" into DuckDB: ${(cause as Error).message}`, {
        cause,
        details: { output: target.table },
      });
    }
    return rows.length;
  }

  /** Typed columns: create the table, then fill it chunk by chunk through an appender, in one transaction. */
  async #appendRows(target: TableName, rows: readonly Record<string, unknown>[], columns: readonly ColumnDef[]): Promise<void> {
    if (columns.length === 0) throw new SqlError("SQL_INPUT_INVALID", `"${target.table}" needs at least one column`);
    const definition = columns.map((c) => `${quote(c.name)} ${sqlType(c)}${c.nullable ? "" : " NOT NULL"}`).join(", ");
    const converters = columns.map(converter);
    await this.#transaction(async (connection) => {
      await connection.run(`create or replace table ${this.qualifiedName(target)} (${definition})`);
      const appender = await connection.createAppender(target.table, target.schema);
      try {
        const types = columns.map((_, j) => appender.columnType(j));
        const size = 2048; // DuckDB's vector size: the most one chunk holds
        for (let start = 0; start < rows.length; start += size) {
          const count = Math.min(size, rows.length - start);
          const chunk = DuckDBDataChunk.create(types, count);
          columns.forEach((column, j) => {
            const convert = converters[j]!;
            const values = new Array<DuckDBValue>(count);
            for (let i = 0; i < count; i++) {
              const raw = rows[start + i]![column.name];
              if (raw === null || raw === undefined) {
                if (!column.nullable) {
                  throw new SqlError(
                    "SQL_INPUT_INVALID",
                    `cannot load "${target.table}": row ${start + i + 1}, column "${column.name}" is null, and may not be`,
                    {
                      details: { output: target.table, row: start + i + 1, column: column.name },
                    },
                  );
                }
                values[i] = null;
                continue;
              }
              const value = convert(raw);
              if (value === undefined) {
                throw new SqlError(
                  "SQL_INPUT_INVALID",
                  `cannot load "${target.table}": row ${start + i + 1}, column "${column.name}": ${describeValue(raw)} is not a ${sqlType(column)}`,
                  { details: { output: target.table, row: start + i + 1, column: column.name } },
                );
              }
              values[i] = value;
            }
            chunk.setColumnValues(j, values);
          });
          appender.appendDataChunk(chunk);
        }
      } catch (error) {
        appender.clear();
        throw error;
      } finally {
        appender.closeSync();
      }
    });
  }

  /** Inferred columns: JSON lines through a temp file, so DuckDB infers types as it does for files. */
  async #loadInferred(target: TableName, rows: readonly Record<string, unknown>[]): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), "strata-rows-"));
    try {
      const file = join(dir, "rows.jsonl");
      // JSON has no bigint: each is written as a marked string, then unquoted into a bare number.
      const mark = `strata-bigint-${Math.random().toString(36).slice(2)}:`;
      const bare = new RegExp(`"${mark}(-?\\d+)"`, "g");
      const replacer = (_key: string, value: unknown): unknown => (typeof value === "bigint" ? `${mark}${value}` : value);
      const fd = openSync(file, "w");
      try {
        for (let start = 0; start < rows.length; start += 10_000) {
          const lines = rows.slice(start, start + 10_000).map((r) => JSON.stringify(r, replacer));
          writeSync(fd, `${lines.join("\n").replace(bare, "$1")}\n`);
        }
      } finally {
        closeSync(fd);
      }
      // Every row is sampled: a column whose type changes after the first rows must not fail the load.
      await this.#with((c) =>
        c.run(
          `create or replace table ${this.qualifiedName(target)} as select * from read_json_auto(${literal(file)}, format = 'newline_delimited', sample_size = -1)`,
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async readRows(table: TableName): Promise<Record<string, unknown>[]> {
    try {
      return await this.#with(async (connection) =>
        rowObjects(await connection.runAndReadAll(`select * from ${this.qualifiedName(table)}`)),
      );
    } catch (cause) {
      throw this.#failed(cause, `cannot read ${this.qualifiedName(table)}`, { table: table.table });
    }
  }

  async *batches(table: TableName, batchSize = DEFAULT_BATCH_SIZE): AsyncIterable<ColumnBatch> {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new SqlError("SQL_INPUT_INVALID", `batch size must be a positive integer, not ${batchSize}`);
    // A connection of its own for the whole iteration: another query on it would end the stream.
    const connection = await this.#connect();
    try {
      let result;
      try {
        result = await connection.stream(`select * from ${this.qualifiedName(table)}`);
      } catch (cause) {
        throw this.#failed(cause, `cannot read ${this.qualifiedName(table)}`, { table: table.table });
      }
      const names = result.deduplicatedColumnNames();
      const finish = result.columnTypes().map(finisher);
      let pending: unknown[][] = names.map(() => []);
      let length = 0;
      const take = (): ColumnBatch => {
        const batch = { length, columns: Object.fromEntries(names.map((name, j) => [name, pending[j]!])) };
        pending = names.map(() => []);
        length = 0;
        return batch;
      };
      for (;;) {
        let chunk;
        try {
          chunk = await result.fetchChunk();
        } catch (cause) {
          throw this.#failed(cause, `cannot read ${this.qualifiedName(table)}`, { table: table.table });
        }
        if (!chunk || chunk.rowCount === 0) break;
        const columns = chunk.convertColumns(JSDuckDBValueConverter);
        for (let offset = 0; offset < chunk.rowCount;) {
          const n = Math.min(batchSize - length, chunk.rowCount - offset);
          columns.forEach((values, j) => {
            const target = pending[j]!;
            const f = finish[j];
            for (let i = offset; i < offset + n; i++) {
              const value = values[i] ?? null;
              target.push(f && value !== null ? f(value) : value);
            }
          });
          length += n;
          offset += n;
          if (length === batchSize) yield take();
        }
      }
      if (length > 0) yield take();
    } finally {
      this.#release(connection, false);
    }
  }

  async #scalar(sql: string, values: DuckDBValue[] = []): Promise<DuckDBValue | undefined> {
    return this.#with(async (c) => (await c.runAndReadAll(sql, values)).getRows()[0]?.[0]);
  }

  async count(table: TableName): Promise<number> {
    try {
      return Number((await this.#scalar(`select count(*) from ${this.qualifiedName(table)}`)) ?? 0);
    } catch (cause) {
      throw this.#failed(cause, `cannot count ${this.qualifiedName(table)}`, { table: table.table });
    }
  }

  async #kind(table: TableName): Promise<"table" | "view" | undefined> {
    const type = await this.#scalar(`select table_type from information_schema.tables where table_schema = $1 and table_name = $2`, [
      table.schema,
      table.table,
    ]);
    return type === undefined ? undefined : type === "VIEW" ? "view" : "table";
  }

  async exists(table: TableName): Promise<boolean> {
    return (await this.#kind(table)) !== undefined;
  }

  async describe(table: TableName): Promise<{ name: string; type: string }[]> {
    const rows = await this.#with(async (c) =>
      (
        await c.runAndReadAll(
          `select column_name, data_type from information_schema.columns where table_schema = $1 and table_name = $2 order by ordinal_position`,
          [table.schema, table.table],
        )
      ).getRows(),
    );
    if (rows.length === 0)
      throw new SqlError("SQL_FAILED", `table ${this.qualifiedName(table)} does not exist`, { details: { table: table.table } });
    return rows.map(([name, type]) => ({ name: String(name), type: String(type) }));
  }

  async activate(alias: TableName, target: TableName): Promise<void> {
    if (alias.schema === target.schema && alias.table === target.table) {
      throw new SqlError("SQL_FAILED", `cannot make ${this.qualifiedName(alias)} an alias of itself`, { details: { table: alias.table } });
    }
    await this.#ensureSchema(alias.schema);
    const mark = literal(ALIAS_MARK + JSON.stringify({ schema: target.schema, table: target.table }));
    const flip = (): Promise<void> =>
      this.#transaction(async (c) => {
        await c.run(`create or replace view ${this.qualifiedName(alias)} as select * from ${this.qualifiedName(target)}`);
        await c.run(`comment on view ${this.qualifiedName(alias)} is ${mark}`);
      });
    // Flips through this engine go one at a time; one from another engine on the same file can
    // still conflict with this one, and is retried.
    const run = this.#activating.then(async () => {
      try {
        await this.#retryConflicts(flip);
      } catch (cause) {
        throw this.#failed(cause, `cannot point ${this.qualifiedName(alias)} at ${this.qualifiedName(target)}`, {
          table: alias.table,
          target: target.table,
        });
      }
    });
    this.#activating = run.catch(() => undefined);
    await run;
  }

  async aliasTarget(alias: TableName): Promise<TableName | null> {
    const comment = await this.#scalar(
      `select comment from duckdb_views() where database_name = current_database() and schema_name = $1 and view_name = $2`,
      [alias.schema, alias.table],
    );
    return parseAliasMark(comment);
  }

  async drop(table: TableName): Promise<void> {
    const kind = await this.#kind(table);
    if (kind === undefined) return;
    try {
      if (kind === "table") {
        // DuckDB does not track what views read, so a live table would vanish from under its alias.
        const views = await this.#with(async (c) =>
          (
            await c.runAndReadAll(
              `select schema_name, view_name, comment from duckdb_views() where database_name = current_database() and starts_with(comment, $1)`,
              [ALIAS_MARK],
            )
          ).getRows(),
        );
        for (const [schema, view, comment] of views) {
          const target = parseAliasMark(comment);
          if (target?.schema === table.schema && target.table === table.table) {
            const alias = this.qualifiedName({ schema: String(schema), table: String(view) });
            throw new SqlError(
              "SQL_FAILED",
              `cannot drop ${this.qualifiedName(table)}: alias ${alias} points at it (activate another table first)`,
              {
                details: { table: table.table, alias },
              },
            );
          }
        }
      }
      await this.#with((c) => c.run(`drop ${kind} if exists ${this.qualifiedName(table)}`));
    } catch (cause) {
      throw this.#failed(cause, `cannot drop ${this.qualifiedName(table)}`, { table: table.table });
    }
  }

  /** The DuckDB version and how many tables the database holds, for a storage's health line. */
  async stats(): Promise<{ version: string; tables: number }> {
    const [row] = await this.#with(async (c) =>
      (
        await c.runAndReadAll(`select version(), (select count(*) from duckdb_tables() where database_name = current_database())`)
      ).getRows(),
    );
    return { version: String(row?.[0]), tables: Number(row?.[1] ?? 0) };
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    // Connections busy in a query close when it ends (#release sees #closed); until then they
    // keep the database alive, as they keep it for any other engine sharing the file.
    for (const connection of this.#idle.splice(0)) connection.closeSync();
    this.#instance.closeSync();
    return Promise.resolve();
  }
}

function parseAliasMark(comment: unknown): TableName | null {
  if (typeof comment !== "string" || !comment.startsWith(ALIAS_MARK)) return null;
  try {
    const target = JSON.parse(comment.slice(ALIAS_MARK.length)) as { schema?: unknown; table?: unknown };
    return typeof target.schema === "string" && typeof target.table === "string" ? { schema: target.schema, table: target.table } : null;
  } catch {
    return null;
  }
}

function describeValue(value: unknown): string {
  const text =
    value instanceof Date ? `Date(${value.toString()})` : typeof value === "bigint" ? `${value}n` : String(JSON.stringify(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
