import { execFileSync } from "node:child_process";
import { join } from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import type { StorageContext } from "../../src/storage/adapter.js";
import { duckdbAdapter } from "../../src/storage/duckdb/adapter.js";
import { DuckDbTableEngine } from "../../src/storage/duckdb/table-engine.js";
import { postgresAdapter } from "../../src/storage/postgres/adapter.js";
import type { ResolvedQuery, TableEngine } from "../../src/storage/table-engine.js";
import { rejection } from "../helpers/errors.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";
import { postgresUrl } from "../helpers/services.js";
import { tableEngineSuite } from "./table-engine.suite.js";

const tempDir = tempDirEachTest("strata-tables-");
const closing = closeEachTest<{ close(): Promise<void> }>();
/** Closes whatever it is given after the test, and hands it back with its own type. */
const track = <T extends { close(): Promise<void> }>(resource: T): T => (closing.track(resource), resource);

const context = (env: Record<string, string> = {}): StorageContext => ({
  projectDir: tempDir(),
  stateDir: join(tempDir(), ".strata"),
  env,
});

async function tablesOf(storage: Promise<{ tables?: TableEngine; close(): Promise<void> }>): Promise<TableEngine> {
  const opened = track(await storage);
  if (!opened.tables) throw new Error("the storage has no table capability");
  return opened.tables;
}

tableEngineSuite("duckdb :memory:", () =>
  tablesOf(duckdbAdapter.open({ name: "warehouse", technology: "duckdb", format: "table", options: { path: ":memory:" } }, context())),
);

// Every open() within a test reaches the same file (through DuckDB's instance cache).
tableEngineSuite(
  "duckdb file",
  () =>
    tablesOf(
      duckdbAdapter.open(
        { name: "warehouse", technology: "duckdb", format: "table", options: { path: "data/warehouse.duckdb" } },
        context(),
      ),
    ),
  { sharedDatabase: true },
);

tableEngineSuite(
  "postgres",
  () =>
    tablesOf(
      postgresAdapter.open(
        { name: "pg", technology: "postgres", format: "table", options: { urlEnv: "STRATA_TEST_POSTGRES_URL" } },
        context({ STRATA_TEST_POSTGRES_URL: postgresUrl() }),
      ),
    ),
  {
    sharedDatabase: true,
    async dropSchemas(schemas) {
      const client = new pg.Client({ connectionString: postgresUrl() });
      await client.connect();
      try {
        for (const schema of schemas) await client.query(`drop schema if exists "${schema.replace(/"/g, '""')}" cascade`);
      } finally {
        await client.end();
      }
    },
  },
);

const q = (strings: TemplateStringsArray, ...parts: ResolvedQuery["parts"]): ResolvedQuery => ({ strings: [...strings], parts });
const never = (): AbortSignal => new AbortController().signal;

