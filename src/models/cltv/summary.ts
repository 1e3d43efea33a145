/**
 * The per-customer RFM summary the buy-till-you-die models fit on (lifetimes' names), in columns:
 * - `frequency` x: repeat purchases (distinct purchase days after the first);
 * - `recency` t_x: time from the first purchase to the last;
 * - `T`: time from the first purchase to the end of the observation period;
 * - `monetaryValue`: mean spend of the repeat purchases (0 when x = 0), for Gamma-Gamma.
 * Times are in one unit (days, weeks...), the same for all.
 */
export interface CustomerSummary {
  readonly ids: readonly string[];
  readonly frequency: Float64Array;
  readonly recency: Float64Array;
  readonly T: Float64Array;
  readonly monetaryValue?: Float64Array;
}

export function summaryOf(
  rows: readonly { customer_id: unknown; frequency: unknown; recency: unknown; T: unknown; monetary_value?: unknown }[],
): CustomerSummary {
  const n = rows.length;
  const frequency = new Float64Array(n);
  const recency = new Float64Array(n);
  const T = new Float64Array(n);
  const hasMoney = rows.length > 0 && rows.every((r) => r.monetary_value !== undefined && r.monetary_value !== null);
  const monetaryValue = hasMoney ? new Float64Array(n) : undefined;
  rows.forEach((r, i) => {
    frequency[i] = Number(r.frequency);
    recency[i] = Number(r.recency);
    T[i] = Number(r.T);
    if (monetaryValue) monetaryValue[i] = Number(r.monetary_value);
  });
  return { ids: rows.map((r) => String(r.customer_id)), frequency, recency, T, ...(monetaryValue ? { monetaryValue } : {}) };
}
