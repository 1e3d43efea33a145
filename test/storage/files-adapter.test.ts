import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { OpenStorage, StorageContext } from "../../src/storage/adapter.js";
import { filesAdapter, filesFolder } from "../../src/storage/files/adapter.js";
import type { StorageDefinition } from "../../src/storage/storage-definition.js";
import { rejection } from "../helpers/errors.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";

const tempDir = tempDirEachTest("strata-files-adapter-");
const storages = closeEachTest<OpenStorage>();

const definition = (options: StorageDefinition["options"] = { path: "data/raw" }, name = "lake"): StorageDefinition => ({
  name,
  technology: "files",
  format: "files",
  options,
});
const context = (): StorageContext => ({ projectDir: tempDir(), stateDir: join(tempDir(), ".strata"), env: {} });
const open = async (def = definition()): Promise<OpenStorage> => storages.track(await filesAdapter.open(def, context()));

describe("filesAdapter", () => {
  it("serves the files format: a folder, with no table or key-value capability", async () => {
    expect(filesAdapter.technology).toBe("files");
    expect(filesAdapter.formats).toEqual(["files"]);
    const storage = await open();
    expect(storage.definition).toEqual(definition());
    expect(storage.files).toEqual({ folder: join(tempDir(), "data/raw") });
    expect(storage.kv).toBeUndefined();
    expect(storage.tables).toBeUndefined();
  });

  it("checks its options: path is required", () => {
    expect(filesAdapter.check(definition())).toEqual([]);
    expect(filesAdapter.check(definition({}))).toEqual([
      'files storage "lake": option "path" is required: the folder of the files, relative to the project',
    ]);
    expect(filesAdapter.check(definition({ path: 3, glob: "*.csv" }))).toEqual([
      'files storage "lake": unknown option "glob" (known: path)',
      'files storage "lake": option "path" must be a non-empty string (a folder, relative to the project), not 3',
    ]);
    expect(filesAdapter.check(definition({ path: " " }))).toHaveLength(1);
  });

  it("refuses to open a bad definition or another format", async () => {
    const invalid = await rejection(filesAdapter.open(definition({}), context()));
    expect(invalid.code).toBe("STORAGE_INVALID");
    expect(invalid.message).toContain('option "path" is required');
    expect(invalid.details).toMatchObject({ storage: "lake" });
    const format = await rejection(filesAdapter.open({ ...definition(), format: "table" }, context()));
    expect(format.code).toBe("STORAGE_FORMAT_UNSUPPORTED");
  });

  it("resolves the folder against the project, or takes an absolute one", () => {
    expect(filesFolder(definition(), context())).toBe(join(tempDir(), "data/raw"));
    expect(filesFolder(definition({ path: "/srv/lake" }), context())).toBe("/srv/lake");
  });

  it("is healthy when the folder exists, counting its files (sub-folders too)", async () => {
    const storage = await open();
    expect(await storage.health()).toEqual({ ok: false, detail: `the folder ${join(tempDir(), "data/raw")} does not exist` });
    mkdirSync(join(tempDir(), "data/raw/2026"), { recursive: true });
    expect(await storage.health()).toEqual({ ok: true, detail: "0 files" });
    writeFileSync(join(tempDir(), "data/raw/a.csv"), "x\n");
    expect(await storage.health()).toEqual({ ok: true, detail: "1 file" });
    writeFileSync(join(tempDir(), "data/raw/2026/b.csv"), "x\n");
    writeFileSync(join(tempDir(), "data/raw/2026/c.jsonl"), "{}\n");
    expect(await storage.health()).toEqual({ ok: true, detail: "3 files" });
  });

  it("is not healthy when the path is a file, or cannot be read", async () => {
    mkdirSync(join(tempDir(), "data"), { recursive: true });
    writeFileSync(join(tempDir(), "data/raw"), "not a folder");
    expect(await (await open()).health()).toEqual({ ok: false, detail: `${join(tempDir(), "data/raw")} is not a folder` });

    mkdirSync(join(tempDir(), "locked"));
    chmodSync(join(tempDir(), "locked"), 0o000);
    try {
      const health = await (await open(definition({ path: "locked" }))).health();
      // root reads anything: the case only holds for other users.
      if (process.getuid?.() !== 0)
        expect(health).toEqual({ ok: false, detail: `the folder ${join(tempDir(), "locked")} cannot be read (permission denied)` });
      else expect(health.ok).toBe(true);
    } finally {
      chmodSync(join(tempDir(), "locked"), 0o755);
    }
  });
});
