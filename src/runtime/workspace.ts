import { join } from "node:path";
import type Database from "better-sqlite3";
import { builtinStorages, StorageSet } from "../data/storage-set.js";
import { StrataError } from "../errors/strata-error.js";
import type { CatalogStore } from "../storage/catalog-store.js";
import type { QuarantineStore } from "../storage/quarantine-store.js";
import type { RunStore } from "../storage/run-store.js";
import type { StorageDefinition } from "../storage/storage-definition.js";
import type { TableEngine } from "../storage/table-engine.js";
import { SqliteCatalogStore } from "../storage/sqlite/catalog-store.js";
import { openMetadataDb } from "../storage/sqlite/metadata-db.js";
import { SqliteRunStore } from "../storage/sqlite/run-store.js";
import { SqliteModelRegistry } from "../storage/sqlite/model-registry.js";
import type { ModelRegistry } from "../storage/model-registry.js";
import { SqliteApiKeyStore } from "../storage/sqlite/api-key-store.js";
import type { ApiKeyStore } from "../storage/api-key-store.js";

/**
 * Where runs are recorded, datasets catalogued, and SQL steps executed. The embedded defaults
 * live in a project's `.strata/` folder: metadata (runs and catalog) in SQLite, run tables in the
 * `warehouse` storage (DuckDB unless the project says otherwise), opened only when needed.
 */
export interface Workspace {
  readonly store: RunStore;
  readonly catalog: CatalogStore;
  readonly models: ModelRegistry;
  /** API keys of the models service (hashed), in the metadata store. */
  readonly apiKeys: ApiKeyStore;
  readonly storages: StorageSet;
  /** The engine of the `warehouse` storage, where a run's own SQL tables live. */
  engine(): Promise<TableEngine>;
  /** Where rejected records are kept: in the `warehouse` storage, beside the run tables. */
  quarantine(): Promise<QuarantineStore>;
  close(): Promise<void>;
}

export interface WorkspaceOptions {
  /** Relative storage paths resolve here. Default: the parent of the state folder. */
  projectDir?: string;
  /** Storages from strata.config.ts. */
  storages?: readonly StorageDefinition[];
  env?: Readonly<Record<string, string | undefined>>;
}

export function openWorkspace(stateDir: string | ":memory:", options: WorkspaceOptions = {}): Workspace {
  const memory = stateDir === ":memory:";
  const db: Database.Database = openMetadataDb(memory ? ":memory:" : join(stateDir, "metadata.sqlite"));
  const store = new SqliteRunStore(db);
  const catalog = new SqliteCatalogStore(db);
  const declared = [
    ...builtinStorages(stateDir).map((definition) => ({ definition, origin: "builtin" as const })),
    ...(options.storages ?? []).map((definition) => ({ definition, origin: "config" as const })),
  ];
  const storages = new StorageSet(declared, catalog, {
    projectDir: options.projectDir ?? (memory ? process.cwd() : join(stateDir, "..")),
    stateDir: memory ? ":memory:" : stateDir,
    env: options.env ?? process.env,
  });
  return {
    store,
    catalog,
    models: new SqliteModelRegistry(db),
    apiKeys: new SqliteApiKeyStore(db),
    storages,
    async engine() {
      const warehouse = await storages.open("warehouse");
      if (!warehouse.tables)
        throw new StrataError("STORAGE_FORMAT_UNSUPPORTED", `storage "warehouse" must be a table storage: run tables live in it`);
      return warehouse.tables;
    },
    async quarantine() {
      const warehouse = await storages.open("warehouse");
      if (!warehouse.quarantine)
        throw new StrataError(
          "STORAGE_FORMAT_UNSUPPORTED",
          `storage "warehouse" (${warehouse.definition.technology}) cannot keep quarantined records: use the embedded duckdb warehouse`,
        );
      return warehouse.quarantine;
    },
    async close() {
      await storages.close();
      if (db.open) db.close();
    },
  };
}
