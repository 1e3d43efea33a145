import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bgNbdPredictor, fitBgNbd } from "../../src/models/cltv/bg-nbd.js";
import { evaluateHoldout, holdoutChartSvg } from "../../src/models/cltv/holdout.js";
import { summaryOf } from "../../src/models/cltv/summary.js";
import { fixture } from "./helpers.js";

/** The CDNOW sample: calibration summary (weeks 1-39) and each customer's repeat purchase days in weeks 40-78. */
function cdnow() {
  const lines = readFileSync(fixture("CDNOW_sample.txt"), "utf8").trim().split(/\r?\n/);
  const days = new Map<string, Set<string>>();
  for (const line of lines) {
    const [, id, date] = line.trim().split(/\s+/);
    if (!days.has(id!)) days.set(id!, new Set());
    days.get(id!)!.add(date!);
  }
  const rows = [...days.entries()].map(([id, set]) => {
    const sorted = [...set].sort();
    const toDay = (d: string): number => Date.UTC(Number(d.slice(0, 4)), Number(d.slice(4, 6)) - 1, Number(d.slice(6, 8))) / 86_400_000;
    const end = toDay("19970930");
    const calibration = sorted.filter((d) => d <= "19970930");
    const first = toDay(calibration[0]!);
    return {
      customer_id: String(Number(id)),
      frequency: calibration.length - 1,
      recency: (toDay(calibration[calibration.length - 1]!) - first) / 7,
      T: (end - first) / 7,
      holdout: sorted.filter((d) => d > "19970930").length,
    };
  });
  return { summary: summaryOf(rows), holdout: rows.map((r) => r.holdout) };
}

describe("calibration/holdout evaluation", () => {
  it("compares the holdout purchases of each calibration frequency with BG/NBD's prediction, and draws it", async () => {
    const { summary, holdout } = cdnow();
    expect(summary.frequency.length).toBe(2357);
    const model = await bgNbdPredictor((await fitBgNbd(summary)).params);
    const evaluation = evaluateHoldout(model, summary, { frequency: holdout, duration: 39 });
    expect(evaluation.buckets.map((b) => b.label)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7+"]);
    expect(evaluation.buckets.reduce((s, b) => s + b.customers, 0)).toBe(2357);
    // The papers' plot: few purchases from one-off buyers, many from frequent ones, the model close.
    const [zero, , , , , , , many] = evaluation.buckets;
    expect(zero!.actual).toBeLessThan(many!.actual);
    expect(Math.abs(zero!.actual - zero!.predicted)).toBeLessThan(0.1);
    expect(evaluation.actualTotal).toBe(holdout.reduce((s, h) => s + h, 0));
    // The sum of the conditional expectations is close to the cohort's holdout total.
    expect(Math.abs(evaluation.predictedTotal - evaluation.actualTotal) / evaluation.actualTotal).toBeLessThan(0.15);
    expect(evaluation.maePerCustomer).toBeGreaterThan(0);
    expect(evaluation.maeOfBuckets).toBeLessThanOrEqual(evaluation.maePerCustomer);

    const svg = holdoutChartSvg(evaluation);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain("7+");
    expect(svg).toContain(`MAE per customer ${evaluation.maePerCustomer.toFixed(3)}`);
  });
});
