import type pg from "pg";
import { StoreError } from "../../errors/errors.js";
import { StrataError, isStrataError } from "../../errors/strata-error.js";
import type { DatasetHold } from "../catalog-store.js";
import { isConnectionError, quoteIdent, SCHEMA_NAME, serverOf } from "./connection.js";
import { METADATA_MIGRATIONS } from "./metadata-schema.js";

export interface PostgresMetadataOptions {
  /** postgres://user:password@host:port/database. Never appears in a message. */
  readonly url: string;
  /** The schema holding the metadata tables, created when missing. Default "strata". */
  readonly schema?: string;
  /** Connections at most. Default 10. */
  readonly poolSize?: number;
  /**
   * How long one metadata statement may run before the server cancels it (STORE_FAILED). Default
   * 60 s: every statement finds rows by key, and one that hangs (a lock never given back) would
   * otherwise hold up every write queued behind it. Migrations and lock waits are exempt.
   */
  readonly statementTimeoutMs?: number;
}

/** Runs one statement and returns its rows: on the pool, or on a transaction's own connection. */
export type Query = <R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: readonly unknown[]) => Promise<R[]>;

/** Which pool a statement runs on: prepared writes have a small one of their own (see `query`). */
type PoolKind = "any" | "prepared";

/** Connections of the prepared writes' pool: each batcher has one statement in flight at a time. */
const PREPARED_POOL_SIZE = 3;

/**
 * The metadata database on a Postgres server: pools shared by the run store, the catalog, the
 * model registry and the API keys, with every table in one schema (`strata` by default). Nothing
 * connects until the first call, which also brings the schema up to date, so opening a workspace
 * stays synchronous and a server that is down at start is retried at the next call.
 */
export class PostgresMetadataDb {
  readonly schema: string;
  /** host:port/database, without user or password. */
  readonly server: string;
  readonly #config: pg.PoolConfig;
  readonly #statementTimeoutMs: number;
  readonly #pools = new Map<PoolKind, Promise<pg.Pool>>();
  #ready: Promise<void> | undefined;
  #closed = false;