describe("DuckDB: engines sharing a file", () => {
  const path = (): string => join(tempDir(), "shared.duckdb");
  const openEngine = async (): Promise<DuckDbTableEngine> => track(await DuckDbTableEngine.open(path()));

  /** Whether another process can open the file: only once no engine here holds it. */
  const openableElsewhere = (): boolean => {
    const script = `import("@duckdb/node-api").then(async ({ DuckDBInstance }) => {
      try { (await DuckDBInstance.create(${JSON.stringify(path())})).closeSync(); console.log("yes"); } catch { console.log("no"); }
    })`;
    return execFileSync(process.execPath, ["-e", script], { cwd: process.cwd() }).toString().trim() === "yes";
  };

  it("two engines on one file share one database, and closing one leaves the other working", async () => {
    const runs = await openEngine();
    const datasets = await openEngine();
    await runs.createTableAs({ schema: "run1", table: "t" }, q`select 1 as x`, never());
    expect(await datasets.readRows({ schema: "run1", table: "t" })).toEqual([{ x: 1 }]);

    await runs.close();
    await runs.close(); // twice is fine
    expect(await datasets.count({ schema: "run1", table: "t" })).toBe(1);
    await datasets.createTableAs({ schema: "ds", table: "v1" }, q`select 2 as y`, never());
    expect(await datasets.readRows({ schema: "ds", table: "v1" })).toEqual([{ y: 2 }]);
    expect((await rejection(runs.count({ schema: "run1", table: "t" }))).code).toBe("STORAGE_UNAVAILABLE");
    expect(openableElsewhere()).toBe(false);

    await datasets.close();
    expect(openableElsewhere()).toBe(true);
  });

  it("an engine closed while another streams batches does not cut the stream", async () => {
    const a = await openEngine();
    const b = await openEngine();
    await a.createTableFromRows(
      { schema: "s", table: "t" },
      Array.from({ length: 10_000 }, (_, i) => ({ i })),
      [{ name: "i", kind: "int", nullable: false }],
    );
    let total = 0;
    for await (const batch of b.batches({ schema: "s", table: "t" }, 2_048)) {
      if (total === 0) await a.close();
      total += batch.length;
    }
    expect(total).toBe(10_000);
  });

  it("an alias and its target survive closing and reopening the file", async () => {
    const first = await openEngine();
    const alias = { schema: "ds", table: "scores" };
    const target = { schema: "ds", table: "scores_v1" };
    await first.createTableFromRows(target, [{ k: "a", n: 1 }]);
    await first.activate(alias, target);
    await first.close();

    const second = await openEngine();
    expect(await second.aliasTarget(alias)).toEqual(target);
    expect(await second.readRows(alias)).toEqual([{ k: "a", n: 1 }]);
  });
});

describe("duckdb adapter", () => {
  const def = (options: Record<string, string | number | boolean>) => ({
    name: "wh",
    technology: "duckdb" as const,
    format: "table" as const,
    options,
  });

  it("checks its options", () => {
    expect(duckdbAdapter.technology).toBe("duckdb");
    expect(duckdbAdapter.formats).toEqual(["table"]);
    expect(duckdbAdapter.check(def({}))).toEqual([]);
    expect(duckdbAdapter.check(def({ path: "x.duckdb" }))).toEqual([]);
    expect(duckdbAdapter.check(def({ path: "" }))).toEqual([expect.stringContaining('option "path" must be a non-empty string')]);
    expect(duckdbAdapter.check(def({ path: 3 }))).toEqual([expect.stringContaining('option "path"')]);
    expect(duckdbAdapter.check(def({ file: "x", urlEnv: "X" }))).toEqual([
      'duckdb storage "wh": unknown option "file" (known: path)',
      'duckdb storage "wh": unknown option "urlEnv" (known: path)',
    ]);
  });

  it("refuses to open a bad definition or another format", async () => {
    expect((await rejection(duckdbAdapter.open(def({ bogus: 1 }), context()))).code).toBe("STORAGE_INVALID");
    expect((await rejection(duckdbAdapter.open({ ...def({}), format: "kv" }, context()))).code).toBe("STORAGE_FORMAT_UNSUPPORTED");
  });

  it("keeps its file in the state folder by default, or at a path relative to the project; health gives version and tables", async () => {
    const byDefault = track(await duckdbAdapter.open(def({}), context()));
    await byDefault.tables!.createTableAs({ schema: "r", table: "t" }, q`select 1 as x`, never());
    expect(await byDefault.health()).toEqual({ ok: true, detail: expect.stringMatching(/^duckdb v\d+\.\d+\.\d+, 1 table$/) as unknown });
    await byDefault.close();
    const again = await DuckDbTableEngine.open(join(tempDir(), ".strata", "warehouse.duckdb"));
    track(again);
    expect(await again.exists({ schema: "r", table: "t" })).toBe(true);

    const relative = track(await duckdbAdapter.open(def({ path: "data/w.duckdb" }), context()));
    await relative.tables!.createTableAs({ schema: "r", table: "t" }, q`select 1 as x`, never());
    await relative.tables!.createTableAs({ schema: "r", table: "u" }, q`select 1 as x`, never());
    expect((await relative.health()).detail).toMatch(/, 2 tables$/);
    await relative.close();
    const reopened = track(await DuckDbTableEngine.open(join(tempDir(), "data", "w.duckdb")));
    expect(await reopened.count({ schema: "r", table: "u" })).toBe(1);
  });
});
