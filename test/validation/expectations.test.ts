import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { t } from "../../src/data/column-types.js";
import { dataset } from "../../src/pipeline/dataset.js";
import { DuckDbTableEngine } from "../../src/storage/duckdb/table-engine.js";
import { PostgresTableEngine } from "../../src/storage/postgres/table-engine.js";
import type { ColumnDef, ResolvedQuery, TableEngine, TableName } from "../../src/storage/table-engine.js";
import { binOf, ksBinned, psi } from "../../src/validation/drift.js";
import { evaluateExpectations, rowFailsSql, type EvaluateInput, type TableRef } from "../../src/validation/evaluate-expectations.js";
import {
  drift,
  freshness,
  inSet,
  notNull,
  nullRate,
  range,
  references,
  regex,
  rowCount,
  satisfies,
  unique,
  type Expectation,
  type ExpectationResult,
} from "../../src/validation/expectations.js";
import { rejection } from "../helpers/errors.js";
import { tempDirEachTest } from "../helpers/resources.js";
import { postgresUrl, uniqueName } from "../helpers/services.js";

const tempDir = tempDirEachTest("strata-expectations-");

const plain = (text: string): ResolvedQuery => ({ strings: [text], parts: [] });
const col = (name: string, kind: ColumnDef["kind"]): ColumnDef => ({ name, kind, nullable: true });
const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

interface Opened {
  readonly engine: TableEngine;
  readonly schema: string;
  close(): Promise<void>;
}

/**
 * Every case runs on both engines. Postgres is the throwaway server of scripts/with-services.sh
 * (STRATA_TEST_POSTGRES_URL); as everywhere in this suite, without it the tests fail with a
 * message rather than skip.
 */
const ENGINES: { name: string; open: () => Promise<Opened> }[] = [
  {
    name: "duckdb",
    open: async () => {
      const engine = await DuckDbTableEngine.open(join(tempDir(), "warehouse.duckdb"));
      return { engine, schema: "checks", close: () => engine.close() };
    },
  },
  {
    name: "postgres",
    open: async () => {
      const engine = new PostgresTableEngine({ url: postgresUrl() });
      const schema = uniqueName("exp");
      return {
        engine,
        schema,
        close: async () => {
          try {
            await engine.query(plain(`drop schema if exists ${quote(schema)} cascade`));
          } finally {
            await engine.close();
          }
        },
      };
    },
  },
];

const ORDER_COLUMNS: ColumnDef[] = [
  col("id", "int"),
  col("customer_id", "int"),
  col("email", "string"),
  col("amount", "double"),
  col("status", "string"),
  col("day", "date"),
  col("at", "timestamp"),
  col("code", "string"),
];

// prettier-ignore
const ORDERS = [
  { id: 1, customer_id: 1, email: "a@x.io", amount: 10, status: "paid", day: "2024-01-05", at: "2024-03-01T10:30:00Z", code: "AB-123" },
  { id: 2, customer_id: 1, email: "b@x.io", amount: -3.5, status: "new", day: "2024-02-01", at: "2024-03-01T09:30:00Z", code: "AB-1234" },
  { id: 3, customer_id: 2, email: null, amount: 20, status: "paid", day: "2023-12-31", at: "2024-03-01T08:00:00Z", code: "xx" },
  { id: 4, customer_id: 2, email: "d@x.io", amount: -1, status: "lost", day: "2024-06-30", at: "2024-02-28T00:00:00Z", code: null },
  { id: 5, customer_id: 3, email: "e@x.io", amount: 0, status: "it's", day: "2024-07-01", at: "2024-02-27T00:00:00Z", code: "CD-456" },
  { id: 6, customer_id: 99, email: "f@x.io", amount: null, status: "paid", day: "2024-08-01", at: null, code: "EF-789" },
  { id: 7, customer_id: null, email: "g@x.io", amount: 5, status: "weird", day: "2024-09-01", at: "2024-01-01T00:00:00Z", code: "GH-000" },
  { id: 8, customer_id: null, email: "h@x.io", amount: 7, status: "weird", day: null, at: "2024-01-02T00:00:00Z", code: "IJ-111" },
  { id: 9, customer_id: 3, email: "i@x.io", amount: 1000, status: "new", day: "2024-10-01", at: "2024-01-03T00:00:00Z", code: "KL-222" },
  { id: 10, customer_id: 3, email: "j@x.io", amount: 2, status: "new", day: "2024-11-01", at: "2024-01-04T00:00:00Z", code: "MN-333" },
];

