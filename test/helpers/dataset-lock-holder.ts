/**
 * A process that takes the write lock of the dataset "contended" on the metadata store named in
 * its argument (JSON), prints "held" and waits to be killed.
 */
import { openPostgresMetadata } from "../../src/storage/postgres/metadata-stores.js";
import { openSqliteMetadata } from "../../src/storage/sqlite/metadata-stores.js";

const target = JSON.parse(process.argv[2]!) as
  { technology: "sqlite"; path: string } | { technology: "postgres"; url: string; schema: string };
const stores = target.technology === "sqlite" ? openSqliteMetadata(target.path) : openPostgresMetadata(target);
await stores.catalog.holdDataset("contended");
process.stdout.write("held\n");
setInterval(() => undefined, 60_000);
