import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { StrataError, isStrataError } from "../../errors/strata-error.js";
import type { KvStore, KvVersionWriter, LiveRead } from "../kv-store.js";

// Versions of the schema of a key-value file; `user_version` records which ran.
const MIGRATIONS: readonly string[] = [
  `create table kv_entries (
     dataset text not null,
     version integer not null,
     key text not null,
     value text not null,
     primary key (dataset, version, key)
   ) without rowid;
   create table kv_versions (
     dataset text not null,
     version integer not null,
     state text not null check (state in ('writing', 'finished')),
     entries integer,
     primary key (dataset, version)
   ) without rowid;
   create table kv_live (
     dataset text primary key,
     version integer not null
   ) without rowid;`,
];

// Keys arrive in no particular order, so each write transaction touches leaf pages all over the
// B-tree and its commit writes them all to the WAL again. Measured on 1M shuffled documents,
// transactions of 10k rows ran at about a quarter of the speed of a single transaction; 100k-row
// transactions, each sorted by key, with a 64 MiB page cache, run about as fast as a single one.
/** Rows per write transaction; a writer buffers this many before writing. */
const ROWS_PER_TRANSACTION = 100_000;
/** Rows written or deleted between two yields to the event loop, so that readers in this process keep being served. */
const ROWS_PER_SLICE = 5_000;
/** Page cache of each connection, in KiB (negative: KiB rather than pages). */
const CACHE_KIB = 64 * 1024;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Entry = readonly [key: string, json: string];
const byKey = (a: Entry, b: Entry): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

function connect(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  db.pragma(`cache_size = -${CACHE_KIB}`);
  return db;
}

export interface SqliteKvStoreOptions {
  /** The storage's name, for error messages. */
  readonly storage?: string;
}

/**
 * Versioned documents in one SQLite file (WAL, prepared statements). A version's rows are written
 * under its number and become visible when `kv_live` points at it.
 *
 * Reads join through `kv_live` inside one statement, which SQLite runs on one snapshot, so a flip
 * made by another connection or process between two reads never mixes versions in one answer.
 * Writes go through a second connection, one transaction at a time (an in-process lock), and a
 * transaction yields to the event loop between slices of rows: readers of this process are
 * served meanwhile from the read connection, which never sees uncommitted rows.
 */
