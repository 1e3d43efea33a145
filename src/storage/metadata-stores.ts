import type { ApiKeyStore } from "./api-key-store.js";
import type { CatalogStore } from "./catalog-store.js";
import type { ModelRegistry } from "./model-registry.js";
import type { RunStore } from "./run-store.js";

/**
 * The metadata store's four parts on one database: runs, the catalog, the model registry and API
 * keys. SQLite in a project's `.strata/` by default; Postgres for deployments where several
 * processes (workers, services, the control plane) share them.
 */
export interface MetadataStores {
  readonly runs: RunStore;
  readonly catalog: CatalogStore;
  readonly models: ModelRegistry;
  readonly apiKeys: ApiKeyStore;
  /** Where they are, for people: a file, or a server and schema; never a secret. */
  readonly location: string;
  close(): Promise<void>;
}

/** Which database holds the metadata. The URL (with its password) comes from the caller, never from a file. */
export type MetadataChoice =
  | { readonly technology: "sqlite" }
  | {
      readonly technology: "postgres";
      /** postgres://user:password@host:port/database */
      readonly url: string;
      /** Default "strata". */
      readonly schema?: string;
      /** Connections at most. Default 10. */
      readonly poolSize?: number;
    };