  constructor(options: PostgresMetadataOptions) {
    this.schema = options.schema ?? "strata";
    if (!SCHEMA_NAME.test(this.schema)) {
      throw new StrataError(
        "STORAGE_INVALID",
        `metadata store (postgres): schema ${JSON.stringify(this.schema)} must be a lower-case name (letters, digits and _, starting with a letter or _)`,
        { details: { schema: this.schema } },
      );
    }
    this.server = serverOf(options.url, "metadata store (postgres)");
    this.#config = {
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      // Idle connections do not keep a command that forgot to close its workspace from exiting.
      allowExitOnIdle: true,
      application_name: "strata metadata",
      // Unqualified table names are the metadata schema's (the name needs no quoting: SCHEMA_NAME).
      // Every metadata statement finds its rows by key. A prepared statement's plan is made once
      // per connection, often while the tables are still empty, where a sequential scan looks
      // cheapest; kept for a table grown to millions of rows, it made each write scan them all.
      options: `-c search_path=${this.schema} -c enable_seqscan=off`,
    };
    this.#statementTimeoutMs = options.statementTimeoutMs ?? 60_000;
  }

  // The driver is imported at the first call, not with this module: the workspace imports the
  // Postgres stores whatever its metadata technology, and most commands never reach a server.
  #pool(kind: PoolKind): Promise<pg.Pool> {
    let opened = this.#pools.get(kind);
    if (opened) return opened;
    opened = import("pg").then(({ default: driver }) => {
      const pool = new driver.Pool({
        ...this.#config,
        ...(kind === "prepared"
          ? {
              max: Math.min(PREPARED_POOL_SIZE, this.#config.max!),
              options: `${this.#config.options} -c plan_cache_mode=force_generic_plan`,
            }
          : {}),
        statement_timeout: this.#statementTimeoutMs,
        // bigint columns (times in ms, row counts, count(*)) are read as numbers: they stay far below 2^53.
        types: {
          getTypeParser: ((oid: number, format?: string) =>
            oid === 20 ? Number : driver.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
        },
      });
      // An idle connection that breaks (server restart) is dropped by the pool; without a listener
      // its error would crash the process.
      pool.on("error", () => undefined);
      return pool;
    });
    this.#pools.set(kind, opened);
    return opened;
  }

  /** What messages name: server and schema, never the password. */
  get location(): string {
    return `postgres ${this.server}, schema ${this.schema}`;
  }

  /** Migrates once per process; a failure (server down) is forgotten, so the next call tries again. */
  ready(): Promise<void> {
    if (!this.#ready) {
      this.#ready = this.#transaction("metadata store", "bring the schema up to date", (query) => this.#migrate(query));
      this.#ready.catch(() => (this.#ready = undefined));
    }
    return this.#ready;
  }

  // Under an advisory lock: a second process starting at once waits, then finds the work done.
  async #migrate(query: Query): Promise<void> {
    await query(`set local statement_timeout = 0`); // waiting for another process's migration, and DDL, may take long
    await query(`select pg_advisory_xact_lock(hashtext('strata.metadata'), hashtext($1))`, [this.schema]);
    await query(`create schema if not exists ${quoteIdent(this.schema)}`);
    await query(`create table if not exists migrations (version integer primary key, applied_at timestamptz not null default now())`);
    const [{ done } = { done: 0 }] = await query<{ done: number }>(`select coalesce(max(version), 0) as done from migrations`);
    for (let i = done; i < METADATA_MIGRATIONS.length; i++) {
      await query(METADATA_MIGRATIONS[i]!);
      await query(`insert into migrations (version) values ($1)`, [i + 1]);
    }
  }

  /**
   * One statement on the pool; `label` (the store) and `what` (the operation) name a failure.
   * `prepared`: the server parses it once per connection and plans it once (a generic plan, see
   * enable_seqscan above), then only binds values. For the writes made many times a second (a
   * worker fleet's step records); never for a `select *`, whose prepared plan a later migration
   * adding a column would break. They run on a small pool of their own with
   * plan_cache_mode=force_generic_plan: left to choose, Postgres planned every call of the
   * unnest-of-arrays writes afresh (it knows the arrays' lengths then, which makes a custom plan
   * look cheaper), and planning was a sixth of the server's time on a fleet. Reads keep custom
   * plans: their optional filters (`$1 is null or pipeline = $1`) find an index only then.
   */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    label: string,
    what: string,
    sql: string,
    values: readonly unknown[] = [],
    prepared = false,
  ): Promise<R[]> {
    await this.ready();
    const name = prepared ? statementName(sql) : undefined;
    return this.#with(
      label,
      what,
      async (client) => (await client.query<R>({ text: sql, values: values as unknown[], name })).rows,
      prepared ? "prepared" : "any",
    );
  }

  /**
   * Holds a session advisory lock on `key` (within this schema) on a connection of its own,
   * taken outside the pool so that holders never starve the pool their work needs. Waits while
   * another session holds it; ending the connection lets go of it, as does a process that dies.
   * A session that breaks while held has let go: `ensure` then throws. `signal` ends the wait: the
   * connection is closed, which drops its request for the lock, and the signal's reason is thrown.
   */
  async advisoryHold(label: string, what: string, key: string, signal?: AbortSignal): Promise<DatasetHold> {
    await this.ready();
    const { default: driver } = await import("pg");
    const client = new driver.Client(this.#config);
    let broken: Error | undefined;
    let released = false;
    client.on("error", (error) => (broken ??= error));
    client.on("end", () => (broken ??= released ? undefined : new Error("the connection ended")));
    const stop = (): void => void client.end().catch(() => undefined);
    signal?.addEventListener("abort", stop, { once: true });
    try {
      signal?.throwIfAborted();
      await client.connect();
      await client.query(`select pg_advisory_lock(hashtext($1), hashtext($2))`, [`strata.${this.schema}`, key]);
      signal?.throwIfAborted(); // taken as the wait was stopped: let go, as if it never was
    } catch (cause) {
      await client.end().catch(() => undefined);
      signal?.throwIfAborted();
      throw this.#failed(label, what, cause);
    } finally {
      signal?.removeEventListener("abort", stop);
    }
    return {
      ensure: () => {
        if (broken)
          throw new StrataError("STORAGE_UNAVAILABLE", `${label} (${this.location}): the lock on ${key} was lost: ${broken.message}`, {
            details: { server: this.server, schema: this.schema, lock: key },
          });
      },
      release: async () => {
        released = true;
        await client.end().catch(() => undefined);
      },
    };
  }

  /** `use` inside one transaction on one connection: committed when it resolves, rolled back when it throws. */
  async transaction<T>(label: string, what: string, use: (query: Query) => Promise<T>): Promise<T> {
    await this.ready();
    return this.#transaction(label, what, use);
  }

  #transaction<T>(label: string, what: string, use: (query: Query) => Promise<T>): Promise<T> {
    return this.#with(label, what, async (client) => {
      const query: Query = async <R extends pg.QueryResultRow>(sql: string, values: readonly unknown[] = []) =>
        (await client.query<R>(sql, values as unknown[])).rows;
      await client.query("begin");
      try {
        const result = await use(query);
        await client.query("commit");
        return result;
      } catch (error) {
        await client.query("rollback").catch(() => undefined);
        throw error;
      }
    });
  }

  /** Runs `use` on a pooled connection (dropped, not reused, if it broke) and names any failure. */
  async #with<T>(label: string, what: string, use: (client: pg.PoolClient) => Promise<T>, kind: PoolKind = "any"): Promise<T> {
    if (this.#closed) throw new StrataError("STORAGE_UNAVAILABLE", `${label} (${this.location}) is closed`, { retryable: false });
    let client: pg.PoolClient;
    try {
      client = await (await this.#pool(kind)).connect();
    } catch (cause) {
      throw this.#failed(label, what, cause);
    }
    let broken: Error | undefined;
    try {
      return await use(client);
    } catch (cause) {
      if (isConnectionError(cause)) broken = cause as Error;
      throw this.#failed(label, what, cause);
    } finally {
      client.release(broken);
    }
  }

  /** Strata's own errors pass; an unreachable server is STORAGE_UNAVAILABLE, anything else STORE_FAILED. */
  #failed(label: string, what: string, cause: unknown): StrataError {
    if (isStrataError(cause)) return cause;
    const details = { server: this.server, schema: this.schema };
    if (isConnectionError(cause)) {
      return new StrataError("STORAGE_UNAVAILABLE", `${label} (${this.location}) is unavailable: ${(cause as Error).message}`, {
        cause,
        details,
      });
    }
    const sqlState = (cause as { code?: unknown }).code;
    return new StoreError("STORE_FAILED", `${label} (${this.location}): ${what} failed: ${(cause as Error).message}`, {
      cause,
      details: { ...details, ...(typeof sqlState === "string" ? { sqlState } : {}) },
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#pools.values()].map(async (pool) => (await pool).end()));
  }
}

const statementNames = new Map<string, string>();

/** One name per statement text, so each connection prepares a statement once. */
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) statementNames.set(sql, (name = `strata_${statementNames.size + 1}`));
  return name;
}

