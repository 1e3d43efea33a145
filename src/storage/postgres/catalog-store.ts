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
import { nextVersion, pgText, unnestColumns, type PostgresMetadataDb } from "./metadata-db.js";

const VERSION_COLUMNS = `v.*, exists (select 1 from dataset_live l where l.dataset = v.dataset and l.version = v.version) as live`;

const LABEL = "catalog";

/** The catalog in the Postgres metadata schema, beside the runs. */
export class PostgresCatalogStore implements CatalogStore {
  readonly #db: PostgresMetadataDb;

  constructor(db: PostgresMetadataDb) {
    this.#db = db;
  }

  #query<R extends object>(what: string, sql: string, values: readonly unknown[] = []): Promise<R[]> {
    return this.#db.query<R & Record<string, unknown>>(LABEL, what, sql, values);
  }

  holdDataset(dataset: string, signal?: AbortSignal): Promise<DatasetHold> {
    return this.#db.advisoryHold(LABEL, "take the dataset's write lock", `dataset:${dataset}`, signal);
  }

  async addStorage(d: StorageDefinition, at: number): Promise<void> {
    const added = await this.#query(
      "add storage",
      `insert into storages (name, technology, format, options, added_at) values ($1, $2, $3, $4, $5) on conflict (name) do nothing returning name`,
      [d.name, d.technology, d.format, JSON.stringify(d.options), at],
    );
    if (!added.length) throw storageExists(d.name);
  }

  async removeStorage(name: string): Promise<boolean> {
    return (await this.#query("remove storage", `delete from storages where name = $1 returning name`, [name])).length > 0;
  }

  async listStorages(): Promise<StorageDefinition[]> {
    const rows = await this.#query<StorageRow>("list storages", `select * from storages order by name`);
    return rows.map(toStorageDefinition);
  }

  beginVersion(e: NewDatasetVersion): Promise<number> {
    return this.#db.transaction(LABEL, "begin version", async (query) => {
      const version = await nextVersion(query, "dataset", e.dataset);
      await query(
        `insert into dataset_versions (dataset, version, storage, status, run_id, step, partition, created_at) values ($1, $2, $3, 'writing', $4, $5, $6, $7)`,
        [e.dataset, version, e.storage, e.runId, e.step, e.partition, e.at],
      );
      return version;
    });
  }

  async finishVersion(dataset: string, version: number, rows: number, at: number): Promise<void> {
    await this.#query(
      "finish version",
      `update dataset_versions set status = 'ready', rows = $3, finished_at = $4 where dataset = $1 and version = $2`,
      [dataset, version, rows, at],
    );
  }

  async failVersion(dataset: string, version: number, error: string, at: number): Promise<void> {
    await this.#query(
      "fail version",
      `update dataset_versions set status = 'failed', error = $3, finished_at = $4 where dataset = $1 and version = $2`,
      [dataset, version, pgText(error), at],
    );
  }

  async setLive(dataset: string, version: number, at: number): Promise<void> {
    await this.#query(
      "set live",
      `insert into dataset_live (dataset, version, changed_at) values ($1, $2, $3)
       on conflict (dataset) do update set version = excluded.version, changed_at = excluded.changed_at`,
      [dataset, version, at],
    );
  }

  async markDropped(dataset: string, version: number): Promise<void> {
    await this.#query("mark dropped", `update dataset_versions set status = 'dropped' where dataset = $1 and version = $2`, [
      dataset,
      version,
    ]);
  }

  async versions(dataset: string): Promise<DatasetVersion[]> {
    const rows = await this.#query<VersionRow>(
      "list versions",
      `select ${VERSION_COLUMNS} from dataset_versions v where v.dataset = $1 order by v.version`,
      [dataset],
    );
    return rows.map(toDatasetVersion);
  }

  async versionsOfRun(runId: string): Promise<DatasetVersion[]> {
    const rows = await this.#query<VersionRow>(
      "versions of run",
      `select ${VERSION_COLUMNS} from dataset_versions v where v.run_id = $1 order by v.dataset, v.version`,
      [runId],
    );
    return rows.map(toDatasetVersion);
  }

  async liveVersion(dataset: string): Promise<DatasetVersion | null> {
    const [row] = await this.#query<VersionRow>(
      "live version",
      `select v.*, true as live from dataset_versions v join dataset_live l using (dataset, version) where v.dataset = $1`,
      [dataset],
    );
    return row ? toDatasetVersion(row) : null;
  }

  async datasets(): Promise<string[]> {
    const rows = await this.#query<{ dataset: string }>("list datasets", `select distinct dataset from dataset_versions order by dataset`);
    return rows.map((r) => r.dataset);
  }

  async recordLineage(records: readonly LineageRecord[]): Promise<void> {
    if (!records.length) return;
    await this.#query(
      "record lineage",
      `insert into lineage (run_id, step, dataset, version, direction, at)
       select run_id, step, dataset, version, direction, at
       from unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::bigint[])
         with ordinality as r (run_id, step, dataset, version, direction, at, n)
       order by n`,
      [...unnestColumns(records, 6, (r) => [r.runId, r.step, r.dataset, r.version, r.direction, r.at])],
    );
  }

  async lineageOfRun(runId: string): Promise<LineageRecord[]> {
    const rows = await this.#query<LineageRow>("lineage of run", `select * from lineage where run_id = $1 order by at, dataset, seq`, [
      runId,
    ]);
    return rows.map(toLineage);
  }
}
