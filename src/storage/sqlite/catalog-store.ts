import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type Database from "better-sqlite3";
import {
  storageExists,
  type CatalogStore,
  type DatasetHold,
  type DatasetVersion,
  type LineageRecord,
  type NewDatasetVersion,
} from "../catalog-store.js";
import type { StorageDefinition } from "../storage-definition.js";
import { toDatasetVersion, toLineage, toStorageDefinition, type LineageRow, type StorageRow, type VersionRow } from "../metadata-rows.js";
import { isAlive, thisHost } from "../process-liveness.js";
import { storeCall } from "./metadata-db.js";

const VERSION_COLUMNS = `v.*, (select count(*) from dataset_live l where l.dataset = v.dataset and l.version = v.version) as live`;

/** The catalog in the embedded metadata database (the same file as the runs). */
export class SqliteCatalogStore implements CatalogStore {
  readonly #db: Database.Database;
  readonly #stmt;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#stmt = {
      addStorage: db.prepare(`insert into storages (name, technology, format, options, added_at) values (?, ?, ?, ?, ?)`),
      removeStorage: db.prepare(`delete from storages where name = ?`),
      storages: db.prepare(`select * from storages order by name`),
      maxVersion: db.prepare(`select coalesce(max(version), 0) as v from dataset_versions where dataset = ?`),
      insertVersion: db.prepare(
        `insert into dataset_versions (dataset, version, storage, status, run_id, step, partition, created_at) values (?, ?, ?, 'writing', ?, ?, ?, ?)`,
      ),
      finishVersion: db.prepare(
        `update dataset_versions set status = 'ready', rows = ?, finished_at = ? where dataset = ? and version = ?`,
      ),
      failVersion: db.prepare(
        `update dataset_versions set status = 'failed', error = ?, finished_at = ? where dataset = ? and version = ?`,
      ),
      dropVersion: db.prepare(`update dataset_versions set status = 'dropped' where dataset = ? and version = ?`),
      setLive: db.prepare(
        `insert into dataset_live (dataset, version, changed_at) values (?, ?, ?) on conflict (dataset) do update set version = excluded.version, changed_at = excluded.changed_at`,
      ),
      versions: db.prepare(`select ${VERSION_COLUMNS} from dataset_versions v where v.dataset = ? order by v.version`),
      versionsOfRun: db.prepare(`select ${VERSION_COLUMNS} from dataset_versions v where v.run_id = ? order by v.dataset, v.version`),
      live: db.prepare(
        `select ${VERSION_COLUMNS} from dataset_versions v join dataset_live l using (dataset, version) where v.dataset = ?`,
      ),
      datasets: db.prepare(`select distinct dataset from dataset_versions order by dataset`),
      lineage: db.prepare(`insert into lineage (run_id, step, dataset, version, direction, at) values (?, ?, ?, ?, ?, ?)`),
      lineageOfRun: db.prepare(`select * from lineage where run_id = ? order by at, dataset`),
      takeLock: db.prepare(
        `insert into dataset_locks (dataset, token, host, pid, taken_at) values (?, ?, ?, ?, ?) on conflict (dataset) do nothing`,
      ),
      lockHolder: db.prepare(`select token, host, pid, taken_at from dataset_locks where dataset = ?`),
      dropLock: db.prepare(`delete from dataset_locks where dataset = ? and token = ?`),
    };
  }

  async holdDataset(dataset: string, signal?: AbortSignal): Promise<DatasetHold> {
    const token = randomUUID();
    // SQLite has no lock that outlives a statement without blocking every writer of the file: a
    // row says who holds it, and a holder whose process has ended is cleared.
    for (let waitMs = 10; ; waitMs = Math.min(waitMs * 2, 250)) {
      signal?.throwIfAborted();
      const taken = await this.#run("take the dataset's write lock", () => {
        if (this.#stmt.takeLock.run(dataset, token, thisHost(), process.pid, Date.now()).changes) return true;
        const holder = this.#stmt.lockHolder.get(dataset) as { token: string; host: string; pid: number; taken_at: number } | undefined;
        // Our own pid counts too: a restarted container is often pid 1 again.
        if (holder && holder.host === thisHost() && !isAlive(holder.pid, holder.taken_at)) this.#stmt.dropLock.run(dataset, holder.token);
        return false;
      });
      // Held until let go: only a writer whose process has ended loses its row. Letting go never
      // fails the write it closes: a row left behind is cleared with its process.
      if (taken)
        return {
          ensure: () => undefined,
          release: () =>
            this.#run("release the dataset's write lock", () => void this.#stmt.dropLock.run(dataset, token)).catch(() => undefined),
        };
      await sleep(waitMs, undefined, signal ? { signal } : {}).catch(() => signal?.throwIfAborted());
    }
  }

  #run<T>(what: string, fn: () => T): Promise<T> {
    return storeCall(`catalog (${this.#db.name})`, what, fn);
  }

  addStorage(d: StorageDefinition, at: number): Promise<void> {
    return this.#run("add storage", () => {
      try {
        this.#stmt.addStorage.run(d.name, d.technology, d.format, JSON.stringify(d.options), at);
      } catch (cause) {
        if ((cause as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
          throw storageExists(d.name);
        }
        throw cause;
      }
    });
  }

  removeStorage(name: string): Promise<boolean> {
    return this.#run("remove storage", () => this.#stmt.removeStorage.run(name).changes > 0);
  }

  listStorages(): Promise<StorageDefinition[]> {
    return this.#run("list storages", () => (this.#stmt.storages.all() as StorageRow[]).map(toStorageDefinition));
  }

  beginVersion(e: NewDatasetVersion): Promise<number> {
    return this.#run("begin version", () =>
      // One transaction: two writers never get the same number.
      this.#db
        .transaction(() => {
          const next = (this.#stmt.maxVersion.get(e.dataset) as { v: number }).v + 1;
          this.#stmt.insertVersion.run(e.dataset, next, e.storage, e.runId, e.step, e.partition, e.at);
          return next;
        })
        .immediate(),
    );
  }

  finishVersion(dataset: string, version: number, rows: number, at: number): Promise<void> {
    return this.#run("finish version", () => void this.#stmt.finishVersion.run(rows, at, dataset, version));
  }

  failVersion(dataset: string, version: number, error: string, at: number): Promise<void> {
    return this.#run("fail version", () => void this.#stmt.failVersion.run(error, at, dataset, version));
  }

  setLive(dataset: string, version: number, at: number): Promise<void> {
    return this.#run("set live", () => void this.#stmt.setLive.run(dataset, version, at));
  }

  markDropped(dataset: string, version: number): Promise<void> {
    return this.#run("mark dropped", () => void this.#stmt.dropVersion.run(dataset, version));
  }

  versions(dataset: string): Promise<DatasetVersion[]> {
    return this.#run("list versions", () => (this.#stmt.versions.all(dataset) as VersionRow[]).map(toDatasetVersion));
  }

  versionsOfRun(runId: string): Promise<DatasetVersion[]> {
    return this.#run("versions of run", () => (this.#stmt.versionsOfRun.all(runId) as VersionRow[]).map(toDatasetVersion));
  }

  liveVersion(dataset: string): Promise<DatasetVersion | null> {
    return this.#run("live version", () => {
      const row = this.#stmt.live.get(dataset) as VersionRow | undefined;
      return row ? toDatasetVersion(row) : null;
    });
  }

  datasets(): Promise<string[]> {
    return this.#run("list datasets", () => (this.#stmt.datasets.all() as { dataset: string }[]).map((r) => r.dataset));
  }

  recordLineage(records: readonly LineageRecord[]): Promise<void> {
    if (!records.length) return Promise.resolve();
    return this.#run("record lineage", () =>
      this.#db.transaction(() => {
        for (const r of records) this.#stmt.lineage.run(r.runId, r.step, r.dataset, r.version, r.direction, r.at);
      })(),
    );
  }

  lineageOfRun(runId: string): Promise<LineageRecord[]> {
    return this.#run("lineage of run", () => (this.#stmt.lineageOfRun.all(runId) as LineageRow[]).map(toLineage));
  }
}
