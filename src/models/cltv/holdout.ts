import type { PurchasePredictor } from "./clv.js";
import type { CustomerSummary } from "./summary.js";

/** One frequency bucket of the calibration period: what the holdout showed, against the model. */
export interface HoldoutBucket {
  /** Calibration frequency x (the last bucket holds x ≥ `label`). */
  readonly frequency: number;
  readonly label: string;
  readonly customers: number;
  /** Mean repeat purchases in the holdout period, actual and predicted. */
  readonly actual: number;
  readonly predicted: number;
}

export interface HoldoutEvaluation {
  readonly buckets: readonly HoldoutBucket[];
  /** Mean absolute error per customer, and over the buckets' means (weighted by customers). */
  readonly maePerCustomer: number;
  readonly maeOfBuckets: number;
  readonly actualTotal: number;
  readonly predictedTotal: number;
}

/**
 * Calibration/holdout evaluation, the papers' standard check: customers grouped by their
 * calibration frequency (0, 1, ..., `maxFrequency`+), the mean purchases they made in the holdout
 * period against the mean the model predicts for it from their calibration history.
 */
export function evaluateHoldout(
  model: PurchasePredictor,
  calibration: CustomerSummary,
  holdout: { readonly frequency: ArrayLike<number>; readonly duration: ArrayLike<number> | number },
  options: { readonly maxFrequency?: number } = {},
): HoldoutEvaluation {
  const top = options.maxFrequency ?? 7;
  const sums = Array.from({ length: top + 1 }, () => ({ customers: 0, actual: 0, predicted: 0 }));
  let absolute = 0;
  let actualTotal = 0;
  let predictedTotal = 0;
  const n = calibration.frequency.length;
  for (let i = 0; i < n; i++) {
    const x = calibration.frequency[i]!;
    const duration = typeof holdout.duration === "number" ? holdout.duration : holdout.duration[i]!;
    const predicted = model.conditionalExpectedPurchases(duration, x, calibration.recency[i]!, calibration.T[i]!);
    const actual = holdout.frequency[i]!;
    const bucket = sums[Math.min(top, Math.floor(x))]!;
    bucket.customers++;
    bucket.actual += actual;
    bucket.predicted += predicted;
    absolute += Math.abs(actual - predicted);
    actualTotal += actual;
    predictedTotal += predicted;
  }
  const buckets = sums.map((b, k) => ({
    frequency: k,
    label: k === top ? `${k}+` : String(k),
    customers: b.customers,
    actual: b.customers ? b.actual / b.customers : 0,
    predicted: b.customers ? b.predicted / b.customers : 0,
  }));
  const weighted = buckets.reduce((s, b) => s + b.customers * Math.abs(b.actual - b.predicted), 0);
  return {
    buckets,
    maePerCustomer: n ? absolute / n : 0,
    maeOfBuckets: n ? weighted / n : 0,
    actualTotal,
    predictedTotal,
  };
}

const escape = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The evaluation as an SVG chart (actual and predicted per bucket): a file to open in a browser. */
export function holdoutChartSvg(evaluation: HoldoutEvaluation, title = "Holdout purchases by calibration frequency"): string {
  const width = 640;
  const height = 360;
  const left = 56;
  const right = 16;
  const topMargin = 40;
  const bottom = 48;
  const buckets = evaluation.buckets.filter((b) => b.customers > 0);
  const max = Math.max(1e-9, ...buckets.flatMap((b) => [b.actual, b.predicted])) * 1.1;
  const x = (i: number): number => left + ((width - left - right) * (i + 0.5)) / Math.max(1, buckets.length);
  const y = (v: number): number => topMargin + (height - topMargin - bottom) * (1 - v / max);
  const line = (pick: (b: HoldoutBucket) => number): string =>
    buckets.map((b, i) => `${x(i).toFixed(1)},${y(pick(b)).toFixed(1)}`).join(" ");
  const ticks = Array.from({ length: 5 }, (_, k) => (max / 1.1) * (k / 4));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${escape(title)}</text>`,
    ...ticks.map(
      (v) =>
        `<line x1="${left}" x2="${width - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>` +
        `<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v.toFixed(2)}</text>`,
    ),
    ...buckets.map((b, i) => `<text x="${x(i).toFixed(1)}" y="${height - bottom + 18}" text-anchor="middle">${escape(b.label)}</text>`),
    `<text x="${(left + width - right) / 2}" y="${height - 10}" text-anchor="middle">purchases in the calibration period</text>`,
    `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${line((b) => b.actual)}"/>`,
    `<polyline fill="none" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4" points="${line((b) => b.predicted)}"/>`,
    `<text x="${width - right - 150}" y="${topMargin + 4}" fill="#1f77b4">— actual</text>`,
    `<text x="${width - right - 80}" y="${topMargin + 4}" fill="#d62728">- - model</text>`,
    `<text x="${left + 4}" y="${topMargin + 4}">MAE per customer ${evaluation.maePerCustomer.toFixed(3)}</text>`,
    `</svg>`,
  ].join("\n");
}
