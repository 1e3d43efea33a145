import { cltv } from "strata";

/** A summary row as the `summary` dataset holds it (lifetimes' column names). */
export interface SummaryRow {
  readonly customer_id: string;
  readonly frequency: number;
  readonly recency: number;
  readonly T: number;
  readonly monetary_value: number;
}

/** How CLV is computed from expected purchases: horizon, discount rate, and periods of the summary's unit per month. */
export interface ScoringOptions {
  readonly months: number;
  readonly discountRate: number;
  readonly periodsPerMonth: number;
}

/** What the `register` step keeps as the model's artifact: both fits and the scoring options. */
export interface ScoringModels {
  readonly bgNbd: cltv.BgNbdFit;
  readonly gammaGamma: cltv.GammaGammaFit;
  readonly scoring: ScoringOptions;
}

/** BG/NBD for purchases and survival, Gamma-Gamma for spend, both by maximum likelihood. */
export async function fitModels(rows: readonly SummaryRow[]): Promise<{ bgNbd: cltv.BgNbdFit; gammaGamma: cltv.GammaGammaFit }> {
  const data = cltv.summaryOf(rows);
  const [bgNbd, gammaGamma] = await Promise.all([cltv.fitBgNbd(data), cltv.fitGammaGamma(data)]);
  return { bgNbd, gammaGamma };
}

/** Each customer's expected purchases and P(alive) over the horizon, expected spend, and CLV. */
export async function scoreCustomers(
  rows: readonly SummaryRow[],
  models: { bgNbd: cltv.BgNbdFit; gammaGamma: cltv.GammaGammaFit },
  options: ScoringOptions,
): Promise<{ customer_id: string; expected_purchases: number; p_alive: number; expected_spend: number; clv: number }[]> {
  const purchases = await cltv.bgNbdPredictor(models.bgNbd.params);
  const horizon = options.months * options.periodsPerMonth;
  return rows.map((c) => ({
    customer_id: c.customer_id,
    expected_purchases: purchases.conditionalExpectedPurchases(horizon, c.frequency, c.recency, c.T),
    p_alive: purchases.probabilityAlive(c.frequency, c.recency, c.T),
    expected_spend: cltv.expectedSpend(models.gammaGamma.params, c.frequency, c.monetary_value),
    clv: cltv.customerLifetimeValue(
      purchases,
      models.gammaGamma.params,
      { x: c.frequency, tx: c.recency, T: c.T, m: c.monetary_value },
      options,
    ),
  }));
}
