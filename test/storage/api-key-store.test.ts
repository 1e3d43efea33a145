import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";
import { hashApiKey } from "../../src/storage/api-key-store.js";
import { SqliteApiKeyStore } from "../../src/storage/sqlite/api-key-store.js";
import { openMetadataDb } from "../../src/storage/sqlite/metadata-db.js";

const tempDir = tempDirEachTest("strata-api-keys-");
const dbs = closeEachTest<Database.Database>();

function open(path = ":memory:"): { db: Database.Database; keys: SqliteApiKeyStore } {
  const db = dbs.track(openMetadataDb(path));
  return { db, keys: new SqliteApiKeyStore(db) };
}

describe("hashApiKey", () => {
  it("is the hex SHA-256 of the key", () => {
    expect(hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("SqliteApiKeyStore", () => {
  it("creates a strata_ key, returns it once, and stores only its SHA-256 hash", async () => {
    const path = join(tempDir(), "metadata.sqlite");
    const { db, keys } = open(path);
    const { key, record } = await keys.create("checkout-app", ["invoke"], 1000);
    expect(key).toMatch(/^strata_[A-Za-z0-9_-]{43}$/);
    expect(record).toEqual({
      id: expect.stringMatching(/^k/),
      name: "checkout-app",
      scopes: ["invoke"],
      createdAt: 1000,
      revokedAt: null,
      hint: key.slice(0, 12),
    });

    const rows = db.prepare(`select * from api_keys`).all() as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!.hash).toBe(hashApiKey(key));
    expect(Object.values(rows[0]!)).not.toContain(key);
    db.pragma("wal_checkpoint(TRUNCATE)");
    const secret = key.slice(12); // the part the hint does not show
    for (const file of readdirSync(tempDir())) expect(readFileSync(join(tempDir(), file)).toString("latin1")).not.toContain(secret);

    // two keys never collide, and the list shows records only
    const second = await keys.create("other", ["manage", "invoke"], 2000);
    expect(second.key).not.toBe(key);
    expect(second.record.scopes).toEqual(["invoke", "manage"]);
    expect(await keys.list()).toEqual([record, second.record]);
  });

  // The ApiKeyStore contract (lookups by hash, names, scopes, revoking) is test/conformance/metadata-store.suite.ts,
  // run on SQLite and Postgres; these are the SQLite file's own.

  it("keeps keys across reopening the metadata file", async () => {
    const path = join(tempDir(), "metadata.sqlite");
    const first = open(path);
    const { key } = await first.keys.create("a", ["invoke"], 1);
    first.db.close();
    const second = open(path);
    expect((await second.keys.activeByHash()).get(hashApiKey(key))?.name).toBe("a");
  });
});
