import { afterEach, describe, expect, it } from "vitest";
import type { SqlLiteral } from "../../src/pipeline/sql.js";
import type { ColumnDef, ResolvedQuery, TableEngine, TableName } from "../../src/storage/table-engine.js";
import { rejection } from "../helpers/errors.js";
import { uniqueName } from "../helpers/services.js";

export interface TableEngineSuiteOptions {
  /** Two `open()` calls within one test reach the same database (a file, a server). */
  readonly sharedDatabase?: boolean;
  /** Removes the schemas a test used, after its engines are closed (servers outlive the test). */
  readonly dropSchemas?: (schemas: readonly string[]) => Promise<void>;
}

const q = (strings: TemplateStringsArray, ...parts: ResolvedQuery["parts"]): ResolvedQuery => ({ strings: [...strings], parts });
const v = (value: SqlLiteral): { value: SqlLiteral } => ({ value });
const ref = (table: TableName): { table: TableName } => ({ table });
const never = (): AbortSignal => new AbortController().signal;

const col = (name: string, kind: ColumnDef["kind"], extra: Partial<ColumnDef> = {}): ColumnDef => ({
  name,
  kind,
  nullable: true,
  ...extra,
});

/** A column of every kind, each nullable, and rows that exercise awkward values of each. */
const EVERY_KIND: ColumnDef[] = [
  col("s", "string"),
  col("i", "int"),
  col("b8", "bigint"),
  col("f", "double"),
  col("m", "decimal", { precision: 10, scale: 2 }),
  col("ok", "bool"),
  col("day", "date"),
  col("at", "timestamp"),
  col("doc", "json"),
];

const TYPE_PATTERNS: Record<ColumnDef["kind"], RegExp> = {
  string: /^(varchar|text|character varying)/i,
  int: /^int(eger)?$/i,
  bigint: /^bigint$/i,
  double: /^double/i,
  decimal: /^(decimal|numeric)\(10,2\)$/i,
  bool: /^bool(ean)?$/i,
  date: /^date$/i,
  timestamp: /^timestamp/i,
  json: /^jsonb?$/i,
};

/**
 * The TableEngine contract, run against every technology that serves the `table` format on a real
 * engine. `open` returns an engine; the suite closes what it opened. Each test works in schemas
 * of its own (unique names), so files can share a server and run in parallel.
 */
