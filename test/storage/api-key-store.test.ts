import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { rejection } from "../helpers/errors.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";
import { API_SCOPES, hashApiKey, type ApiScope } from "../../src/storage/api-key-store.js";
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

  it("activeByHash maps the hash of every key not revoked to its record", async () => {
    const { keys } = open();
    const a = await keys.create("a", ["invoke"], 1);
    const b = await keys.create("b", ["invoke", "manage"], 2);
    expect(await keys.activeByHash()).toEqual(
      new Map([
        [hashApiKey(a.key), a.record],
        [hashApiKey(b.key), b.record],
      ]),
    );
    await keys.revoke("a", 3);
    const active = await keys.activeByHash();
    expect([...active.keys()]).toEqual([hashApiKey(b.key)]);
    expect(active.get(hashApiKey(a.key))).toBeUndefined();
  });

  it("refuses a name already taken by a key not revoked, and accepts it again once that key is revoked", async () => {
    const { keys } = open();
    const first = await keys.create("ops", ["manage"], 1);
    const error = await rejection(keys.create("ops", ["invoke"], 2));
    expect(error.code).toBe("API_KEY_INVALID");
    expect(error.status).toBe(400);
    expect(error.message).toContain(`an API key named "ops" already exists (${first.record.id})`);
    await keys.revoke(first.record.id, 3);
    const again = await keys.create("ops", ["invoke"], 4);
    expect(again.record.id).not.toBe(first.record.id);
    expect((await keys.list()).map((k) => [k.name, k.revokedAt])).toEqual([
      ["ops", 3],
      ["ops", null],
    ]);
  });

  it("refuses an unknown scope, no scope, and an empty name, naming the valid scopes", async () => {
    const { keys } = open();
    const unknown = await rejection(keys.create("x", ["invoke", "admin" as ApiScope], 1));
    expect(unknown.code).toBe("API_KEY_INVALID");
    expect(unknown.message).toBe(`unknown scope "admin" (valid scopes: invoke, manage, run)`);
    expect(unknown.details).toMatchObject({ validScopes: [...API_SCOPES] });
    const none = await rejection(keys.create("x", [], 1));
    expect(none.code).toBe("API_KEY_INVALID");
    expect(none.message).toContain("at least one scope (valid scopes: invoke, manage, run)");
    const noName = await rejection(keys.create("  ", ["invoke"], 1));
    expect(noName.code).toBe("API_KEY_INVALID");
    expect(noName.message).toContain("needs a name");
    expect(await keys.list()).toEqual([]);
  });

  it("revokes by id and by name, and returns the record; revoking again changes nothing", async () => {
    const { keys } = open();
    const a = await keys.create("a", ["invoke"], 1);
    const b = await keys.create("b", ["invoke"], 2);
    expect(await keys.revoke(a.record.id, 10)).toEqual({ ...a.record, revokedAt: 10 });
    expect(await keys.revoke("b", 11)).toEqual({ ...b.record, revokedAt: 11 });
    expect(await keys.revoke("b", 12)).toEqual({ ...b.record, revokedAt: 11 });
    expect((await keys.list()).map((k) => k.revokedAt)).toEqual([10, 11]);
    expect((await keys.activeByHash()).size).toBe(0);
  });

  it("revoking an unknown id or name is API_KEY_NOT_FOUND", async () => {
    const { keys } = open();
    await keys.create("a", ["invoke"], 1);
    const error = await rejection(keys.revoke("nope", 2));
    expect(error.code).toBe("API_KEY_NOT_FOUND");
    expect(error.status).toBe(404);
    expect(error.message).toContain(`no API key has the id or name "nope"`);
    expect((await keys.list())[0]!.revokedAt).toBeNull();
  });

  it("keeps keys across reopening the metadata file", async () => {
    const path = join(tempDir(), "metadata.sqlite");
    const first = open(path);
    const { key } = await first.keys.create("a", ["invoke"], 1);
    first.db.close();
    const second = open(path);
    expect((await second.keys.activeByHash()).get(hashApiKey(key))?.name).toBe("a");
  });
});
