import type { MetadataStores } from "../metadata-stores.js";
import { SqliteApiKeyStore } from "./api-key-store.js";
import { SqliteCatalogStore } from "./catalog-store.js";
import { openMetadataDb } from "./metadata-db.js";
import { SqliteModelRegistry } from "./model-registry.js";
import { SqliteRunStore } from "./run-store.js";

/** The metadata stores on one SQLite file (or `:memory:`), opened and migrated now. */
export function openSqliteMetadata(path: string): MetadataStores {
  const db = openMetadataDb(path);
  return {
    runs: new SqliteRunStore(db),
    catalog: new SqliteCatalogStore(db),
    models: new SqliteModelRegistry(db),
    apiKeys: new SqliteApiKeyStore(db),
    location: path,
    close() {
      if (db.open) db.close();
      return Promise.resolve();
    },
  };
}
