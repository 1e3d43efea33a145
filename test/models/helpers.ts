import { fileURLToPath } from "node:url";
import { readSummaryCsv } from "../../src/models/cltv/model-file.js";
import type { CustomerSummary } from "../../src/models/cltv/summary.js";

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/cltv/${name}`, import.meta.url));

/** The CDNOW sample's calibration summary (2,357 customers, weeks), with zbar as monetary_value when asked. */
export function cdnowSummary(withMoney = false): CustomerSummary {
  if (!withMoney) return readSummaryCsv(fixture("cdnow_customers_summary.csv"));
  return readSummaryCsv(fixture("cdnow_customers_summary_monetary.csv"), { needMoney: true });
}

/** Equal to `digits` significant digits. */
export const sig = (value: number, digits = 3): number => Number(value.toPrecision(digits));
