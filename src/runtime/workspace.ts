import { join } from "node:path";
import { builtinStorages, StorageSet } from "../data/storage-set.js";
import { StrataError } from "../errors/strata-error.js";
import type { ApiKeyStore } from "../storage/api-key-store.js";
import type { CatalogStore } from "../storage/catalog-store.js";
import { openMetadataStores } from "../storage/metadata-registry.js";
import type { MetadataChoice } from "../storage/metadata-stores.js";
import type { ModelRegistry } from "../storage/model-registry.js";
import type { QuarantineStore } from "../storage/quarantine-store.js";
import type { RunStore } from "../storage/run-store.js";
import type { StorageDefinition } from "../storage/storage-definition.js";
import type { TableEngine } from "../storage/table-engine.js";

/**
 * Where runs are recorded, datasets catalogued, and SQL steps executed. The embedded defaults
 * live in a project's `.strata/` folder: metadata (runs and catalog) in SQLite, run tables in the
 * `warehouse` storage (DuckDB unless the project says otherwise), opened only when needed. The
 * metadata can live in Postgres instead (`metadata` option), for processes sharing it.
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
  /**
   * Where runs, the catalog, models and API keys are kept: `{ technology: "sqlite" }` (the
   * default: `metadata.sqlite` in the state folder) or `{ technology: "postgres", url, schema }`
   * (schema default `strata`), for several processes on one metadata store.
   */
  metadata?: MetadataChoice;
}

export function openWorkspace(stateDir: string | ":memory:", options: WorkspaceOptions = {}): Workspace {
  const memory = stateDir === ":memory:";
  const metadata = openMetadataStores(
    options.metadata ?? { technology: "sqlite" },
    memory ? ":memory:" : join(stateDir, "metadata.sqlite"),
  );
  const { runs: store, catalog } = metadata;
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
    models: metadata.models,
    apiKeys: metadata.apiKeys,
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
      try {
        await storages.close();
      } finally {
        await metadata.close();
      }
    },
  };
}
