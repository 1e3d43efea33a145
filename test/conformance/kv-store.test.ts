import { join } from "node:path";
import type { OpenStorage, StorageContext } from "../../src/storage/adapter.js";
import type { KvStore } from "../../src/storage/kv-store.js";
import { redisAdapter } from "../../src/storage/redis/adapter.js";
import { sqliteAdapter } from "../../src/storage/sqlite/adapter.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";
import { redisUrl, uniqueName } from "../helpers/services.js";
import { kvStoreSuite } from "./kv-store.suite.js";

const tempDir = tempDirEachTest("strata-kv-");
const storages = closeEachTest<OpenStorage>();

const context = (): StorageContext => ({
  projectDir: tempDir(),
  stateDir: join(tempDir(), ".strata"),
  env: { STRATA_TEST_REDIS_URL: redisUrl() },
});

/** Each test gets a fresh store: a new file in its temp dir, or a new key prefix on the shared Redis. */
async function openKv(storage: Promise<OpenStorage>): Promise<KvStore> {
  const opened = storages.track(await storage);
  if (!opened.kv) throw new Error(`storage "${opened.definition.name}" has no key-value capability`);
  return opened.kv;
}

kvStoreSuite("sqlite", () => openKv(sqliteAdapter.open({ name: "scores", technology: "sqlite", format: "kv", options: {} }, context())));

kvStoreSuite("redis", () =>
  openKv(
    redisAdapter.open(
      { name: "scores", technology: "redis", format: "kv", options: { urlEnv: "STRATA_TEST_REDIS_URL", prefix: uniqueName("kvtest") } },
      context(),
    ),
  ),
);
