// The example's preprocessing on a small transaction log whose summary is worked out by hand:
// the raw file is ingested with the example's own checks, then turned into daily purchases,
// the calibration summary and the holdout counts by the example's own queries.
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ingest, openWorkspace, pipeline, runPipeline, step, storage, z, type Table } from "strata";
import { afterEach, describe, expect, it } from "vitest";
import { rawTransactions, transactions } from "../pipelines/datasets.js";
import { calibrationSummary, dailyPurchases, holdoutPurchases } from "../steps/preprocess.js";

const preprocessing = pipeline(
  "preprocessing",
  {
    params: z.object({
      end: z.coerce.date().default(new Date("1997-03-31")),
      until: z.coerce.date().default(new Date("1997-12-31")),
      unit: z.enum(["days", "weeks"]).default("days"),
      q: z.number().default(1),
      n: z.number().default(0),
    }),
  },
  ({ params }) => {
    const clean = ingest("ingest", { from: rawTransactions, to: transactions });
    const daily = step("daily", { inputs: { transactions: clean, end: params.end, q: params.q, n: params.n } }, dailyPurchases);
    step("summary", { inputs: { daily, end: params.end, unit: params.unit } }, calibrationSummary);
    step("holdout", { inputs: { daily, end: params.end, until: params.until } }, holdoutPurchases);
  },
);

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Runs the preprocessing on fixtures/transactions.txt (as the lake's CDNOW_master.txt) and returns each step's rows. */
async function preprocess(
  params: Record<string, unknown> = {},
): Promise<Record<"daily" | "summary" | "holdout", Record<string, unknown>[]>> {
  dir = mkdtempSync(join(tmpdir(), "cltv-preprocess-"));
  copyFileSync(new URL("fixtures/transactions.txt", import.meta.url), join(dir, "CDNOW_master.txt"));
  const workspace = openWorkspace(":memory:", {
    projectDir: dir,
    storages: [storage("lake", { technology: "files", format: "files", options: { path: dir } })],
  });
  try {
    const result = await runPipeline(preprocessing, { workspace, params });
    expect(result.error).toBeNull();
    const rows = async (name: string): Promise<Record<string, unknown>[]> => (result.outputs[name] as Table).rows();
    return { daily: await rows("daily"), summary: await rows("summary"), holdout: await rows("holdout") };
  } finally {
    await workspace.close();
  }
}

const byCustomer = (rows: Record<string, unknown>[]): Map<unknown, Record<string, unknown>> => new Map(rows.map((r) => [r.customer_id, r]));

describe("the CLTV example's preprocessing", () => {
  it("makes one row per customer and day, and the summary lifetimes would (frequency, recency, T in days, mean repeat spend)", async () => {
    const { daily, summary, holdout } = await preprocess();
    expect(daily).toHaveLength(8); // 9 purchases; two by 00001 on 1997-01-01
    const firstDay = daily.find((r) => r.customer_id === "00001" && (r.date as Date).getTime() === Date.UTC(1997, 0, 1));
    expect(firstDay).toMatchObject({ amount: 30, cds: 3 });

    const s = byCustomer(summary);
    expect(summary).toHaveLength(4);
    // 00001: days Jan 1, Jan 15, Mar 1; repeat spend 15 and 45.
    expect(s.get("00001")).toEqual({ customer_id: "00001", frequency: 2, recency: 59, T: 89, monetary_value: 30 });
    expect(s.get("00002")).toEqual({ customer_id: "00002", frequency: 0, recency: 0, T: 85, monetary_value: 0 });
    expect(s.get("00003")).toEqual({ customer_id: "00003", frequency: 1, recency: 10, T: 80, monetary_value: 20 });
    // 00004's October purchase is after the calibration period: in the holdout, not the summary.
    expect(s.get("00004")).toEqual({ customer_id: "00004", frequency: 0, recency: 0, T: 58, monetary_value: 0 });
    expect(holdout).toEqual([{ customer_id: "00004", purchases: 1 }]);
  });

  it("counts recency and T in weeks when the time unit is weeks", async () => {
    const { summary } = await preprocess({ unit: "weeks" });
    expect(byCustomer(summary).get("00001")).toMatchObject({ recency: 59 / 7, T: 89 / 7 });
  });

  it("leaves out purchase days above the outlier quantile", async () => {
    // Day amounts 11, 11, 12, 15, 20, 30, 45, 500: the 0.9 quantile is 181.5, so only the 500 day goes.
    const { daily, summary } = await preprocess({ q: 0.9 });
    expect(daily).toHaveLength(7);
    expect(daily.some((r) => r.amount === 500)).toBe(false);
    expect(byCustomer(summary).get("00003")).toEqual({ customer_id: "00003", frequency: 0, recency: 0, T: 70, monetary_value: 0 });
  });

  it("keeps only customers with at least n purchase days in the year up to the observation end", async () => {
    // In the year to 1997-03-31: 00001 has 3 days, 00003 has 2, 00002 and 00004 have 1 each.
    const { daily, summary, holdout } = await preprocess({ n: 2 });
    expect([...byCustomer(summary).keys()].sort()).toEqual(["00001", "00003"]);
    expect(new Set(daily.map((r) => r.customer_id))).toEqual(new Set(["00001", "00003"]));
    expect(holdout).toEqual([]);
  });
});