/**
 * Rows as the column arrays of an `unnest($1::t[], $2::t[], ...)`: one statement writes them all.
 * `row` gives one item's values (strings, numbers, booleans or nulls), `width` of them in column
 * order (given, so that no items still make `width` empty arrays). Each column is sent as an array
 * literal built with one join: pg's own encoding of an array escaped every element twice and
 * concatenated them one by one, a tenth of what a busy worker allocated.
 */
export function unnestColumns<T>(items: readonly T[], width: number, row: (item: T) => readonly ArrayValue[]): string[] {
  const rows = items.map(row);
  return Array.from({ length: width }, (_, i) => `{${rows.map((r) => arrayElement(r[i])).join(",")}}`);
}

/** What an unnest column holds: encoding anything else (a Date, an object) would need the driver's rules. */
export type ArrayValue = string | number | boolean | null | undefined;

const arrayElement = (value: ArrayValue): string =>
  value == null ? "NULL" : typeof value === "string" ? `"${value.replace(/[\\"]/g, "\\$&")}"` : String(value);

/** Postgres text cannot hold NUL characters; free text (error messages) gets them replaced rather than failing the write. */
export const pgText = (text: string | null | undefined): string | null => (text == null ? null : text.replace(/\0/g, "\uFFFD"));

/**
 * The next version number of a dataset or a model, inside the caller's transaction. The counter's
 * row lock is held to the commit: a writer in another process waits, then gets the next number;
 * a transaction rolled back gives its number back.
 */
export async function nextVersion(query: Query, kind: "dataset" | "model", name: string): Promise<number> {
  const [row] = await query<{ last: number }>(
    `insert into version_counters (kind, name, last) values ($1, $2, 1)
     on conflict (kind, name) do update set last = version_counters.last + 1 returning last`,
    [kind, name],
  );
  return row!.last;
}
