import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { StoreError } from "../../errors/errors.js";
import { isStrataError } from "../../errors/strata-error.js";
import { MIGRATIONS } from "./schema.js";

/**
 * Opens the embedded metadata database (runs and catalog share one file) and brings its schema
 * up to date; `user_version` records which migrations ran.
 */
export function openMetadataDb(path: string): Database.Database {
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    const version = db.pragma("user_version", { simple: true }) as number;
    for (let i = version; i < MIGRATIONS.length; i++) {
      db.transaction(() => {
        db.exec(MIGRATIONS[i]!);
        db.pragma(`user_version = ${i + 1}`);
      })();
    }
    return db;
  } catch (cause) {
    throw new StoreError("STORE_FAILED", `cannot open the metadata store ${path}: ${(cause as Error).message}`, {
      cause,
      details: { path },
    });
  }
}

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