export function tableEngineSuite(name: string, open: () => Promise<TableEngine>, options: TableEngineSuiteOptions = {}): void {
  describe(`TableEngine conformance: ${name}`, () => {
    const engines: TableEngine[] = [];
    const schemas: string[] = [];
    const engine = async (): Promise<TableEngine> => {
      const opened = await open();
      engines.push(opened);
      return opened;
    };
    const schema = (suffix = ""): string => {
      const s = uniqueName("te") + suffix;
      schemas.push(s);
      return s;
    };
    afterEach(async () => {
      for (const e of engines.splice(0)) await e.close();
      const used = schemas.splice(0);
      await options.dropSchemas?.(used);
    });

    /** Two tables an alias can flip between: `n` rows each tagged with `version`. */
    async function versionTable(e: TableEngine, table: TableName, version: string, n: number): Promise<void> {
      const rows = Array.from({ length: n }, (_, i) => ({ i, version }));
      await e.createTableFromRows(table, rows, [col("i", "int", { nullable: false }), col("version", "string", { nullable: false })]);
    }

    it("creates a table from a query with bound strings, numbers, booleans, nulls and table references", async () => {
      const e = await engine();
      const s = schema();
      const src = { schema: s, table: "src" };
      expect(
        await e.createTableAs(
          src,
          q`select ${v("it's")} as s, ${v(42)} as n, ${v(2.5)} as f, ${v(true)} as b, ${v(null)} as z, ${v(9007199254740993n)} as big`,
          never(),
        ),
      ).toBe(1);
      expect(await e.readRows(src)).toEqual([{ s: "it's", n: 42, f: 2.5, b: true, z: null, big: 9007199254740993n }]);

      const out = { schema: s, table: "out" };
      const n = await e.createTableAs(
        out,
        q`select s, n + ${v(1)} as n from ${ref(src)} where s = ${v("it's")} and b = ${v(true)} and n >= ${v(40)}`,
        never(),
      );
      expect(n).toBe(1);
      expect(await e.readRows(out)).toEqual([{ s: "it's", n: 43 }]);
      // A value that looks like SQL is bound, never spliced.
      expect(await e.createTableAs(out, q`select * from ${ref(src)} where s = ${v("x' or '1'='1")}`, never())).toBe(0);
    });

    it("binds a Date so that it compares with DATE and TIMESTAMP columns", async () => {
      const e = await engine();
      const t = { schema: schema(), table: "d" };
      await e.createTableFromRows(
        t,
        [
          { d: "2026-01-01", ts: "2026-01-01 00:00:00" },
          { d: "2026-01-02", ts: "2026-01-02 12:30:00" },
        ],
        [col("d", "date"), col("ts", "timestamp")],
      );
      const out = { schema: t.schema, table: "picked" };
      const day = new Date("2026-01-02T00:00:00.000Z");
      expect(await e.createTableAs(out, q`select * from ${ref(t)} where d = ${v(day)} and ts >= ${v(day)}`, never())).toBe(1);
      expect(await e.readRows(out)).toEqual([{ d: day, ts: new Date("2026-01-02T12:30:00.000Z") }]);
    });

    it("replaces a table that exists", async () => {
      const e = await engine();
      const t = { schema: schema(), table: "t" };
      await e.createTableAs(t, q`select 1 as x`, never());
      await e.createTableAs(t, q`select 'a' as y union all select 'b'`, never());
      expect(await e.count(t)).toBe(2);
      expect((await e.describe(t)).map((c) => c.name)).toEqual(["y"]);
      await e.createTableFromRows(t, [{ z: true }]);
      expect(await e.readRows(t)).toEqual([{ z: true }]);
    });

    it("loads rows with inferred types and reads the same values back", async () => {
      const e = await engine();
      const t = { schema: schema(), table: "rows" };
      const when = new Date("2026-02-03T04:05:06.789Z");
      const rows = [
        { id: 1, name: "o'neil", score: 1.5, ok: true, at: when, big: 9007199254740993n, doc: { a: 1, tags: ["x", "y"] } },
        { id: 2, name: "héllo 🌍\ttab\nline \\ slash", score: null, ok: false, at: null, big: 12n, doc: { a: 2, tags: [] } },
        { id: 3, name: null, score: -0.25, ok: null, at: when, big: null, doc: null },
      ];
      expect(await e.createTableFromRows(t, rows)).toBe(3);
      expect(await e.readRows(t)).toEqual([{ ...rows[0], big: 9007199254740993n }, { ...rows[1], big: 12 }, rows[2]]);
      expect((await e.describe(t)).map((c) => c.name)).toEqual(["id", "name", "score", "ok", "at", "big", "doc"]);
    });

    it("a key missing from some rows is a null there", async () => {
      const e = await engine();
      const t = { schema: schema(), table: "sparse" };
      await e.createTableFromRows(t, [{ a: 1 }, { a: 2, b: "x" }]);
      expect(await e.readRows(t)).toEqual([
        { a: 1, b: null },
        { a: 2, b: "x" },
      ]);
    });

    it("loads rows into explicit columns of every kind and reads the same values back", async () => {
      const e = await engine();
      const t = { schema: schema(), table: "typed" };
      const rows = [
        {
          s: "plain",
          i: 7,
          b8: 9007199254740993n,
          f: 0.1,
          m: 12.34,
          ok: true,
          day: new Date("2026-03-04T00:00:00.000Z"),
          at: new Date("2026-03-04T05:06:07.891Z"),
          doc: { a: [1, 2, { b: null }], s: "x" },
        },
        {
          s: "ünï 🚀 'quote' \"dq\" \\ \t\n",
          i: -2147483648,
          b8: -5n,
          f: -1e300,
          m: "-99999999.99",
          ok: false,
          day: "2026-12-31",
          at: "2026-12-31 23:59:59.5",
          doc: "a string, kept a string",
        },
        { s: null, i: null, b8: null, f: null, m: null, ok: null, day: null, at: null, doc: null },
        { s: "", i: 0, b8: 0n, f: 0, m: 0, ok: true, day: new Date("1970-01-01T00:00:00.000Z"), at: new Date(0), doc: [1, "two", true] },
      ];
      expect(await e.createTableFromRows(t, rows, EVERY_KIND)).toBe(4);
      expect(await e.readRows(t)).toEqual([
        { ...rows[0], b8: 9007199254740993n },
        {
          ...rows[1],
          b8: -5,
          m: -99999999.99,
          day: new Date("2026-12-31T00:00:00.000Z"),
          at: new Date("2026-12-31T23:59:59.500Z"),
        },
        rows[2],
        { ...rows[3], b8: 0 },
      ]);
      const described = await e.describe(t);
      expect(described.map((c) => c.name)).toEqual(EVERY_KIND.map((c) => c.name));
      described.forEach((c, i) => expect(c.type).toMatch(TYPE_PATTERNS[EVERY_KIND[i]!.kind]));
    });

    it("explicit columns with no rows make an empty table of those columns", async () => {
      const e = await engine();
      const t = { schema: schema(), table: "empty" };
      expect(await e.createTableFromRows(t, [], EVERY_KIND)).toBe(0);
      expect(await e.count(t)).toBe(0);
      expect(await e.readRows(t)).toEqual([]);
      expect((await e.describe(t)).map((c) => c.name)).toEqual(EVERY_KIND.map((c) => c.name));
    });

    it("rows that do not fit their columns are SQL_INPUT_INVALID, and nothing is left half-loaded", async () => {
      const e = await engine();
      const t = { schema: schema(), table: "strict" };
      const columns = [col("id", "int", { nullable: false }), col("name", "string")];
      await e.createTableFromRows(t, [{ id: 1, name: "kept" }], columns);

      const notInt = await rejection(e.createTableFromRows(t, [{ id: 2 }, { id: "two" }], columns));
      expect(notInt.code).toBe("SQL_INPUT_INVALID");
      expect(notInt.message).toContain("strict");
      const nullInNotNull = await rejection(e.createTableFromRows(t, [{ id: 3 }, { id: null }], columns));
      expect(nullInNotNull.code).toBe("SQL_INPUT_INVALID");
      expect(await e.readRows(t)).toEqual([{ id: 1, name: "kept" }]);

      const noRows = await rejection(e.createTableFromRows({ schema: t.schema, table: "nothing" }, []));
      expect(noRows.code).toBe("SQL_INPUT_INVALID");
    });

    it("loads 200,000 typed rows in a few seconds", async () => {
      const e = await engine();
      const t = { schema: schema(), table: "big" };
      const start = Date.UTC(2026, 0, 1);
      const rows = Array.from({ length: 200_000 }, (_, i) => ({
        id: i,
        name: `customer ${i}`,
        amount: i / 7,
        day: new Date(start + (i % 365) * 86_400_000),
        price: (i % 10_000) / 100,
      }));
      const began = performance.now();
      await e.createTableFromRows(t, rows, [
        col("id", "int"),
        col("name", "string"),
        col("amount", "double"),
        col("day", "date"),
        col("price", "decimal"),
      ]);
      expect(performance.now() - began).toBeLessThan(10_000);
      expect(await e.count(t)).toBe(200_000);
    }, 30_000);

    it("streams rows in batches no larger than the batch size", async () => {
      const e = await engine();
      const t = { schema: schema(), table: "many" };
      await e.createTableFromRows(
        t,
        Array.from({ length: 5_000 }, (_, i) => ({ i, label: `row ${i}`, big: BigInt(i) })),
        [col("i", "int"), col("label", "string"), col("big", "bigint")],
      );
      const sizes: number[] = [];
      const seen: unknown[] = [];
      for await (const batch of e.batches(t, 1_200)) {
        sizes.push(batch.length);
        expect(Object.keys(batch.columns)).toEqual(["i", "label", "big"]);
        for (const values of Object.values(batch.columns)) expect(values).toHaveLength(batch.length);
        seen.push(...batch.columns.i!);
        expect(batch.columns.big).toEqual(batch.columns.i);
      }
      expect(sizes).toEqual([1_200, 1_200, 1_200, 1_200, 200]);
      expect([...seen].sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: 5_000 }, (_, i) => i));

      let total = 0;
      for await (const batch of e.batches(t)) total += batch.length;
      expect(total).toBe(5_000);
    });

    it("batches of an empty table yield nothing; stopping early frees the engine; a missing table is SQL_FAILED", async () => {
      const e = await engine();
      const s = schema();
      const empty = { schema: s, table: "empty" };
      await e.createTableFromRows(empty, [], [col("x", "int")]);
      let batches = 0;
      for await (const _ of e.batches(empty, 10)) batches++;
      expect(batches).toBe(0);

      const t = { schema: s, table: "some" };
      await e.createTableFromRows(
        t,
        Array.from({ length: 100 }, (_, i) => ({ i })),
        [col("i", "int")],
      );
      for (let round = 0; round < 20; round++) {
        for await (const batch of e.batches(t, 10)) {
          expect(batch.length).toBe(10);
          break;
        }
      }
      await e.createTableAs({ schema: s, table: "after" }, q`select count(*) as n from ${ref(t)}`, never());
      expect(await e.readRows({ schema: s, table: "after" })).toEqual([{ n: 100 }]);

      const missing = await rejection(
        (async () => {
          for await (const _ of e.batches({ schema: s, table: "missing" })) batches++;
        })(),
      );
      expect(missing.code).toBe("SQL_FAILED");
    });

    it("count, exists and describe", async () => {
      const e = await engine();
      const s = schema();
      const t = { schema: s, table: "t" };
      expect(await e.exists(t)).toBe(false);
      expect(await e.exists({ schema: uniqueName("nope"), table: "t" })).toBe(false);
      await e.createTableAs(t, q`select 1 as a, 'x' as b union all select 2, 'y'`, never());
      expect(await e.exists(t)).toBe(true);
      expect(await e.count(t)).toBe(2);
      const described = await e.describe(t);
      expect(described.map((c) => c.name)).toEqual(["a", "b"]);
      expect(described[0]!.type).toMatch(/int/i);
      expect(described[1]!.type).toMatch(/char|text/i);
      expect((await rejection(e.describe({ schema: s, table: "missing" }))).code).toBe("SQL_FAILED");
      expect((await rejection(e.count({ schema: s, table: "missing" }))).code).toBe("SQL_FAILED");
      expect((await rejection(e.readRows({ schema: s, table: "missing" }))).code).toBe("SQL_FAILED");
    });

    it("quotes odd schema and table names", async () => {
      const e = await engine();
      const t = { schema: schema('_we"ird'), table: "a Table" };
      await e.createTableAs(t, q`select 1 as x`, never());
      expect(e.qualifiedName(t)).toBe(`"${t.schema.replace('"', '""')}"."a Table"`);
      expect(await e.readRows(t)).toEqual([{ x: 1 }]);
      expect(await e.exists(t)).toBe(true);
      await e.createTableFromRows({ schema: t.schema, table: 'x"y' }, [{ 'c"d': 1 }]);
      expect(await e.readRows({ schema: t.schema, table: 'x"y' })).toEqual([{ 'c"d': 1 }]);
    });

    it("activate points an alias at a table, and aliasTarget reads it back", async () => {
      const e = await engine();
      const s = schema();
      const alias = { schema: s, table: "live" };
      const v1 = { schema: s, table: "live_v1" };
      const v2 = { schema: s, table: "live_v2" };
      await versionTable(e, v1, "v1", 3);
      await versionTable(e, v2, "v2", 5);
      expect(await e.aliasTarget(alias)).toBeNull();
      expect(await e.aliasTarget(v1)).toBeNull(); // a table is not an alias

      await e.activate(alias, v1);
      expect(await e.aliasTarget(alias)).toEqual(v1);
      expect(await e.exists(alias)).toBe(true);
      expect(await e.count(alias)).toBe(3);
      expect(new Set((await e.readRows(alias)).map((r) => r.version))).toEqual(new Set(["v1"]));

      await e.activate(alias, v2);
      expect(await e.aliasTarget(alias)).toEqual(v2);
      expect(await e.count(alias)).toBe(5);
      // SQL reads the alias like a table.
      const out = { schema: s, table: "from_alias" };
      await e.createTableAs(out, q`select count(*) as n, min(version) as v from ${ref(alias)}`, never());
      expect(await e.readRows(out)).toEqual([{ n: 5, v: "v2" }]);

      if (options.sharedDatabase) {
        const other = await engine();
        expect(await other.aliasTarget(alias)).toEqual(v2);
        expect(await other.count(alias)).toBe(5);
      }
    });

    it("an alias can live in another schema than its target", async () => {
      const e = await engine();
      const target = { schema: schema(), table: "v1" };
      const alias = { schema: schema(), table: "current" };
      await versionTable(e, target, "v1", 2);
      await e.activate(alias, target);
      expect(await e.aliasTarget(alias)).toEqual(target);
      expect(await e.count(alias)).toBe(2);
    });

    it("activate refuses a missing target, a table in the alias's place, and the alias itself", async () => {
      const e = await engine();
      const s = schema();
      const alias = { schema: s, table: "live" };
      const v1 = { schema: s, table: "v1" };
      await versionTable(e, v1, "v1", 2);
      await e.activate(alias, v1);

      const missing = await rejection(e.activate(alias, { schema: s, table: "missing" }));
      expect(missing.code).toBe("SQL_FAILED");
      expect(await e.aliasTarget(alias)).toEqual(v1); // unchanged
      expect(await e.count(alias)).toBe(2);

      const table = { schema: s, table: "a_table" };
      await versionTable(e, table, "t", 1);
      expect((await rejection(e.activate(table, v1))).code).toBe("SQL_FAILED");
      expect(await e.count(table)).toBe(1);
      expect((await rejection(e.activate(alias, alias))).code).toBe("SQL_FAILED");
    });

    it("activate switches to a table with other columns, and back", async () => {
      const e = await engine();
      const s = schema();
      const alias = { schema: s, table: "live" };
      const narrow = { schema: s, table: "narrow" };
      const wide = { schema: s, table: "wide" };
      await e.createTableFromRows(narrow, [{ x: 1 }], [col("x", "int")]);
      await e.createTableFromRows(wide, [{ y: "a", x: "text now", z: 2.5 }], [col("y", "string"), col("x", "string"), col("z", "double")]);

      await e.activate(alias, narrow);
      expect(await e.readRows(alias)).toEqual([{ x: 1 }]);
      await e.activate(alias, wide);
      expect(await e.readRows(alias)).toEqual([{ y: "a", x: "text now", z: 2.5 }]);
      expect((await e.describe(alias)).map((c) => c.name)).toEqual(["y", "x", "z"]);
      await e.activate(alias, narrow);
      expect(await e.readRows(alias)).toEqual([{ x: 1 }]);
      expect(await e.aliasTarget(alias)).toEqual(narrow);
    });

    it("readers of an alias see one whole table or the other while it flips, and no errors", async () => {
      const e = await engine();
      const s = schema();
      const alias = { schema: s, table: "live" };
      const a = { schema: s, table: "live_a" };
      const b = { schema: s, table: "live_b" };
      await versionTable(e, a, "a", 300);
      await versionTable(e, b, "b", 700);
      await e.activate(alias, a);
      const readerEngine = options.sharedDatabase ? await engine() : e;

      let flipping = true;
      const seen = { a: 0, b: 0 };
      const reader = async (): Promise<void> => {
        while (flipping) {
          const rows = await readerEngine.readRows(alias);
          const versions = new Set(rows.map((r) => r.version));
          expect(versions.size).toBe(1);
          const version = [...versions][0] as "a" | "b";
          expect(rows).toHaveLength(version === "a" ? 300 : 700);
          seen[version]++;
          expect([300, 700]).toContain(await readerEngine.count(alias));
        }
      };
      const readers = [reader(), reader(), reader()];
      try {
        for (let flip = 0; flip < 40; flip++) {
          await e.activate(alias, flip % 2 === 0 ? b : a);
          await new Promise((r) => setTimeout(r, 2));
        }
      } finally {
        flipping = false;
      }
      await Promise.all(readers);
      expect(seen.a + seen.b).toBeGreaterThan(0);
      expect(await e.aliasTarget(alias)).toEqual(a);
    }, 60_000);

    it("drop removes a table or an alias, ignores a missing one, and refuses a table an alias points at", async () => {
      const e = await engine();
      const s = schema();
      const alias = { schema: s, table: "live" };
      const v1 = { schema: s, table: "v1" };
      const v2 = { schema: s, table: "v2" };
      await versionTable(e, v1, "v1", 2);
      await versionTable(e, v2, "v2", 3);
      await e.activate(alias, v1);

      const live = await rejection(e.drop(v1));
      expect(live.code).toBe("SQL_FAILED");
      expect(await e.count(alias)).toBe(2);

      await e.activate(alias, v2);
      await e.drop(v1);
      expect(await e.exists(v1)).toBe(false);
      expect(await e.count(alias)).toBe(3);

      await e.drop(alias);
      expect(await e.exists(alias)).toBe(false);
      expect(await e.aliasTarget(alias)).toBeNull();
      expect(await e.exists(v2)).toBe(true);
      await e.drop(v2);
      await e.drop(v2);
      await e.drop({ schema: uniqueName("nope"), table: "t" });
      expect(await e.exists(v2)).toBe(false);
    });

    it("a SQL error is SQL_FAILED with the engine's message and the SQL", async () => {
      const e = await engine();
      const s = schema();
      const missing = await rejection(e.createTableAs({ schema: s, table: "bad" }, q`select * from missing_table_xyz`, never()));
      expect(missing.code).toBe("SQL_FAILED");
      expect(missing.message).toContain("missing_table_xyz");
      expect(missing.details).toMatchObject({ table: "bad", sql: "select * from missing_table_xyz" });

      const syntax = await rejection(e.createTableAs({ schema: s, table: "bad" }, q`selec 1`, never()));
      expect(syntax.code).toBe("SQL_FAILED");
      expect(syntax.message).toMatch(/syntax/i);
      expect(syntax.retryable).toBe(false);
      expect(await e.exists({ schema: s, table: "bad" })).toBe(false);
    });

    it("an abort signal cancels a long query within a second, with a clear error, and the engine goes on", async () => {
      const e = await engine();
      const s = schema();
      const controller = new AbortController();
      // Forty billion rows: minutes on any engine, unless cancelled.
      const endless = e.createTableAs(
        { schema: s, table: "endless" },
        q`select sum(a.x + b.x) as s from generate_series(1, 200000) as a(x), generate_series(1, 200000) as b(x)`,
        controller.signal,
      );
      const steady = e.createTableAs({ schema: s, table: "steady" }, q`select 1 as one`, never());
      await new Promise((r) => setTimeout(r, 300));
      const abortedAt = performance.now();
      controller.abort();
      const error = await rejection(endless);
      expect(performance.now() - abortedAt).toBeLessThan(1_500);
      expect(error.code).toBe("SQL_FAILED");
      expect(error.message).toMatch(/interrupt|cancel/i);
      expect(await steady).toBe(1);
      expect(await e.exists({ schema: s, table: "endless" })).toBe(false);
      expect(await e.createTableAs({ schema: s, table: "after" }, q`select 2 as two`, never())).toBe(1);

      const already = new AbortController();
      already.abort();
      await expect(e.createTableAs({ schema: s, table: "never" }, q`select 1 as x`, already.signal)).rejects.toThrow();
      expect(await e.exists({ schema: s, table: "never" })).toBe(false);
    }, 30_000);
  });
}
