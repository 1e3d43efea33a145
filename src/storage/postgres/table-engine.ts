import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { SqlError } from "../../errors/errors.js";
import { StrataError, isStrataError } from "../../errors/strata-error.js";
import type { SqlLiteral } from "../../pipeline/sql.js";
import { isConnectionError, quoteIdent as quote, serverOf } from "./connection.js";
import type { ColumnBatch, ColumnDef, ResolvedQuery, SqlDialect, TableEngine, TableName } from "../table-engine.js";

const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`;

const DEFAULT_BATCH_SIZE = 10_000;
/** An alias view's comment: the target it was activated with, so aliasTarget needs no SQL parsing. */
const ALIAS_MARK = "strata:alias ";
/** Rows per piece written to COPY: big enough to amortize, small enough to keep memory flat. */
const COPY_ROWS = 2_000;

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/** A numeric with at most 15 significant digits survives a trip through a double exactly. */
function numericValue(text: string): number | string {
  const digits = text.replace(/^[+-]/, "").replace(".", "").replace(/^0+/, "").replace(/0+$/, "");
  return digits.length <= 15 || text === "NaN" ? Number(text) : text;
}

function int8Value(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

// The server's text, read the way DuckDB hands values back: BIGINTs and decimals as numbers where
// exact, DATE as midnight UTC and TIMESTAMP (without zone) as UTC, whatever the process's zone.
const PARSERS: Record<number, (text: string) => unknown> = {
  20: int8Value,
  1700: numericValue,
  1082: (text) => (/^\d{4}-\d\d-\d\d$/.test(text) ? new Date(`${text}T00:00:00Z`) : text),
  1114: (text) => (/^\d{4}-\d\d-\d\d /.test(text) ? new Date(`${text.replace(" ", "T")}Z`) : text),
};

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    PARSERS[oid] ?? pg.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
};

function sqlType(column: ColumnDef): string {
  switch (column.kind) {
    case "string":
      return "text";
    case "int":
      return "integer";
    case "bigint":
      return "bigint";
    case "double":
      return "double precision";
    case "decimal":
      return `numeric(${column.precision ?? 18},${column.scale ?? 2})`;
    case "bool":
      return "boolean";
    case "date":
      return "date";
    case "timestamp":
      return "timestamp";
    case "json":
      return "jsonb";
  }
}

/**
 * A parameter's placeholder. Strings, Dates (as ISO text) and nulls stay untyped so the server
 * reads them as whatever they meet (a date column, a jsonb function); numbers and booleans get a
 * type, or `select ${5} as n` would make a text column where DuckDB makes a number.
 */
function placeholder(n: number, value: SqlLiteral): string {
  if (typeof value === "boolean") return `$${n}::boolean`;
  if (typeof value === "bigint") return `$${n}::bigint`;
  if (typeof value === "number") {
    if (Number.isInteger(value)) return value >= INT32_MIN && value <= INT32_MAX ? `$${n}::integer` : `$${n}::bigint`;
    return `$${n}::double precision`;
  }
  return `$${n}`;
}

function bindValue(value: SqlLiteral): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** What type a column gets when only its values are known: the narrowest that holds them all. */
function inferType(rows: readonly Record<string, unknown>[], name: string): string {
  let bool = false;
  let int = false;
  let big = false;
  let float = false;
  let date = false;
  let text = false;
  let object = false;
  for (const row of rows) {
    const v = row[name];
    if (v === null || v === undefined) continue;
    if (typeof v === "boolean") bool = true;
    else if (typeof v === "bigint") big = true;
    else if (typeof v === "number") {
      if (!Number.isInteger(v)) float = true;
      else if (v < INT32_MIN || v > INT32_MAX) big = true;
      else int = true;
    } else if (v instanceof Date) date = true;
    else if (typeof v === "string") text = true;
    else object = true;
  }
  const kinds = [bool, int || big || float, date, text, object].filter(Boolean).length;
  if (kinds === 0) return "text";
  if (kinds > 1) return object ? "jsonb" : "text";
  if (bool) return "boolean";
  if (float) return "double precision";
  if (big) return "bigint";
  if (int) return "integer";
  if (date) return "timestamp";
  return object ? "jsonb" : "text";
}

/** Every key of the rows, in the order each first appears. */
function columnNames(rows: readonly Record<string, unknown>[]): string[] {
  const names = new Set<string>();
  for (const row of rows) for (const key in row) names.add(key);
  return [...names];
}

/** COPY's text format: backslash escapes, `\N` for null. */
function copyText(text: string): string {
  return text.replace(/[\\\n\r\t]/g, (c) => (c === "\\" ? "\\\\" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\\t"));
}

function copyValue(value: unknown, type: string): string {
  if (value === null || value === undefined) return "\\N";
  // JSON columns always take the value serialized, so a JS string round-trips as a string.
  if (type === "jsonb") return copyText(JSON.stringify(value));
  if (value instanceof Date) return type === "date" ? value.toISOString().slice(0, 10) : value.toISOString();
  if (typeof value === "boolean") return value ? "t" : "f";
  if (typeof value === "object") return copyText(JSON.stringify(value));
  return copyText(String(value as string | number | bigint));
}

export interface PostgresTableEngineOptions {
  /** postgres://user:password@host:port/database. Never appears in a message. */
  readonly url: string;
  /** Where unqualified names in SQL resolve (search_path). Default "public". */
  readonly schema?: string;
  /** Connections at most. Default 10. */
  readonly poolSize?: number;
  /** The storage's name, for messages. */
  readonly storage?: string;
}

/**
 * Tables on a PostgreSQL server, through a pool. Nothing connects until the first use, so a
 * storage whose server is down still opens and reports its health; every call that cannot reach
 * the server is STORAGE_UNAVAILABLE (retryable), and the pool reconnects once it is back.
 */
export class PostgresTableEngine implements TableEngine {
  readonly schema: string;
  /** Datasets live in the storage's own schema: projects sharing a database stay apart. */
  get datasetSchema(): string {
    return this.schema;
  }
  readonly #pool: pg.Pool;
  readonly #config: pg.PoolConfig;
  readonly #label: string;
  readonly #server: string;
  readonly #schemas = new Map<string, Promise<void>>();
  #closed = false;

  constructor(options: PostgresTableEngineOptions) {
    this.schema = options.schema ?? "public";
    this.#server = serverOf(options.url, options.storage === undefined ? "postgres" : `storage "${options.storage}"`);
    this.#label = options.storage === undefined ? `postgres ${this.#server}` : `storage "${options.storage}" (postgres ${this.#server})`;
    this.#config = {
      connectionString: options.url,
      max: options.poolSize ?? 10,
      types,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: "strata",
      options: `-c search_path=${this.schema.replace(/[\\ ]/g, "\\$&")}`,
    };
    this.#pool = new pg.Pool(this.#config);
    // An idle connection that breaks (server restart) is dropped by the pool; without a listener
    // its error would crash the process.
    this.#pool.on("error", () => undefined);
  }

  /** host:port/database, without user or password: what messages name. */
  get server(): string {
    return this.#server;
  }

  qualifiedName(t: TableName): string {
    return `${quote(t.schema)}.${quote(t.table)}`;
  }

  #unavailable(cause: unknown): StrataError {
    return new StrataError("STORAGE_UNAVAILABLE", `${this.#label} is unavailable: ${(cause as Error).message}`, {
      cause,
      details: { server: this.#server },
    });
  }

  /** A server error as SQL_FAILED with its message, hint and position (shifted by `offset` into the caller's SQL). */
  #failed(cause: unknown, context: string, details: Record<string, unknown>, offset = 0): StrataError {
    if (isStrataError(cause)) return cause;
    if (isConnectionError(cause)) return this.#unavailable(cause);
    const e = cause as pg.DatabaseError;
    let message = context ? `${context}: ${e.message}` : e.message;
    const position = e.position === undefined ? undefined : Number(e.position) - offset;
    if (position !== undefined && position > 0) message += ` (at character ${position})`;
    if (e.detail) message += `. ${e.detail}`;
    if (e.hint) message += `. Hint: ${e.hint}`;
    return new SqlError("SQL_FAILED", message, {
      cause,
      details: {
        ...details,
        ...(e.code === undefined ? {} : { sqlState: e.code }),
        ...(position !== undefined && position > 0 ? { position } : {}),
      },
    });
  }

  async #client(): Promise<pg.PoolClient> {
    if (this.#closed) throw new StrataError("STORAGE_UNAVAILABLE", `${this.#label} is closed`, { retryable: false });
    try {
      return await this.#pool.connect();
    } catch (cause) {
      throw this.#unavailable(cause);
    }
  }

  /** Runs `use` on a pooled client; a client whose connection broke is dropped, not reused. */
  async #with<T>(use: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#client();
    let broken: Error | undefined;
    try {
      return await use(client);
    } catch (error) {
      if (isConnectionError(error)) broken = error as Error;
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async #transaction<T>(client: pg.PoolClient, use: () => Promise<T>): Promise<T> {
    await client.query("begin");
    try {
      const result = await use();
      await client.query("commit");
      return result;
    } catch (error) {
      await client.query("rollback").catch(() => undefined);
      throw error;
    }
  }

  async #query(sql: string, values: unknown[] = []): Promise<pg.QueryResult> {
    return this.#with((client) => client.query(sql, values));
  }

  #ensureSchema(schema: string): Promise<void> {
    let created = this.#schemas.get(schema);
    if (!created) {
      created = this.#query(`create schema if not exists ${quote(schema)}`).then(
        () => undefined,
        (error: unknown) => {
          // Two sessions creating the same schema at once: the loser fails on a unique index.
          if ((error as { code?: unknown }).code === "23505") return;
          throw this.#failed(error, `cannot create schema ${quote(schema)}`, { schema });
        },
      );
      created.catch(() => this.#schemas.delete(schema));
      this.#schemas.set(schema, created);
    }
    return created;
  }

  /** Asks the server, from a connection of its own, to cancel what backend `pid` is running. */
  async #cancel(pid: number): Promise<void> {
    const client = new pg.Client({ ...this.#config, connectionTimeoutMillis: 5_000 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.query("select pg_cancel_backend($1)", [pid]);
    } catch {
      // The query's own outcome reports what happened.
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** The query's text with tables named and values as $n parameters. */
  #resolve(query: ResolvedQuery): { text: string; values: unknown[] } {
    const values: unknown[] = [];
    let text = query.strings[0] ?? "";
    query.parts.forEach((part, i) => {
      if ("table" in part) text += this.qualifiedName(part.table);
      else text += placeholder(values.push(bindValue(part.value)), part.value);
      text += query.strings[i + 1] ?? "";
    });
    return { text, values };
  }

  readonly dialect: SqlDialect = {
    regexFullMatch: (expr, pattern) => `(${expr} ~ ${literal(`^(?:${pattern})$`)})`,
  };

  async query(query: ResolvedQuery, signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    const { text, values } = this.#resolve(query);
    signal?.throwIfAborted();
    try {
      return (await this.#query(text, values)).rows as Record<string, unknown>[];
    } catch (cause) {
      throw this.#failed(cause, "", { sql: text });
    }
  }

  async createTableAs(target: TableName, query: ResolvedQuery, signal: AbortSignal): Promise<number> {
    const { text, values } = this.#resolve(query);
    signal.throwIfAborted();
    await this.#ensureSchema(target.schema);
    const client = await this.#client();
    const prefix = `create table ${this.qualifiedName(target)} as `;
    const pid = (client as unknown as { processID?: number }).processID;
    let running: Promise<unknown> | undefined;
    let cancelling: Promise<void> | undefined;
    // A cancel that reaches the backend before the statement does is ignored; so it is sent
    // again until the statement settles.
    const onAbort = (): void => {
      cancelling = (async () => {
        for (;;) {
          const query = running;
          if (!query || pid === undefined) return;
          await this.#cancel(pid);
          const settled = await Promise.race([
            query.then(
              () => true,
              () => true,
            ),
            new Promise((r) => setTimeout(() => r(false), 250)),
          ]);
          if (settled) return;
        }
      })();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    let broken = false;
    try {
      return await this.#transaction(client, async () => {
        await client.query(`drop table if exists ${this.qualifiedName(target)}`);
        signal.throwIfAborted();
        running = client.query(prefix + text, values);
        const result = (await running) as pg.QueryResult;
        return result.rowCount ?? 0;
      });
    } catch (cause) {
      broken = signal.aborted || isConnectionError(cause);
      if (signal.aborted && !isConnectionError(cause)) {
        throw new SqlError("SQL_FAILED", `query interrupted: ${(cause as Error).message}`, {
          cause,
          details: { table: target.table, sql: text },
        });
      }
      throw this.#failed(cause, "", { table: target.table, sql: text }, prefix.length);
    } finally {
      running = undefined;
      signal.removeEventListener("abort", onAbort);
      await cancelling?.catch(() => undefined);
      // After an abort the connection is dropped rather than reused: a late cancel must not hit
      // the next query run on it.
      client.release(broken);
    }
  }

  async createTableFromRows(target: TableName, rows: readonly Record<string, unknown>[], columns?: readonly ColumnDef[]): Promise<number> {
    if (!columns && rows.length === 0) {
      throw new SqlError("SQL_INPUT_INVALID", `cannot infer the columns of "${target.table}" from zero rows: give its columns`, {
        details: { output: target.table },
      });
    }
    if (columns?.length === 0) throw new SqlError("SQL_INPUT_INVALID", `"${target.table}" needs at least one column`);
    const names = columns ? columns.map((c) => c.name) : columnNames(rows);
    const sqlTypes = columns ? columns.map(sqlType) : names.map((name) => inferType(rows, name));
    const definition = names
      .map((name, j) => `${quote(name)} ${sqlTypes[j]}${columns && !columns[j]!.nullable ? " not null" : ""}`)
      .join(", ");
    await this.#ensureSchema(target.schema);
    const table = this.qualifiedName(target);
    function* lines(): Generator<string> {
      for (let start = 0; start < rows.length; start += COPY_ROWS) {
        let piece = "";
        for (const row of rows.slice(start, start + COPY_ROWS))
          piece += `${names.map((name, j) => copyValue(row[name], sqlTypes[j]!)).join("\t")}\n`;
        yield piece;
      }
    }
    try {
      await this.#with((client) =>
        this.#transaction(client, async () => {
          await client.query(`drop table if exists ${table}`);
          await client.query(`create table ${table} (${definition})`);
          const copy = client.query(copyFrom(`copy ${table} (${names.map(quote).join(", ")}) from stdin`));
          await pipeline(Readable.from(lines()), copy);
        }),
      );
    } catch (cause) {
      if (isStrataError(cause) || isConnectionError(cause)) throw this.#failed(cause, "", {});
      const e = cause as pg.DatabaseError;
      throw new SqlError(
        "SQL_INPUT_INVALID",
        `cannot load "${target.table}" into postgres: ${e.message}${e.where ? ` (${e.where})` : ""}`,
        {
          cause,
          details: { output: target.table, ...(e.code === undefined ? {} : { sqlState: e.code }) },
        },
      );
    }
    return rows.length;
  }

  async readRows(table: TableName): Promise<Record<string, unknown>[]> {
    try {
      return (await this.#query(`select * from ${this.qualifiedName(table)}`)).rows as Record<string, unknown>[];
    } catch (cause) {
      throw this.#failed(cause, `cannot read ${this.qualifiedName(table)}`, { table: table.table });
    }
  }

  /** Streams through a server-side cursor: FETCH `batchSize` rows at a time, inside one transaction. */
  async *batches(table: TableName, batchSize = DEFAULT_BATCH_SIZE): AsyncIterable<ColumnBatch> {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new SqlError("SQL_INPUT_INVALID", `batch size must be a positive integer, not ${batchSize}`);
    const client = await this.#client();
    let broken: Error | undefined;
    let open = false;
    try {
      try {
        await client.query("begin");
        open = true;
        await client.query(`declare strata_batches no scroll cursor for select * from ${this.qualifiedName(table)}`);
      } catch (cause) {
        throw this.#failed(cause, `cannot read ${this.qualifiedName(table)}`, { table: table.table });
      }
      for (;;) {
        let result: pg.QueryResult<unknown[]>;
        try {
          result = await client.query<unknown[]>({ text: `fetch forward ${batchSize} from strata_batches`, rowMode: "array" });
        } catch (cause) {
          throw this.#failed(cause, `cannot read ${this.qualifiedName(table)}`, { table: table.table });
        }
        const rows = result.rows;
        if (rows.length === 0) break;
        const columns: Record<string, unknown[]> = {};
        result.fields.forEach((field, j) => {
          columns[field.name] = rows.map((row) => row[j]);
        });
        yield { length: rows.length, columns };
        if (rows.length < batchSize) break;
      }
    } catch (error) {
      if (isConnectionError(error) || (isStrataError(error) && error.code === "STORAGE_UNAVAILABLE")) broken = error as Error;
      throw error;
    } finally {
      // Also reached when the reader stops early: the cursor goes with the transaction.
      if (open && !broken) await client.query("rollback").catch((error: unknown) => (broken = error as Error));
      client.release(broken);
    }
  }

  async count(table: TableName): Promise<number> {
    try {
      return Number((await this.#query(`select count(*) as n from ${this.qualifiedName(table)}`)).rows[0]?.n ?? 0);
    } catch (cause) {
      throw this.#failed(cause, `cannot count ${this.qualifiedName(table)}`, { table: table.table });
    }
  }

  async #kind(table: TableName): Promise<"table" | "view" | undefined> {
    try {
      const result = await this.#query(`select table_type from information_schema.tables where table_schema = $1 and table_name = $2`, [
        table.schema,
        table.table,
      ]);
      const type = (result.rows[0] as { table_type?: string } | undefined)?.table_type;
      return type === undefined ? undefined : type === "VIEW" ? "view" : "table";
    } catch (cause) {
      throw this.#failed(cause, `cannot look up ${this.qualifiedName(table)}`, { table: table.table });
    }
  }

  async exists(table: TableName): Promise<boolean> {
    return (await this.#kind(table)) !== undefined;
  }

  async #columns(client: pg.PoolClient | pg.Pool, table: TableName): Promise<{ name: string; type: string }[]> {
    const result = await client.query<{ name: string; type: string }>(
      `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type
         from pg_attribute a
        where a.attrelid = to_regclass($1) and a.attnum > 0 and not a.attisdropped
        order by a.attnum`,
      [this.qualifiedName(table)],
    );
    return result.rows;
  }

  async describe(table: TableName): Promise<{ name: string; type: string }[]> {
    let columns;
    try {
      columns = await this.#with((client) => this.#columns(client, table));
    } catch (cause) {
      throw this.#failed(cause, `cannot describe ${this.qualifiedName(table)}`, { table: table.table });
    }
    if (columns.length === 0)
      throw new SqlError("SQL_FAILED", `table ${this.qualifiedName(table)} does not exist`, { details: { table: table.table } });
    return columns;
  }

  /**
   * One transaction: `create or replace view` when the columns stay the same; otherwise drop the
   * view and create it again, since Postgres refuses to change a view's columns in place. Readers
   * wait on the view's lock during the flip and then read the new table.
   */
  async activate(alias: TableName, target: TableName): Promise<void> {
    if (alias.schema === target.schema && alias.table === target.table) {
      throw new SqlError("SQL_FAILED", `cannot make ${this.qualifiedName(alias)} an alias of itself`, { details: { table: alias.table } });
    }
    await this.#ensureSchema(alias.schema);
    const view = this.qualifiedName(alias);
    const mark = literal(ALIAS_MARK + JSON.stringify({ schema: target.schema, table: target.table }));
    try {
      await this.#with((client) =>
        this.#transaction(client, async () => {
          // Two flips of one alias at once would race between reading its columns and replacing it.
          await client.query("select pg_advisory_xact_lock(hashtext($1))", [`strata:alias:${view}`]);
          const kind = await client.query<{ relkind: string }>("select relkind from pg_class where oid = to_regclass($1)", [view]);
          const relkind = kind.rows[0]?.relkind;
          if (relkind !== undefined && relkind !== "v")
            throw new SqlError("SQL_FAILED", `${view} is a table, not an alias (a view)`, { details: { table: alias.table } });
          let replace = relkind === "v";
          if (replace) {
            const [before, after] = [await this.#columns(client, alias), await this.#columns(client, target)];
            replace = before.length === after.length && before.every((c, i) => c.name === after[i]?.name && c.type === after[i]?.type);
            if (!replace) await client.query(`drop view ${view}`);
          }
          await client.query(`create ${replace ? "or replace " : ""}view ${view} as select * from ${this.qualifiedName(target)}`);
          await client.query(`comment on view ${view} is ${mark}`);
        }),
      );
    } catch (cause) {
      throw this.#failed(cause, `cannot point ${view} at ${this.qualifiedName(target)}`, { table: alias.table, target: target.table });
    }
  }

  async aliasTarget(alias: TableName): Promise<TableName | null> {
    try {
      const result = await this.#query(
        `select obj_description(c.oid, 'pg_class') as comment from pg_class c where c.oid = to_regclass($1) and c.relkind = 'v'`,
        [this.qualifiedName(alias)],
      );
      return parseAliasMark((result.rows[0] as { comment?: unknown } | undefined)?.comment);
    } catch (cause) {
      throw this.#failed(cause, `cannot read alias ${this.qualifiedName(alias)}`, { table: alias.table });
    }
  }

  async drop(table: TableName): Promise<void> {
    const kind = await this.#kind(table);
    if (kind === undefined) return;
    try {
      await this.#query(`drop ${kind} if exists ${this.qualifiedName(table)}`);
    } catch (cause) {
      if ((cause as { code?: unknown }).code === "2BP01") {
        // dependent_objects_still_exist: an alias (or another view) reads this table.
        throw new SqlError(
          "SQL_FAILED",
          `cannot drop ${this.qualifiedName(table)}: a view points at it (activate another table first): ${(cause as Error).message}`,
          {
            cause,
            details: { table: table.table },
          },
        );
      }
      throw this.#failed(cause, `cannot drop ${this.qualifiedName(table)}`, { table: table.table });
    }
  }

  /** The server's version, for a storage's health line. */
  async serverVersion(): Promise<string> {
    try {
      // "15.18 (Debian 15.18-0+deb12u1)": the number is what a health line needs.
      return String((await this.#query("show server_version")).rows[0]?.server_version).split(" ")[0]!;
    } catch (cause) {
      throw this.#failed(cause, "", {});
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
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
