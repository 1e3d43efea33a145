// The example's own tests of its model steps: on customers drawn from known parameters, the fit
// finds them again, and the scores are well formed.
import { cltv } from "strata";
import { describe, expect, it } from "vitest";
import { fitModels, scoreCustomers, type SummaryRow } from "../steps/models.js";

const TRUE_BG = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
const TRUE_GG = { p: 6.25, q: 3.74, v: 15.44 };

function simulatedRows(n: number): SummaryRow[] {
  const data = cltv.simulateCustomers(n, TRUE_BG, { seed: 11, spend: TRUE_GG, observation: [39, 78] });
  return data.ids.map((id, i) => ({
    customer_id: id,
    frequency: data.frequency[i]!,
    recency: data.recency[i]!,
    T: data.T[i]!,
    monetary_value: data.monetaryValue![i]!,
  }));
}

describe("the CLTV example's model steps", () => {
  it("fit finds the parameters the customers were drawn from", async () => {
    const { bgNbd, gammaGamma } = await fitModels(simulatedRows(50_000));
    expect(bgNbd.converged && gammaGamma.converged).toBe(true);
    for (const [key, truth] of Object.entries(TRUE_BG))
      expect(Math.abs(bgNbd.params[key as keyof typeof TRUE_BG] - truth) / truth).toBeLessThan(0.1);
    for (const [key, truth] of Object.entries(TRUE_GG))
      expect(Math.abs(gammaGamma.params[key as keyof typeof TRUE_GG] - truth) / truth).toBeLessThan(0.15);
  });

  it("scores every customer with a CLV >= 0 and P(alive) in [0, 1]; buyers who stay score higher", async () => {
    const rows = simulatedRows(5_000);
    const models = await fitModels(rows);
    const scores = await scoreCustomers(rows, models, { months: 12, discountRate: 0.01, periodsPerMonth: 4.345 });
    expect(scores).toHaveLength(rows.length);
    for (const s of scores) {
      expect(s.clv).toBeGreaterThanOrEqual(0);
      expect(s.p_alive).toBeGreaterThanOrEqual(0);
      expect(s.p_alive).toBeLessThanOrEqual(1);
    }
    const [recent, lapsed] = await scoreCustomers(
      [
        { customer_id: "recent", frequency: 10, recency: 50, T: 52, monetary_value: 40 },
        { customer_id: "lapsed", frequency: 10, recency: 10, T: 52, monetary_value: 40 },
      ],
      models,
      { months: 12, discountRate: 0.01, periodsPerMonth: 4.345 },
    );
    expect(recent!.clv).toBeGreaterThan(lapsed!.clv);
    expect(recent!.p_alive).toBeGreaterThan(lapsed!.p_alive);
  });
});
