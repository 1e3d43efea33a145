import { StrataError } from "../errors/strata-error.js";
import type { MetadataChoice, MetadataStores } from "./metadata-stores.js";
import { openPostgresMetadata } from "./postgres/metadata-stores.js";
import { openSqliteMetadata } from "./sqlite/metadata-stores.js";

/**
 * Opens the metadata stores the choice names; `sqlitePath` is the embedded file, used when the
 * choice is SQLite. Synchronous: the Postgres stores connect, load their driver and migrate at
 * their first call, so opening a workspace is the same call whatever holds its metadata.
 */
export function openMetadataStores(choice: MetadataChoice, sqlitePath: string): MetadataStores {
  switch (choice.technology) {
    case "sqlite":
      return openSqliteMetadata(sqlitePath);
    case "postgres":
      return openPostgresMetadata(choice);
    default:
      throw new StrataError(
        "STORAGE_INVALID",
        `the metadata store's technology must be "sqlite" or "postgres" (got ${JSON.stringify((choice as { technology: unknown }).technology)})`,
      );
  }
}
