import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";
import { isStrataError } from "../../src/errors/strata-error.js";
import { DuckDbTableEngine } from "../../src/storage/duckdb/table-engine.js";
import type { ResolvedQuery } from "../../src/storage/table-engine.js";

const tempDir = tempDirEachTest("strata-duck-");
const engines = closeEachTest<DuckDbTableEngine>();
const open = async (path = ":memory:"): Promise<DuckDbTableEngine> => engines.track(await DuckDbTableEngine.open(path));

const signal = (): AbortSignal => new AbortController().signal;
const q = (strings: TemplateStringsArray, ...parts: ResolvedQuery["parts"]): ResolvedQuery => ({ strings: [...strings], parts });

describe("DuckDbTableEngine", () => {
  it("creates a table from a query with bound values and table references", async () => {
    const engine = await open();
    const src = { schema: "r1", table: "src" };
    expect(await engine.createTableAs(src, q`select range as i, 'x' || range as s from range(5)`, signal())).toBe(5);
    const out = { schema: "r1", table: "out" };
    const n = await engine.createTableAs(
      out,
      q`select i, s from ${{ table: src }} where i >= ${{ value: 2 }} and s <> ${{ value: "x3" }}`,
      signal(),
    );
    expect(n).toBe(2);
    expect(await engine.readRows(out)).toEqual([
      { i: 2, s: "x2" },
      { i: 4, s: "x4" },
    ]);
    expect(await engine.count(out)).toBe(2);
    expect(engine.qualifiedName(out)).toBe('"r1"."out"');
  });

  it("binds a Date so that it compares with DATE and TIMESTAMP columns", async () => {
    const engine = await open();
    const t = { schema: "r1", table: "d" };
    await engine.createTableAs(
      t,
      q`select * from (values (date '2026-01-01', timestamp '2026-01-01 00:00:00'), (date '2026-01-02', timestamp '2026-01-02 00:00:00')) v(d, ts)
        where d = ${{ value: new Date("2026-01-02T00:00:00.000Z") }} and ts >= ${{ value: new Date("2026-01-02T00:00:00.000Z") }}`,
      signal(),
    );
    expect(await engine.count(t)).toBe(1);
  });

  it("quotes odd schema and table names", async () => {
    const engine = await open();
    const t = { schema: 'we"ird', table: "a table" };
    await engine.createTableAs(t, q`select 1 as x`, signal());
    expect(engine.qualifiedName(t)).toBe('"we""ird"."a table"');
    expect(await engine.readRows(t)).toEqual([{ x: 1 }]);
    expect(await engine.exists(t)).toBe(true);
  });

  it("loads plain rows, inferring column types", async () => {
    const engine = await open();
    const t = { schema: "r1", table: "rows" };
    const n = await engine.createTableFromRows(t, [
      { id: 1, name: "o'neil", score: 1.5, ok: true, big: 12n },
      { id: 2, name: "b", score: null, ok: false, big: 13n },
    ]);
    expect(n).toBe(2);
    const rows = await engine.readRows(t);
    expect(rows.map((r) => [r.id, r.name, r.score, r.ok])).toEqual([
      [1, "o'neil", 1.5, true],
      [2, "b", null, false],
    ]);
  });

  it("a query error is SQL_FAILED with the SQL in its details", async () => {
    const engine = await open();
    let thrown: unknown;
    try {
      await engine.createTableAs({ schema: "r1", table: "bad" }, q`select * from missing_table`, signal());
    } catch (error) {
      thrown = error;
    }
    expect(isStrataError(thrown) && thrown.code).toBe("SQL_FAILED");
    expect((thrown as Error).message).toContain("missing_table");
    expect(isStrataError(thrown) && thrown.details).toMatchObject({ table: "bad", sql: "select * from missing_table" });
  });

  it("aborting one query interrupts that query only, not another one running at the same time", async () => {
    const engine = await open();
    const controller = new AbortController();
    // "endless" would run for minutes; "steady" for a few hundred milliseconds.
    const endless = engine.createTableAs(
      { schema: "r1", table: "endless" },
      q`select sum(hash(range)) as s from range(1000000000000)`,
      controller.signal,
    );
    const steady = engine.createTableAs({ schema: "r1", table: "steady" }, q`select sum(hash(range)) as s from range(50000000)`, signal());
    setTimeout(() => controller.abort(), 50);
    const [a, b] = await Promise.allSettled([endless, steady]);
    expect(a.status).toBe("rejected");
    expect(a.status === "rejected" && (a.reason as Error).message).toMatch(/interrupt/i);
    expect(b).toEqual({ status: "fulfilled", value: 1 });
  }, 10_000);

  it("exists tells whether a table is there", async () => {
    const engine = await open();
    expect(await engine.exists({ schema: "r9", table: "t" })).toBe(false);
    await engine.createTableAs({ schema: "r9", table: "t" }, q`select 1 as x`, signal());
    expect(await engine.exists({ schema: "r9", table: "t" })).toBe(true);
    expect(await engine.exists({ schema: "r9", table: "u" })).toBe(false);
  });

  it("tables in a file persist across a reopen", async () => {
    const path = join(tempDir(), "sub", "warehouse.duckdb");
    const first = await DuckDbTableEngine.open(path);
    await first.createTableAs({ schema: "r1", table: "kept" }, q`select 7 as n`, signal());
    await first.close();
    const second = await open(path);
    expect(await second.exists({ schema: "r1", table: "kept" })).toBe(true);
    expect(await second.readRows({ schema: "r1", table: "kept" })).toEqual([{ n: 7 }]);
    // creating a table in an existing schema after a reopen works too
    await second.createTableAs({ schema: "r1", table: "more" }, q`select 8 as n`, signal());
    expect(await second.count({ schema: "r1", table: "more" })).toBe(1);
  });
});
