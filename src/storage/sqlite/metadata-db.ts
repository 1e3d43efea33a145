import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { StoreError } from "../../errors/errors.js";
import { isStrataError } from "../../errors/strata-error.js";
import { MIGRATIONS } from "./schema.js";

/**
 * Opens one of Strata's SQLite files (WAL, a busy timeout for other processes) and brings its
 * schema up to date: `user_version` records which of `migrations` ran. STORE_FAILED naming
 * `what` and the path when it cannot.
 */
export function openSqliteDb(path: string, what: string, migrations: readonly string[]): Database.Database {
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    const version = db.pragma("user_version", { simple: true }) as number;
    for (let i = version; i < migrations.length; i++) {
      db.transaction(() => {
        db.exec(migrations[i]!);
        db.pragma(`user_version = ${i + 1}`);
      })();
    }
    return db;
  } catch (cause) {
    throw new StoreError("STORE_FAILED", `cannot open ${what} ${path}: ${(cause as Error).message}`, {
      cause,
      details: { path },
    });
  }
}

/** The embedded metadata database: runs, catalog, models and API keys share one file. */
export const openMetadataDb = (path: string): Database.Database => openSqliteDb(path, "the metadata store", MIGRATIONS);

/**
 * Runs a synchronous better-sqlite3 call as a promise: Strata's own errors (a model or run not
 * found) pass through; anything else is STORE_FAILED, named after the store (`label`) and the
 * operation (`what`).
 */
export function storeCall<T>(label: string, what: string, fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (cause) {
    if (isStrataError(cause)) return Promise.reject(cause);
    return Promise.reject(new StoreError("STORE_FAILED", `${label}: ${what} failed: ${(cause as Error).message}`, { cause }));
  }
}