const customers = dataset("customers", { storage: "warehouse", schema: { customer_id: t.int(), name: t.string() } });
const known = dataset("known_pairs", { storage: "warehouse", schema: { cid: t.int(), st: t.string() } });

const day = (iso: string): Date => new Date(`${iso}T00:00:00Z`);

describe.each(ENGINES)("expectations on $name", ({ open }) => {
  let opened: Opened;
  let engine: TableEngine;
  let orders: TableRef;
  const datasets = new Map<string, TableRef>();

  beforeEach(async () => {
    opened = await open();
    engine = opened.engine;
    datasets.clear();
    orders = await table("orders", ORDERS, ORDER_COLUMNS);
    datasets.set(
      "customers",
      await table(
        "customers",
        [1, 2, 3].map((id) => ({ customer_id: id, name: `c${id}` })),
        [col("customer_id", "int"), col("name", "string")],
      ),
    );
    datasets.set(
      "known_pairs",
      await table(
        "known_pairs",
        [
          [1, "paid"],
          [1, "new"],
          [2, "paid"],
          [2, "lost"],
          [3, "it's"],
          [3, "new"],
        ].map(([cid, st]) => ({ cid, st })),
        [col("cid", "int"), col("st", "string")],
      ),
    );
  });
  afterEach(async () => {
    await opened.close();
  });

  async function table(
    name: string,
    rows: readonly Record<string, unknown>[],
    columns: readonly ColumnDef[],
    on = engine,
  ): Promise<TableRef> {
    const ref: TableName = { schema: opened.schema, table: name };
    await on.createTableFromRows(ref, rows, columns);
    return { engine: on, table: ref };
  }

  function evaluate(expectations: Expectation[], extra: Partial<EvaluateInput> = {}): Promise<ExpectationResult[]> {
    return evaluateExpectations({
      target: orders,
      expectations,
      previous: null,
      resolve: (d) => Promise.resolve(datasets.get(d.name) ?? null),
      now: new Date("2024-03-02T12:00:00Z"),
      ...extra,
    });
  }

  async function one(expectation: Expectation, extra: Partial<EvaluateInput> = {}): Promise<ExpectationResult> {
    const [result] = await evaluate([expectation], extra);
    return result!;
  }

  /** The ids of the rows rowFailsSql drops from a copy of `orders`. */
  async function dropped(expectation: Expectation, reference?: TableRef): Promise<number[]> {
    const copy = { schema: opened.schema, table: uniqueName("copy") };
    await engine.createTableAs(copy, { strings: ["select * from ", ""], parts: [{ table: orders.table }] }, new AbortController().signal);
    const gone = await engine.query(
      plain(`delete from ${engine.qualifiedName(copy)} where ${rowFailsSql(expectation, engine, reference)} returning id`),
    );
    return gone.map((row) => Number(row.id)).sort((a, b) => a - b);
  }

  it("notNull: passes on a full column, fails on nulls, and mostly tolerates a share", async () => {
    const [id, email, tolerant, strict] = await evaluate([
      notNull("id"),
      notNull("email"),
      notNull("email", { mostly: 0.9 }),
      notNull("email", { mostly: 0.95, severity: "warn" }),
    ]);
    expect(id).toEqual({
      id: "notNull:id",
      kind: "notNull",
      severity: "fail",
      passed: true,
      message: "notNull:id: 0 of 10 rows (0 %) are null",
      observed: { rows: 10, failing: 0, rate: 0 },
      failingRows: 0,
      examples: [],
    });
    expect(email).toMatchObject({ passed: false, failingRows: 1, observed: { rows: 10, failing: 1, rate: 0.1 } });
    expect(email!.message).toBe("notNull:email: 1 of 10 rows (10 %) are null");
    expect(tolerant).toMatchObject({ passed: true, failingRows: 1 });
    expect(tolerant!.message).toBe("notNull:email: 1 of 10 rows (10 %) are null, at most 10 % allowed");
    expect(strict).toMatchObject({ passed: false, severity: "warn", failingRows: 1 });
    expect(await dropped(notNull("email"))).toEqual([3]);
  });

  it("nullRate: the share of nulls against a maximum", async () => {
    const [ok, tooMany] = await evaluate([nullRate("email", 0.1), nullRate("customer_id", 0.1)]);
    expect(ok).toMatchObject({ passed: true, observed: { rows: 10, nulls: 1, rate: 0.1, max: 0.1 } });
    expect(tooMany).toMatchObject({ passed: false, observed: { nulls: 2, rate: 0.2 } });
    expect(tooMany!.message).toBe("nullRate:customer_id: 2 of 10 rows (20 %) are null, at most 10 % allowed");
    expect(tooMany!.failingRows).toBeUndefined();
  });

  it("inSet: values outside fail with examples, nulls pass, quotes are escaped", async () => {
    const [status, all, ids] = await evaluate([
      inSet("status", ["new", "paid", "it's"]),
      inSet("status", ["new", "paid", "it's", "lost", "weird"]),
      inSet("customer_id", [1, 2, 3]),
    ]);
    expect(status).toMatchObject({ passed: false, failingRows: 3, examples: ["lost", "weird"] });
    expect(status!.message).toBe('inSet:status: 3 of 10 rows (30 %) are not in {"new", "paid", "it\'s"}; e.g. "lost", "weird"');
    expect(all).toMatchObject({ passed: true, failingRows: 0 });
    expect(ids).toMatchObject({ passed: false, failingRows: 1, examples: [99] });
    expect(await dropped(inSet("status", ["new", "paid", "it's"]))).toEqual([4, 7, 8]);
    expect(await dropped(inSet("customer_id", [1, 2, 3]))).toEqual([6]);
  });

  it("range: numbers, with mostly; nulls pass", async () => {
    const [positive, bounded, tolerant, fine] = await evaluate([
      range("amount", { min: 0 }),
      range("amount", { min: 0, max: 100 }),
      range("amount", { min: 0, max: 100 }, { mostly: 0.7 }),
      range("amount", { min: -10, max: 1000 }),
    ]);
    expect(positive!.message).toBe("range:amount: 2 of 10 rows (20 %) are outside [0, ∞); e.g. -3.5, -1");
    expect(positive).toMatchObject({ passed: false, failingRows: 2, examples: [-3.5, -1], observed: { rows: 10, failing: 2, rate: 0.2 } });
    expect(bounded).toMatchObject({ passed: false, failingRows: 3, examples: [-3.5, -1, 1000] });
    expect(tolerant).toMatchObject({ passed: true, failingRows: 3 });
    expect(fine).toMatchObject({ passed: true, failingRows: 0 });
    expect(await dropped(range("amount", { min: 0, max: 100 }))).toEqual([2, 4, 9]);
  });

  it("range: dates and timestamps compare as their type, a zoned timestamp as UTC", async () => {
    const [days, fromNine, max] = await evaluate([
      range("day", { min: "2024-01-01", max: "2024-10-31" }),
      // 11:00 at +02:00 is 09:00 UTC: rows 1 and 2 (10:30, 09:30 UTC) are in range.
      range("at", { min: "2024-03-01T11:00:00+02:00" }),
      range("at", { max: "2024-02-28 00:00:00" }),
    ]);
    expect(days).toMatchObject({ passed: false, failingRows: 2, examples: [day("2023-12-31"), day("2024-11-01")] });
    expect(days!.message).toBe("range:day: 2 of 10 rows (20 %) are outside [2024-01-01, 2024-10-31]; e.g. 2023-12-31, 2024-11-01");
    expect(fromNine).toMatchObject({ passed: false, failingRows: 7 });
    expect(max).toMatchObject({
      passed: false,
      failingRows: 3,
      examples: [new Date("2024-03-01T08:00:00Z"), new Date("2024-03-01T09:30:00Z"), new Date("2024-03-01T10:30:00Z")],
    });
    // Without the column types (the drop path), the same rows fail.
    expect(await dropped(range("day", { min: "2024-01-01", max: "2024-10-31" }))).toEqual([3, 10]);
    expect(await dropped(range("at", { min: "2024-03-01T11:00:00+02:00" }))).toEqual([3, 4, 5, 7, 8, 9, 10]);
  });

  it("regex: every non-null value matches in full", async () => {
    const [codes, loose] = await evaluate([regex("code", /[A-Z]{2}-\d{3}/), regex("code", "[A-Za-z]{2}(-\\d+)?")]);
    expect(codes).toMatchObject({ passed: false, failingRows: 2, examples: ["AB-1234", "xx"] });
    expect(codes!.message).toBe('regex:code: 2 of 10 rows (20 %) do not match /[A-Z]{2}-\\d{3}/; e.g. "AB-1234", "xx"');
    expect(loose).toMatchObject({ passed: true, failingRows: 0 });
    expect(await dropped(regex("code", /[A-Z]{2}-\d{3}/))).toEqual([2, 3]);
  });

  it("sql: rows where the predicate is false or null fail", async () => {
    const rule = satisfies("paid_positive", "status <> 'paid' or amount > 0");
    const [result, fine] = await evaluate([rule, satisfies("has_id", "id is not null -- every row has one")]);
    expect(result).toMatchObject({
      passed: false,
      failingRows: 1,
      examples: [expect.objectContaining({ id: 6, status: "paid", amount: null })],
    });
    expect(result!.message).toMatch(
      /^sql:paid_positive: 1 of 10 rows \(10 %\) do not satisfy status <> 'paid' or amount > 0; e\.g\. \{"id":6,/,
    );
    expect(fine).toMatchObject({ passed: true, failingRows: 0 });
    expect(await dropped(rule)).toEqual([6]);
  });

  it("sql: a predicate the engine refuses is EXPECTATION_INVALID naming it", async () => {
    const error = await rejection(evaluate([notNull("id"), satisfies("broken", "no_such_column > 1")]));
    expect(error.code).toBe("EXPECTATION_INVALID");
    expect(error.message).toMatch(/^expectation sql:broken: its SQL fails on .*orders/);
    expect(error.details).toMatchObject({ expectation: "sql:broken" });
  });

  it("unique: single and compound keys, keys with a null part ignored", async () => {
    const [ids, customersIds, pairs, withNulls] = await evaluate([
      unique("id"),
      unique("customer_id"),
      unique(["customer_id", "status"]),
      unique(["status", "customer_id"]),
    ]);
    expect(ids).toMatchObject({ passed: true, observed: { rows: 10, duplicateRows: 0, duplicateKeys: 0 }, examples: [] });
    expect(customersIds).toMatchObject({ passed: false, observed: { duplicateRows: 7, duplicateKeys: 3 }, examples: [3, 1, 2] });
    expect(customersIds!.message).toBe(
      "unique:customer_id: 7 of 10 rows (70 %) share their customer_id with another row (3 duplicated keys); e.g. 3 ×3, 1 ×2, 2 ×2",
    );
    // (null, "weird") twice does not count: only (3, "new") is duplicated.
    expect(pairs).toMatchObject({ passed: false, observed: { duplicateRows: 2, duplicateKeys: 1 }, examples: [[3, "new"]] });
    expect(withNulls).toMatchObject({ passed: false, observed: { duplicateRows: 2 }, examples: [["new", 3]] });
  });

  it("freshness: the newest value against a fixed now", async () => {
    const fresh = await one(freshness("at", "36h"), { now: new Date("2024-03-02T12:00:00Z") });
    expect(fresh).toMatchObject({ passed: true, observed: { latest: "2024-03-01T10:30:00.000Z", ageMs: 25.5 * 3_600_000 } });
    const stale = await one(freshness("at", "36h"), { now: new Date("2024-03-03T00:00:00Z") });
    expect(stale.passed).toBe(false);
    expect(stale.message).toBe(
      "freshness:at: the newest value, 2024-03-01T10:30:00.000Z, is 1d 13h old at 2024-03-03T00:00:00.000Z; at most 1d 12h allowed",
    );
    const days = await evaluate([freshness("day", "2d"), freshness("day", "1d")], { now: new Date("2024-11-02T12:00:00Z") });
    expect(days.map((r) => r.passed)).toEqual([true, false]);
    expect(days[0]!.observed).toMatchObject({ latest: "2024-11-01T00:00:00.000Z", ageMs: 36 * 3_600_000 });
  });

  it("freshness: an empty table or an all-null column fails", async () => {
    const empty = await table("empty", [], [col("at", "timestamp")]);
    const nulls = await table("nulls", [{ at: null }, { at: null }], [col("at", "timestamp")]);
    const [none] = await evaluateExpectations({
      target: empty,
      expectations: [freshness("at", "1d")],
      previous: null,
      resolve: () => Promise.resolve(null),
      now: new Date(),
    });
    expect(none).toMatchObject({ passed: false, observed: { rows: 0, latest: null } });
    expect(none!.message).toBe("freshness:at: no newest value to judge (the table has no rows), at most 1d old allowed");
    const [allNull] = await evaluateExpectations({
      target: nulls,
      expectations: [freshness("at", "1d")],
      previous: null,
      resolve: () => Promise.resolve(null),
      now: new Date(),
    });
    expect(allNull).toMatchObject({ passed: false, observed: { rows: 2, latest: null } });
    expect(allNull!.message).toMatch(/all 2 values are null/);
  });

  it("rowCount: absolute bounds and the ratio to the previous version", async () => {
    const previous = await table(
      "orders_v1",
      Array.from({ length: 20 }, (_, i) => ({ id: i })),
      [col("id", "int")],
    );
    const results = await evaluate(
      [
        rowCount({ min: 5, max: 20 }),
        rowCount({ min: 11 }),
        rowCount({ vsPrevious: 0.9 }),
        rowCount({ vsPrevious: { min: 0.4, max: 0.6 } }),
      ],
      { previous },
    );
    expect(results.map((r) => r.passed)).toEqual([true, false, false, true]);
    expect(results[1]!.message).toBe("rowCount: 10 rows, expected in [11, ∞)");
    expect(results[2]!.message).toBe("rowCount: 10 rows; 0.5 × the previous version's 20, expected a ratio in [0.9, ∞)");
    expect(results[2]!.observed).toEqual({ rows: 10, previousRows: 20, ratio: 0.5 });
    const [alone] = await evaluate([rowCount({ vsPrevious: 0.9 })]);
    expect(alone).toMatchObject({ passed: true, message: "rowCount: 10 rows; no previous version to compare with" });
  });

  it("references: rows whose non-null key is missing from the dataset, single and compound", async () => {
    const byId = references("customer_id", customers);
    const byPair = references(["customer_id", "status"], known, ["cid", "st"]);
    const [ids, pairs] = await evaluate([byId, byPair]);
    // The referenced column has the same name as the checked one: the orphan must still show.
    expect(ids).toMatchObject({ passed: false, failingRows: 1, examples: [99] });
    expect(ids!.message).toBe(
      "references:customer_id: 1 of 10 rows (10 %) have a customer_id missing from customers (customer_id); e.g. 99",
    );
    expect(pairs).toMatchObject({ passed: false, failingRows: 1, examples: [[99, "paid"]] });
    expect(await dropped(byId, datasets.get("customers"))).toEqual([6]);
    expect(await dropped(byPair, datasets.get("known_pairs"))).toEqual([6]);
    const [tolerant] = await evaluate([references("customer_id", customers, undefined, { mostly: 0.9 })]);
    expect(tolerant!.passed).toBe(true);
  });

  it("references: no live version, or another engine, fails with a clear message", async () => {
    const [missing] = await evaluate([references("customer_id", customers)], { resolve: () => Promise.resolve(null) });
    expect(missing).toMatchObject({
      passed: false,
      message: 'references:customer_id: dataset "customers" has no live version to check against',
    });
    const other = await DuckDbTableEngine.open(":memory:");
    try {
      const elsewhere = await table("customers", [{ customer_id: 1 }], [col("customer_id", "int")], other);
      const [result] = await evaluate([references("customer_id", customers)], { resolve: () => Promise.resolve(elsewhere) });
      expect(result!.passed).toBe(false);
      expect(result!.message).toContain(other.qualifiedName(elsewhere.table));
      expect(result!.message).toContain(engine.qualifiedName(orders.table));
      expect(result!.message).toMatch(/another engine/);
      expect(() => rowFailsSql(references("customer_id", customers), engine, elsewhere)).toThrow(/another engine/);
    } finally {
      await other.close();
    }
  });

  it("drift: a shifted numeric distribution, by PSI and KS; the same one passes", async () => {
    const values = (from: number): Record<string, unknown>[] => Array.from({ length: 100 }, (_, i) => ({ x: from + i }));
    const before = await table("v1", values(0), [col("x", "double")]);
    const shifted = await table("v2", values(50), [col("x", "double")]);
    // Nulls, NaN and infinities are left out: what remains is the old distribution.
    const same = await table("v3", [...values(0), { x: null }, { x: Number.NaN }, { x: Infinity }, { x: -Infinity }], [col("x", "double")]);
    const run = (target: TableRef, expectations: Expectation[]) =>
      evaluateExpectations({ target, expectations, previous: before, resolve: () => Promise.resolve(null), now: new Date() });

    const [byPsi, byKs] = await run(shifted, [drift("x"), drift("x", { method: "ks" })]);
    // 10 bins of 14.9 over [0, 149]: 0..99 fill bins 0-5 with 15 values and bin 6 with 10;
    // 50..149 fill bin 3 with 10 and bins 4-9 with 15.
    const expectedPsi = psi([15, 15, 15, 15, 15, 15, 10, 0, 0, 0], [0, 0, 0, 10, 15, 15, 15, 15, 15, 15]);
    expect(byPsi!.observed.statistic).toBeCloseTo(expectedPsi, 10);
    expect(byPsi!.observed.statistic).toBeCloseTo(6.618057, 5);
    expect(byPsi).toMatchObject({
      passed: false,
      observed: { method: "psi", threshold: 0.25, buckets: 10, values: 100, previousValues: 100 },
    });
    expect(byPsi!.message).toBe(
      "drift:x: PSI 6.618 against the previous version (10 bins over [0, 149]; 100 values vs 100), at most 0.25 allowed",
    );
    // Half of the old values lie below every new one.
    expect(byKs).toMatchObject({ passed: false, observed: { method: "ks", statistic: 0.5, buckets: 100 } });

    // The SQL bins agree with binOf, bin by bin: KS over 7 bins computed here equals the engine's.
    const histogram = (xs: number[]): number[] => {
      const h = new Array<number>(7).fill(0);
      for (const x of xs) h[binOf(x, 0, 149, 7)]! += 1;
      return h;
    };
    const [sevenBins] = await run(shifted, [drift("x", { method: "ks", bins: 7, threshold: 0.9 })]);
    const range100 = (from: number) => Array.from({ length: 100 }, (_, i) => from + i);
    expect(sevenBins).toMatchObject({ passed: true, observed: { statistic: ksBinned(histogram(range100(0)), histogram(range100(50))) } });

    const unchanged = await run(same, [drift("x"), drift("x", { method: "ks" })]);
    expect(unchanged[0]!.observed).toMatchObject({ values: 100, previousValues: 100 });
    expect(unchanged.map((r) => [r.passed, r.observed.statistic])).toEqual([
      [true, 0],
      [true, 0],
    ]);
  });

  it("drift: dates are compared as numbers (shifted 50 days)", async () => {
    const dates = (from: number) =>
      Array.from({ length: 100 }, (_, i) => ({ d: new Date(Date.UTC(2024, 0, 1 + from + i)).toISOString().slice(0, 10) }));
    const before = await table("d1", dates(0), [col("d", "date")]);
    const after = await table("d2", dates(50), [col("d", "date")]);
    const [result] = await evaluateExpectations({
      target: after,
      expectations: [drift("d")],
      previous: before,
      resolve: () => Promise.resolve(null),
      now: new Date(),
    });
    expect(result!.passed).toBe(false);
    expect(result!.observed.statistic).toBeCloseTo(6.618057, 5);
    expect(result!.message).toContain("10 bins over [2024-01-01T00:00:00.000Z, 2024-05-29T00:00:00.000Z]");
  });

  it("drift: categories by PSI over their frequencies; KS on categories is refused", async () => {
    const rows = (counts: Record<string, number>) => Object.entries(counts).flatMap(([k, n]) => Array.from({ length: n }, () => ({ k })));
    const before = await table("c1", rows({ a: 50, b: 50 }), [col("k", "string")]);
    const after = await table("c2", rows({ a: 90, b: 10 }), [col("k", "string")]);
    const input = { target: after, previous: before, resolve: () => Promise.resolve(null), now: new Date() };
    const [result] = await evaluateExpectations({ ...input, expectations: [drift("k")] });
    // 50/50 -> 90/10, "other" empty on both sides.
    expect(result!.observed.statistic).toBeCloseTo(0.4 * Math.log(1.8) - 0.4 * Math.log(0.2), 10);
    expect(result).toMatchObject({ passed: false, observed: { buckets: 3, values: 100, previousValues: 100 } });
    expect(result!.message).toBe(
      "drift:k: PSI 0.8789 against the previous version (2 categories + other; 100 values vs 100), at most 0.25 allowed",
    );
    const [loose] = await evaluateExpectations({ ...input, expectations: [drift("k", { threshold: 0.9 })] });
    expect(loose!.passed).toBe(true);

    const error = await rejection(evaluateExpectations({ ...input, expectations: [drift("k", { method: "ks" })] }));
    expect(error.code).toBe("EXPECTATION_INVALID");
    expect(error.message).toMatch(/^expectation drift:k: Kolmogorov-Smirnov needs an ordered column/);
  });

  it("drift: past 50 categories the rest is 'other', and kept categories are counted on both sides", async () => {
    const name = (i: number) => `p${String(i).padStart(2, "0")}`;
    // 60 categories of 10 rows before; now only p55, a category outside the old top 50 (ties go by name).
    const before = await table(
      "m1",
      Array.from({ length: 600 }, (_, i) => ({ k: name(i % 60) })),
      [col("k", "string")],
    );
    const after = await table(
      "m2",
      Array.from({ length: 100 }, () => ({ k: "p55" })),
      [col("k", "string")],
    );
    const [result] = await evaluateExpectations({
      target: after,
      expectations: [drift("k")],
      previous: before,
      resolve: () => Promise.resolve(null),
      now: new Date(),
    });
    // Kept: p55, then p00..p48; before: 10 each and 100 in other; after: 100 in p55.
    const expected = psi([10, ...new Array<number>(49).fill(10), 100], [100, ...new Array<number>(49).fill(0), 0]);
    expect(result!.observed.statistic).toBeCloseTo(expected, 10);
    expect(result!.observed.statistic).toBeCloseTo(9.414789, 5);
    expect(result!.message).toContain("50 categories + other");
  });

  it("drift and rowCount pass without a previous version, or when it lacks the column", async () => {
    const [d, r] = await evaluate([drift("amount"), rowCount({ vsPrevious: 0.5 })]);
    expect(d).toMatchObject({ passed: true, message: "drift:amount: no previous version to compare with", observed: { statistic: null } });
    expect(r!.passed).toBe(true);
    const older = await table("orders_v0", [{ id: 1 }], [col("id", "int")]);
    const [lacking] = await evaluate([drift("amount")], { previous: older });
    expect(lacking).toMatchObject({ passed: true, message: 'drift:amount: the previous version has no column "amount" to compare with' });
  });

  it("a missing column or a value that cannot compare is EXPECTATION_INVALID naming the expectation and the columns", async () => {
    const missing = await rejection(evaluate([notNull("id"), range("nope", { min: 0 })]));
    expect(missing.code).toBe("EXPECTATION_INVALID");
    expect(missing.message).toMatch(
      /^expectation range:nope: column "nope" not in .*orders.* \(columns: id, customer_id, email, amount, status, day, at, code\)$/,
    );
    expect(missing.details).toMatchObject({ expectation: "range:nope" });

    const refColumn = await rejection(evaluate([references("customer_id", customers, "id")]));
    expect(refColumn.message).toMatch(
      /^expectation references:customer_id: column "id" not in .*customers.* \(columns: customer_id, name\)$/,
    );

    expect((await rejection(evaluate([unique(["id", "ghost"])]))).message).toMatch(/column "ghost"/);
    expect((await rejection(evaluate([range("day", { min: 5 })]))).message).toMatch(
      /^expectation range:day: column "day" is date: 5 is not an ISO date/i,
    );
    expect((await rejection(evaluate([range("amount", { min: "cheap" })]))).message).toMatch(/"cheap" is not a number/);
    expect((await rejection(evaluate([inSet("status", [1, 2])]))).message).toMatch(/1 is not text/);
    expect((await rejection(evaluate([freshness("email", "1d")]))).message).toMatch(/freshness needs a date or timestamp column/);
    expect(() => rowFailsSql(rowCount({ min: 1 }), engine)).toThrow(/judges the whole table/);
    expect(() => rowFailsSql(references("customer_id", customers), engine)).toThrow(/needs the live table/);
  });

  it("quotes identifiers, and keeps results in input order", async () => {
    const odd = await table("odd", [{ 'My "Col"': "x" }, { 'My "Col"': null }], [col('My "Col"', "string")]);
    const results = await evaluateExpectations({
      target: odd,
      expectations: [inSet('My "Col"', ["x"]), notNull('My "Col"'), rowCount({ max: 1 })],
      previous: null,
      resolve: () => Promise.resolve(null),
      now: new Date(),
    });
    expect(results.map((r) => [r.id, r.passed])).toEqual([
      ['inSet:My "Col"', true],
      ['notNull:My "Col"', false],
      ["rowCount", false],
    ]);
    expect(
      await evaluateExpectations({ target: odd, expectations: [], previous: null, resolve: () => Promise.resolve(null), now: new Date() }),
    ).toEqual([]);
  });
});
