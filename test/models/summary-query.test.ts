import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { summaryQuery, type SummaryQueryOptions } from "../../src/models/cltv/summary-query.js";
import { summaryOf } from "../../src/models/cltv/summary.js";
import { isStrataError } from "../../src/errors/strata-error.js";
import { DuckDbTableEngine } from "../../src/storage/duckdb/table-engine.js";

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/cltv/${name}`, import.meta.url));
const SAMPLE = fixture("CDNOW_sample.txt");

/** A CSV fixture as rows of fields, header dropped (the files mix LF and CRLF). */
function csvRows(name: string): string[][] {
  const [header, ...lines] = readFileSync(fixture(name), "utf8")
    .split(/\r?\n/)
    .filter((l) => l !== "");
  expect(header).toBeDefined();
  return lines.map((l) => l.split(","));
}

/** Hundredths, as the fixtures store them; the spend fixture rounds half a cent up (see zbar below). */
const cents = (v: number): number => Math.round(v * 100 + 1e-6);

let engine: DuckDbTableEngine;
let cdnow: string;

/** A row of the summary query: the columns the tests below check it has. */
type SummaryRow = Record<string, unknown> & { customer_id: unknown; frequency: unknown; recency: unknown; T: unknown };

async function run(table: string, options: SummaryQueryOptions): Promise<SummaryRow[]> {
  return (await engine.query({ strings: [summaryQuery(table, options)], parts: [] })) as SummaryRow[];
}

beforeAll(async () => {
  engine = await DuckDbTableEngine.open(":memory:");
  // Whitespace-separated with runs of spaces and zero-padded ids: read whole lines, split on \s+.
  const fields = `SELECT string_split_regex(trim(line), '\\s+') AS f
    FROM read_csv('${SAMPLE}', header = false, delim = '|', quote = '', escape = '', columns = {'line': 'VARCHAR'})`;
  const target = { schema: "cltv", table: "cdnow_sample" };
  const load = `SELECT CAST(f[1] AS INTEGER) AS id_total, CAST(f[2] AS INTEGER) AS id_sample, CAST(strptime(f[3], '%Y%m%d') AS DATE) AS day,
      CAST(f[4] AS INTEGER) AS cds, CAST(f[5] AS DECIMAL(10, 2)) AS spend, len(f) AS fields FROM (${fields})`;
  await engine.createTableAs(target, { strings: [load], parts: [] }, new AbortController().signal);
  cdnow = engine.qualifiedName(target);
});

afterAll(async () => {
  await engine.close();
});

describe("summaryQuery on CDNOW (lifetimes' cdnow summary files)", () => {
  const calibration: SummaryQueryOptions = { customer: "id_sample", date: "day", observationEnd: "1997-09-30", unit: "weeks" };

  it("the sample loads whole: 6,919 transactions of 5 fields, 2,357 customers, 1997-01-01..1998-06-30", async () => {
    const [stats] = await engine.query({
      strings: [
        `SELECT count(*) AS n, count(DISTINCT id_sample) AS customers, min(fields) AS lo, max(fields) AS hi,
          CAST(min(day) AS VARCHAR) AS first, CAST(max(day) AS VARCHAR) AS last FROM ${cdnow}`,
      ],
      parts: [],
    });
    expect(stats).toEqual({ n: 6919, customers: 2357, lo: 5, hi: 5, first: "1997-01-01", last: "1998-06-30" });
  });

  it("equals cdnow_customers_summary.csv row for row (x exact, t_x and T in weeks to 2 decimals)", async () => {
    const rows = await run(cdnow, calibration);
    const expected = csvRows("cdnow_customers_summary.csv");
    expect(rows.length).toBe(2357);
    expect(expected.length).toBe(2357);
    expect(Object.keys(rows[0]!)).toEqual(["customer_id", "frequency", "recency", "T"]);
    const mismatches = expected.flatMap(([id, frequency, recency, T], i) => {
      const row = rows[i]!;
      const ok =
        Number(row.customer_id) === Number(id) &&
        row.frequency === Number(frequency) &&
        cents(row.recency as number) === cents(Number(recency)) &&
        cents(row.T as number) === cents(Number(T));
      return ok ? [] : [{ expected: { id, frequency, recency, T }, got: row }];
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
    // The README's totals, as a second look.
    const summary = summaryOf(rows);
    expect(summary.frequency.reduce((a, b) => a + b, 0)).toBe(2457);
    expect(summary.frequency.filter((x) => x > 0).length).toBe(946);
    expect(summary.monetaryValue).toBeUndefined();
  });

  it("with amount, equals cdnow_customers_summary_with_transactions.csv: x, t_x, T and zbar (spend of the repeat days)", async () => {
    const rows = await run(cdnow, { ...calibration, amount: "spend" });
    const expected = csvRows("cdnow_customers_summary_with_transactions.csv");
    expect(rows.length).toBe(expected.length);
    expect(Object.keys(rows[0]!)).toEqual(["customer_id", "frequency", "recency", "T", "monetary_value"]);
    // zbar is rounded half up: 140 customers have a mean ending in exactly half a cent (customer 1:
    // (29.73 + 14.96) / 2 = 22.345, stored 22.35), and every one of them is stored rounded up.
    let halfCents = 0;
    const mismatches = expected.flatMap(([id, x, tx, T, zbar], i) => {
      const row = rows[i]!;
      const money = row.monetary_value as number;
      if (Math.abs(money * 100 - Math.floor(money * 100) - 0.5) < 1e-6) halfCents++;
      const ok =
        Number(row.customer_id) === Number(id) &&
        row.frequency === Number(x) &&
        cents(row.recency as number) === cents(Number(tx)) &&
        cents(row.T as number) === cents(Number(T)) &&
        cents(money) === cents(Number(zbar)) &&
        (row.frequency === 0 ? money === 0 : true);
      return ok ? [] : [{ expected: { id, x, tx, T, zbar }, got: row }];
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(halfCents).toBe(140);
    expect(rows[0]).toMatchObject({ customer_id: 1, frequency: 2, monetary_value: 22.345 });
    const summary = summaryOf(rows);
    expect(summary.monetaryValue?.length).toBe(2357);
  });

  it("a holdout to 1998-06-30: frequency_holdout and monetary_value_holdout per customer as counted here, 39 weeks", async () => {
    const rows = await run(cdnow, { ...calibration, amount: "spend", holdoutEnd: "1998-06-30" });
    expect(Object.keys(rows[0]!)).toEqual([
      "customer_id",
      "frequency",
      "recency",
      "T",
      "monetary_value",
      "frequency_holdout",
      "monetary_value_holdout",
      "duration_holdout",
    ]);
    // The calibration columns do not move with a holdout.
    const calibrationOnly = await run(cdnow, { ...calibration, amount: "spend" });
    expect(
      rows.map(({ customer_id, frequency, recency, T, monetary_value }) => ({ customer_id, frequency, recency, T, monetary_value })),
    ).toEqual(calibrationOnly);

    // Reference, straight from the text file: spend per (customer, holdout day) in integer cents.
    const days = new Map<number, Map<string, number>>();
    for (const line of readFileSync(SAMPLE, "utf8").split(/\r?\n/)) {
      const f = line.trim().split(/\s+/);
      if (f.length !== 5 || f[2]! <= "19970930") continue;
      const id = Number(f[1]);
      const perDay = days.get(id) ?? new Map<string, number>();
      perDay.set(f[2]!, (perDay.get(f[2]!) ?? 0) + Math.round(Number(f[4]) * 100));
      days.set(id, perDay);
    }
    const mismatches = rows.flatMap((row) => {
      const perDay = [...(days.get(row.customer_id as number)?.values() ?? [])];
      const mean = perDay.length === 0 ? 0 : perDay.reduce((a, b) => a + b, 0) / perDay.length / 100;
      const ok =
        row.frequency_holdout === perDay.length && Math.abs((row.monetary_value_holdout as number) - mean) <= 1e-9 * Math.max(1, mean);
      return ok ? [] : [{ expected: { frequency_holdout: perDay.length, monetary_value_holdout: mean }, got: row }];
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(rows.reduce((a, r) => a + (r.frequency_holdout as number), 0)).toBe(1882);
    expect(new Set(rows.map((r) => r.duration_holdout))).toEqual(new Set([39]));
  });
});

describe("summaryQuery on a small hand-made log", () => {
  // Observation ends 2020-01-31, holdout to 2020-02-29; timestamps carry times of day.
  const log = `(SELECT * FROM (VALUES
      ('a', TIMESTAMP '2020-01-01 09:00:00', 10.0),
      ('a', TIMESTAMP '2020-01-01 18:30:00', 5.0),
      ('a', TIMESTAMP '2020-01-11 12:00:00', 20.0),
      ('a', TIMESTAMP '2020-01-21 08:00:00', 40.0),
      ('a', TIMESTAMP '2020-01-21 23:59:59', 2.0),
      ('a', TIMESTAMP '2020-02-05 10:00:00', 100.0),
      ('b', TIMESTAMP '2020-01-15 10:00:00', 50.0),
      ('c', TIMESTAMP '2020-02-02 10:00:00', 70.0),
      ('c', TIMESTAMP '2020-02-09 10:00:00', 80.0),
      ('d', TIMESTAMP '2020-01-31 23:00:00', 9.0),
      ('d', TIMESTAMP '2020-02-29 01:00:00', 7.0),
      ('d', TIMESTAMP '2020-02-29 22:00:00', 3.0),
      ('d', TIMESTAMP '2020-03-01 00:00:00', 1000.0),
      (NULL, TIMESTAMP '2020-01-05 10:00:00', 1.0)
    ) AS t("Customer Id", "at", "paid"))`;
  const options: SummaryQueryOptions = { customer: "Customer Id", date: "at", amount: "paid", observationEnd: "2020-01-31", unit: "days" };

  it("counts one purchase per day (amounts summed), drops customers first seen after the end, 0 spend for one purchase", async () => {
    expect(await run(log, options)).toEqual([
      // Days 01, 11, 21: x = 2; the repeat days spent 20 and 40 + 2.
      { customer_id: "a", frequency: 2, recency: 20, T: 30, monetary_value: 31 },
      { customer_id: "b", frequency: 0, recency: 0, T: 16, monetary_value: 0 },
      // First purchase on the last day, which is inclusive.
      { customer_id: "d", frequency: 0, recency: 0, T: 0, monetary_value: 0 },
    ]);
  });

  it("adds the holdout: its purchase days (deduplicated, end inclusive), their mean spend and its length", async () => {
    const rows = await run(log, { ...options, holdoutEnd: "2020-02-29" });
    expect(rows.map((r) => [r.customer_id, r.frequency_holdout, r.monetary_value_holdout, r.duration_holdout])).toEqual([
      ["a", 1, 100, 29],
      ["b", 0, 0, 29],
      ["d", 1, 10, 29],
    ]);
    // The holdout leaves the calibration figures alone.
    expect(rows.map((r) => [r.frequency, r.recency, r.T, r.monetary_value])).toEqual([
      [2, 20, 30, 31],
      [0, 0, 16, 0],
      [0, 0, 0, 0],
    ]);
  });

  it("measures recency and T in weeks (7 days) or months (30 days); without amount there is no monetary_value", async () => {
    const { amount: _amount, ...noAmount } = options;
    const weeks = await run(log, { ...noAmount, unit: "weeks" });
    expect(weeks[0]).toEqual({ customer_id: "a", frequency: 2, recency: 20 / 7, T: 30 / 7 });
    const months = await run(log, { ...noAmount, unit: "months", holdoutEnd: "2020-02-29" });
    expect(months[0]).toEqual({ customer_id: "a", frequency: 2, recency: 20 / 30, T: 1, frequency_holdout: 1, duration_holdout: 29 / 30 });
  });

  it("rejects a malformed or impossible day, a holdout that does not end after the observation, an unknown unit", () => {
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (error) {
        return isStrataError(error) ? error.code : "not a StrataError";
      }
      return undefined;
    };
    expect(code(() => summaryQuery("t", { ...options, observationEnd: "2020-02-30" }))).toBe("MODEL_INPUT_INVALID");
    expect(code(() => summaryQuery("t", { ...options, observationEnd: "2020-1-31" }))).toBe("MODEL_INPUT_INVALID");
    expect(code(() => summaryQuery("t", { ...options, observationEnd: "2020-01-31'; DROP TABLE t; --" }))).toBe("MODEL_INPUT_INVALID");
    expect(code(() => summaryQuery("t", { ...options, holdoutEnd: "2020-01-31" }))).toBe("MODEL_INPUT_INVALID");
    expect(code(() => summaryQuery("t", { ...options, unit: "years" as SummaryQueryOptions["unit"] }))).toBe("MODEL_INPUT_INVALID");
    expect(code(() => summaryQuery("t", options))).toBeUndefined();
  });
});