export class SqliteKvStore implements KvStore {
  /** Reads of one turn share a read transaction (see #shareSnapshot). */
  readonly snapshotPerTurn = true;
  readonly #label: string;
  readonly #read: Database.Database;
  readonly #write: Database.Database;
  readonly #r;
  readonly #w;
  /** Whether the read connection holds the snapshot this turn of the event loop shares. */
  #snapshot = false;
  /** The tail of the queue of write transactions of this process. */
  #writing: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    options: SqliteKvStoreOptions = {},
  ) {
    this.#label = `${options.storage === undefined ? "key-value store" : `storage "${options.storage}"`} (sqlite ${path})`;
    try {
      if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
      this.#write = connect(path);
      const version = this.#write.pragma("user_version", { simple: true }) as number;
      for (let i = version; i < MIGRATIONS.length; i++) {
        this.#write.transaction(() => {
          this.#write.exec(MIGRATIONS[i]!);
          this.#write.pragma(`user_version = ${i + 1}`);
        })();
      }
      // An in-memory database exists only on its connection, so there it is both.
      this.#read = path === ":memory:" ? this.#write : connect(path);
    } catch (cause) {
      throw new StrataError("STORAGE_UNAVAILABLE", `${this.#label}: cannot open: ${(cause as Error).message}`, {
        cause,
        details: { path },
      });
    }
    const r = this.#read;
    this.#r = {
      // A version's documents; the live version is read first, in the same read transaction.
      get: r
        .prepare<[string, number, string], string>(`select value from kv_entries where dataset = ? and version = ? and key = ?`)
        .pluck(),
      // json_each keeps the order of `keys` and yields a null for a missing key (left join).
      mget: r
        .prepare<[string, string, number], string | null>(
          `select e.value from json_each(?) j
           left join kv_entries e on e.dataset = ? and e.version = ? and e.key = j.value
           order by j.key`,
        )
        .pluck(),
      live: r.prepare<[string], number>(`select version from kv_live where dataset = ?`).pluck(),
      state: r.prepare<[string, number], string>(`select state from kv_versions where dataset = ? and version = ?`).pluck(),
      finished: r
        .prepare<[string], number>(`select version from kv_versions where dataset = ? and state = 'finished' order by version`)
        .pluck(),
      begin: r.prepare(`begin`),
      commit: r.prepare(`commit`),
      sqliteVersion: r.prepare<[], string>(`select sqlite_version()`).pluck(),
      datasets: r.prepare<[], number>(`select count(distinct dataset) from kv_versions`).pluck(),
    };
    const w = this.#write;
    this.#w = {
      live: w.prepare<[string], number>(`select version from kv_live where dataset = ?`).pluck(),
      setLive: w.prepare(
        `insert into kv_live (dataset, version) values (?, ?) on conflict (dataset) do update set version = excluded.version`,
      ),
      state: w.prepare<[string, number], string>(`select state from kv_versions where dataset = ? and version = ?`).pluck(),
      startVersion: w.prepare(`insert or replace into kv_versions (dataset, version, state) values (?, ?, 'writing')`),
      finishVersion: w.prepare(`update kv_versions set state = 'finished', entries = ? where dataset = ? and version = ?`),
      deleteVersion: w.prepare(`delete from kv_versions where dataset = ? and version = ?`),
      deleteEntries: w.prepare<[string, number, string, number, number]>(
        `delete from kv_entries where dataset = ? and version = ? and key in (select key from kv_entries where dataset = ? and version = ? limit ?)`,
      ),
      count: w.prepare<[string, number], number>(`select count(*) from kv_entries where dataset = ? and version = ?`).pluck(),
      put: w.prepare(`insert or replace into kv_entries (dataset, version, key, value) values (?, ?, ?, ?)`),
    };
  }

  // better-sqlite3 is synchronous; the interface is async so that networked stores fit it.
  #query<T>(what: string, fn: () => T): Promise<T> {
    try {
      this.#shareSnapshot();
      return Promise.resolve(fn());
    } catch (cause) {
      this.#endSnapshot();
      return Promise.reject(this.#fail(what, cause));
    }
  }

  /**
   * Reads of one turn of the event loop share one read transaction, ended by a setImmediate:
   * starting a transaction costs file-lock system calls that take longer than the lookup itself,
   * and a service answering many requests per turn pays them once. Another process' commits show
   * from the next turn; this process' own writes end the shared snapshot first, so they show at once.
   */
  #shareSnapshot(): void {
    if (this.#snapshot || this.#read === this.#write) return;
    this.#r.begin.run();
    this.#snapshot = true;
    setImmediate(this.#endSnapshot);
  }

  readonly #endSnapshot = (): void => {
    if (!this.#snapshot) return;
    this.#snapshot = false;
    if (this.#read.open && this.#read.inTransaction) this.#r.commit.run();
  };

  /**
   * Runs `fn` as the next write transaction of this process (BEGIN IMMEDIATE ... COMMIT). Queued
   * in-process rather than left to SQLite's busy wait, which would block the event loop that the
   * transaction holding the lock needs in order to finish.
   */
  #transaction<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    const run = this.#writing.then(async () => {
      const db = this.#write;
      try {
        db.exec("begin immediate");
        const result = await fn();
        db.exec("commit");
        this.#endSnapshot();
        return result;
      } catch (cause) {
        if (db.open && db.inTransaction) db.exec("rollback");
        throw this.#fail(what, cause);
      }
    });
    this.#writing = run.catch(() => undefined);
    return run;
  }

  #fail(what: string, cause: unknown): StrataError {
    if (isStrataError(cause)) return cause;
    return new StrataError("STORAGE_UNAVAILABLE", `${this.#label}: ${what} failed: ${(cause as Error).message}`, {
      cause,
      details: { path: this.path },
    });
  }

  #missing(dataset: string, version: number, why: string): StrataError {
    return new StrataError("KV_VERSION_MISSING", `${this.#label}: version ${version} of "${dataset}" ${why}`, {
      details: { dataset, version },
    });
  }

  /** Removes a version's rows and record; refuses the live one. Inside a write transaction. */
  async #drop(dataset: string, version: number): Promise<void> {
    if (this.#w.live.get(dataset) === version) {
      throw new StrataError(
        "KV_VERSION_LIVE",
        `${this.#label}: version ${version} of "${dataset}" is live; activate another version first`,
        {
          details: { dataset, version },
        },
      );
    }
    this.#w.deleteVersion.run(dataset, version);
    // In slices: deleting a million rows at once would hold the event loop for seconds.
    while (this.#w.deleteEntries.run(dataset, version, dataset, version, ROWS_PER_SLICE).changes > 0) await yieldToEventLoop();
  }

  #assertWriting(dataset: string, version: number): void {
    if (this.#w.state.get(dataset, version) !== "writing")
      throw this.#missing(dataset, version, "is no longer being written (aborted or dropped)");
  }

  async beginVersion(dataset: string, version: number): Promise<KvVersionWriter> {
    // Leftovers of an earlier attempt at the same number (a crashed writer) are cleared first.
    await this.#transaction(`begin version ${version} of "${dataset}"`, async () => {
      await this.#drop(dataset, version);
      this.#w.startVersion.run(dataset, version);
    });
    return this.#writer(dataset, version);
  }

  #writer(dataset: string, version: number): KvVersionWriter {
    const what = `version ${version} of "${dataset}"`;
    let state: "open" | "finished" | "aborted" = "open";
    let buffer: Entry[] = [];
    const assertOpen = (action: string): void => {
      // Misuse by the caller, not a storage failure.
      if (state !== "open") throw new Error(`cannot ${action} ${what}: its writer is already ${state}`);
    };
    const flush = (rows: Entry[]): Promise<void> =>
      this.#transaction(`write ${what}`, async () => {
        this.#assertWriting(dataset, version);
        // A stable sort: of two puts of one key, the later one is still written last.
        rows.sort(byKey);
        for (let start = 0; start < rows.length; start += ROWS_PER_SLICE) {
          if (start > 0) await yieldToEventLoop();
          const end = Math.min(start + ROWS_PER_SLICE, rows.length);
          for (let i = start; i < end; i++) this.#w.put.run(dataset, version, rows[i]![0], rows[i]![1]);
        }
      });
    return {
      put: async (entries) => {
        assertOpen("write");
        for (const entry of entries) buffer.push(entry);
        while (buffer.length >= ROWS_PER_TRANSACTION) {
          const rows = buffer.length === ROWS_PER_TRANSACTION ? buffer : buffer.slice(0, ROWS_PER_TRANSACTION);
          buffer = buffer.length === ROWS_PER_TRANSACTION ? [] : buffer.slice(ROWS_PER_TRANSACTION);
          await flush(rows);
        }
      },
      finish: async () => {
        assertOpen("finish");
        const rows = buffer;
        buffer = [];
        if (rows.length > 0) await flush(rows);
        const count = await this.#transaction(`finish ${what}`, () => {
          this.#assertWriting(dataset, version);
          const count = this.#w.count.get(dataset, version) ?? 0;
          this.#w.finishVersion.run(count, dataset, version);
          return count;
        });
        state = "finished";
        return count;
      },
      abort: async () => {
        if (state === "aborted") return;
        buffer = [];
        // After finish, aborting drops the version if it is not live yet (a live one is refused).
        await this.#transaction(`abort ${what}`, () => this.#drop(dataset, version));
        state = "aborted";
      },
    };
  }

  activate(dataset: string, version: number): Promise<void> {
    return this.#transaction(`activate version ${version} of "${dataset}"`, () => {
      const state = this.#w.state.get(dataset, version);
      if (state !== "finished")
        throw this.#missing(dataset, version, state === "writing" ? "is still being written" : "is not in the storage");
      this.#w.setLive.run(dataset, version);
    });
  }

  liveVersion(dataset: string): Promise<number | null> {
    return this.#query(`read the live version of "${dataset}"`, () => this.#r.live.get(dataset) ?? null);
  }

  versions(dataset: string): Promise<number[]> {
    return this.#query(`list the versions of "${dataset}"`, () => this.#r.finished.all(dataset));
  }

  dropVersion(dataset: string, version: number): Promise<void> {
    return this.#transaction(`drop version ${version} of "${dataset}"`, () => this.#drop(dataset, version));
  }

  get(dataset: string, key: string): Promise<string | undefined> {
    return this.read(dataset, [key]).then((r) => r.values[0]);
  }

  mget(dataset: string, keys: readonly string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return Promise.resolve([]);
    return this.read(dataset, keys).then((r) => r.values);
  }

  read(dataset: string, keys: readonly string[], pinned?: number): Promise<LiveRead> {
    return this.#query(`read from "${dataset}"`, () => {
      const version =
        pinned !== undefined && this.#r.state.get(dataset, pinned) === "finished" ? pinned : (this.#r.live.get(dataset) ?? null);
      if (version === null || keys.length === 0) return { version, values: keys.map(() => undefined) };
      const values =
        keys.length === 1
          ? [this.#r.get.get(dataset, version, keys[0]!)]
          : this.#r.mget.all(JSON.stringify(keys), dataset, version).map((v) => v ?? undefined);
      return { version, values };
    });
  }

  /** The SQLite library's version and how many datasets the file holds, for health checks. */
  describe(): Promise<{ sqliteVersion: string; datasets: number }> {
    return this.#query("read its statistics", () => ({
      sqliteVersion: this.#r.sqliteVersion.get() ?? "?",
      datasets: this.#r.datasets.get() ?? 0,
    }));
  }

  /** Closes both connections; a write transaction in progress is rolled back. */
  close(): void {
    this.#endSnapshot();
    if (this.#read.open) this.#read.close();
    if (this.#write.open) this.#write.close();
  }
}
