import { expectedSpend, type GammaGammaParams } from "./gamma-gamma.js";

/** Any transaction model's conditional expectation: purchases in the next t periods given a history. */
export interface PurchasePredictor {
  conditionalExpectedPurchases(t: number, x: number, tx: number, T: number): number;
}

export interface ClvOptions {
  /** Months ahead. Default 12. */
  readonly months?: number;
  /** Monthly discount rate. Default 0.01. */
  readonly discountRate?: number;
  /** Periods of the summary's time unit in a month: 30 for days, 4.345 for weeks, 1 for months. */
  readonly periodsPerMonth: number;
}

/**
 * Customer lifetime value as discounted expected cash flow, month by month (the way the Python
 * library lifetimes computes it): for month i, the purchases expected between months i−1 and i,
 * times the expected spend per purchase, divided by (1 + d)^i.
 */
export function customerLifetimeValue(
  purchases: PurchasePredictor,
  spend: GammaGammaParams,
  customer: { x: number; tx: number; T: number; m: number },
  options: ClvOptions,
): number {
  const months = options.months ?? 12;
  const d = options.discountRate ?? 0.01;
  const perMonth = options.periodsPerMonth;
  const value = expectedSpend(spend, customer.x, customer.m);
  let clv = 0;
  let before = 0;
  for (let i = 1; i <= months; i++) {
    const upTo = purchases.conditionalExpectedPurchases(i * perMonth, customer.x, customer.tx, customer.T);
    clv += ((upTo - before) * value) / Math.pow(1 + d, i);
    before = upTo;
  }
  return clv;
}
