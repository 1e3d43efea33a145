import type { MetadataStores } from "../metadata-stores.js";
import { PostgresApiKeyStore } from "./api-key-store.js";
import { PostgresCatalogStore } from "./catalog-store.js";
import { PostgresMetadataDb, type PostgresMetadataOptions } from "./metadata-db.js";
import { PostgresModelRegistry } from "./model-registry.js";
import { PostgresRunStore } from "./run-store.js";

/** The metadata stores in one schema of a Postgres server; nothing connects (or migrates) before the first call. */
export function openPostgresMetadata(options: PostgresMetadataOptions): MetadataStores {
  const db = new PostgresMetadataDb(options);
  return {
    runs: new PostgresRunStore(db),
    catalog: new PostgresCatalogStore(db),
    models: new PostgresModelRegistry(db),
    apiKeys: new PostgresApiKeyStore(db),
    location: db.location,
    close: () => db.close(),
  };
}
