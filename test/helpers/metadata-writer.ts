/**
 * A writer process for the metadata tests: opens the metadata store named in its argument (JSON),
 * allocates `each` versions of the dataset "contended" and registers `each` versions of the
 * model "contended", all in flight at once, and prints the numbers it got as JSON.
 */
import { openPostgresMetadata } from "../../src/storage/postgres/metadata-stores.js";
import { openSqliteMetadata } from "../../src/storage/sqlite/metadata-stores.js";

const target = JSON.parse(process.argv[2]!) as
  { technology: "sqlite"; path: string; each: number } | { technology: "postgres"; url: string; schema: string; each: number };
const stores = target.technology === "sqlite" ? openSqliteMetadata(target.path) : openPostgresMetadata(target);
const each = Array.from({ length: target.each }, (_, i) => i);
const [versions, models] = await Promise.all([
  Promise.all(
    each.map((i) =>
      stores.catalog.beginVersion({
        dataset: "contended",
        storage: "warehouse",
        runId: `r${process.pid}`,
        step: `s${i}`,
        partition: null,
        at: i,
      }),
    ),
  ),
  Promise.all(
    each.map((i) => stores.models.register({ name: "contended", algorithm: "x", params: { i }, runId: null, step: null, at: i })),
  ),
]);
await stores.close();
process.stdout.write(JSON.stringify({ versions, models: models.map((m) => m.version) }));
