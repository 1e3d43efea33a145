import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import type { OpenStorage, StorageContext } from "../../src/storage/adapter.js";
import type { StorageDefinition } from "../../src/storage/storage-definition.js";
import { sqliteAdapter } from "../../src/storage/sqlite/adapter.js";
import { SqliteKvStore } from "../../src/storage/sqlite/kv-store.js";
import { rejection } from "../helpers/errors.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const tempDir = tempDirEachTest("strata-sqlite-kv-");
const storages = closeEachTest<OpenStorage>();
const stores = closeEachTest<SqliteKvStore>();

const definition = (options: StorageDefinition["options"] = {}, name = "scores"): StorageDefinition => ({
  name,
  technology: "sqlite",
  format: "kv",
  options,
});
const context = (): StorageContext => ({ projectDir: tempDir(), stateDir: join(tempDir(), ".strata"), env: {} });
const open = async (def = definition()): Promise<OpenStorage> => storages.track(await sqliteAdapter.open(def, context()));

describe("sqliteAdapter", () => {
  it("serves the kv format", () => {
    expect(sqliteAdapter.technology).toBe("sqlite");
    expect(sqliteAdapter.formats).toEqual(["kv"]);
  });

  it("checks its options", () => {
    expect(sqliteAdapter.check(definition())).toEqual([]);
    expect(sqliteAdapter.check(definition({ path: "data/scores.sqlite" }))).toEqual([]);
    expect(sqliteAdapter.check(definition({ file: "x", path: 3 }))).toEqual([
      'sqlite storage "scores": unknown option "file" (known: path)',
      'sqlite storage "scores": option "path" must be a non-empty string (a file path, relative to the project)',
    ]);
    expect(sqliteAdapter.check(definition({ path: " " }))).toHaveLength(1);
  });

  it("refuses to open a bad definition or another format", async () => {
    const invalid = await rejection(sqliteAdapter.open(definition({ path: true }), context()));
    expect(invalid.code).toBe("STORAGE_INVALID");
    expect(invalid.message).toMatch(/"path" must be a non-empty string/);
    const format = await rejection(sqliteAdapter.open({ ...definition(), format: "table" }, context()));
    expect(format.code).toBe("STORAGE_FORMAT_UNSUPPORTED");
  });

  it("keeps its file in the state folder by default, and reopens it with its data", async () => {
    const first = await open();
    expect(existsSync(join(tempDir(), ".strata", "scores.kv.sqlite"))).toBe(true);
    const writer = await first.kv!.beginVersion("customers", 1);
    await writer.put([["c1", '{"clv":1}']]);
    await writer.finish();
    await first.kv!.activate("customers", 1);
    await first.close();
    const again = await open();
    expect(await again.kv!.get("customers", "c1")).toBe('{"clv":1}');
    expect(await again.kv!.liveVersion("customers")).toBe(1);
  });

  it("resolves a relative path against the project folder", async () => {
    await open(definition({ path: "data/serving.sqlite" }));
    expect(existsSync(join(tempDir(), "data", "serving.sqlite"))).toBe(true);
  });

  it("reports its health: the SQLite version and the count of datasets", async () => {
    const storage = await open();
    expect(await storage.health()).toEqual({ ok: true, detail: expect.stringMatching(/^sqlite 3\.\d+\.\d+, 0 datasets$/) as unknown });
    for (const dataset of ["a", "b"]) {
      const writer = await storage.kv!.beginVersion(dataset, 1);
      await writer.finish();
    }
    expect((await storage.health()).detail).toMatch(/, 2 datasets$/);
    await storage.close();
    const closed = await storage.health();
    expect(closed.ok).toBe(false);
    expect(closed.detail).toMatch(/storage "scores"/);
  });

  it("fails with STORAGE_UNAVAILABLE naming the storage when its file cannot be opened", async () => {
    mkdirSync(join(tempDir(), "taken.sqlite"));
    const error = await rejection(sqliteAdapter.open(definition({ path: "taken.sqlite" }, "broken"), context()));
    expect(error.code).toBe("STORAGE_UNAVAILABLE");
    expect(error.message).toMatch(/storage "broken".*taken\.sqlite/);
  });

  // Readers in one process, versions written and flipped by another process on the same file:
  // each read is one statement on one WAL snapshot, so no answer may mix two versions.
  it("never mixes versions for a reader while another process writes and flips them", { timeout: 60_000 }, async () => {
    const path = join(tempDir(), "shared.kv.sqlite");
    const keys = Array.from({ length: 30_000 }, (_, i) => `k${i}`);
    const asked = keys.filter((_, i) => i % 300 === 0);
    const store = stores.track(new SqliteKvStore(path));
    const first = await store.beginVersion("hot", 1);
    await first.put(keys.map((k) => [k, JSON.stringify({ k, version: 1 })]));
    await first.finish();
    await store.activate("hot", 1);

    const script = join(tempDir(), "writer.mts");
    writeFileSync(
      script,
      `import { SqliteKvStore } from ${JSON.stringify(pathToFileURL(join(ROOT, "src/storage/sqlite/kv-store.ts")).href)};
       const store = new SqliteKvStore(${JSON.stringify(path)});
       const keys = Array.from({ length: ${keys.length} }, (_, i) => "k" + i);
       for (let version = 2; version <= 8; version++) {
         const writer = await store.beginVersion("hot", version);
         await writer.put(keys.map((k) => [k, JSON.stringify({ k, version })]));
         await writer.finish();
         await store.activate("hot", version);
         await store.dropVersion("hot", version - 1);
       }
       store.close();`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.on("exit", done));
    let running = true;
    void exited.then(() => (running = false));

    let reads = 0;
    let mixed = 0;
    const seen = new Set<number | null>();
    while (running) {
      const answer = await store.mget("hot", asked);
      const versions = new Set(answer.map((v) => (v === undefined ? null : (JSON.parse(v) as { version: number }).version)));
      if (versions.size !== 1) mixed++;
      for (const v of versions) seen.add(v);
      reads++;
      await new Promise((done) => setImmediate(done));
    }
    expect(await exited, stderr).toBe(0);
    expect(mixed).toBe(0);
    expect(seen.has(null)).toBe(false);
    expect(reads).toBeGreaterThan(100);
    expect(seen.size).toBeGreaterThan(1);
    expect(await store.liveVersion("hot")).toBe(8);
  });

  it("reads of one turn share a snapshot: another connection's flip shows from the next turn, its own at once", async () => {
    const path = join(tempDir(), "turns.kv.sqlite");
    const reader = stores.track(new SqliteKvStore(path));
    const other = stores.track(new SqliteKvStore(path)); // another connection, as another process has
    for (const version of [1, 2]) {
      const writer = await other.beginVersion("d", version);
      await writer.put([["k", JSON.stringify({ version })]]);
      await writer.finish();
    }
    await other.activate("d", 1);
    await new Promise((done) => setImmediate(done));

    const before = reader.get("d", "k");
    await other.activate("d", 2); // committed by the other connection within the reader's turn
    const sameTurn = reader.get("d", "k");
    expect([await before, await sameTurn]).toEqual(['{"version":1}', '{"version":1}']);
    await new Promise((done) => setImmediate(done));
    expect(await reader.get("d", "k")).toBe('{"version":2}');

    await reader.activate("d", 1); // the reader's own write ends its snapshot: the next read sees it
    expect(await reader.get("d", "k")).toBe('{"version":1}');
  });
});
