import { describe, expect, it } from "vitest";
import { bgNbdPredictor } from "../../src/models/cltv/bg-nbd.js";
import { customerLifetimeValue } from "../../src/models/cltv/clv.js";
import { expectedSpend, fitGammaGamma, gammaGammaLogLikelihood } from "../../src/models/cltv/gamma-gamma.js";
import { cdnowSummary, sig } from "./helpers.js";

describe("Gamma-Gamma", () => {
  it("fits the CDNOW repeat buyers to the published parameters (Fader, Hardie & Lee 2005, RFM and CLV)", async () => {
    const fit = await fitGammaGamma(cdnowSummary(true));
    expect(fit.converged).toBe(true);
    expect(fit.customers).toBe(946);
    expect([sig(fit.params.p), sig(fit.params.q), sig(fit.params.v, 4)]).toEqual([6.25, 3.74, 15.45]);
    expect(fit.logLikelihood).toBeCloseTo(-4055.92, 1);
    expect(await gammaGammaLogLikelihood({ p: 6.25, q: 3.74, v: 15.44 }, cdnowSummary(true))).toBeLessThan(fit.logLikelihood);
  });

  it("expects a spend between the population mean and the customer's own", () => {
    const params = { p: 6.25, q: 3.74, v: 15.44 };
    const population = (params.p * params.v) / (params.q - 1);
    expect(expectedSpend(params, 0, 0)).toBeCloseTo(population, 10);
    const heavy = expectedSpend(params, 20, 100);
    expect(heavy).toBeLessThan(100);
    expect(heavy).toBeGreaterThan(population);
    // More purchases: the customer's own mean counts for more.
    expect(expectedSpend(params, 40, 100)).toBeGreaterThan(heavy);
  });

  it("computes CLV as discounted expected cash flow, month by month", async () => {
    const purchases = await bgNbdPredictor({ r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 });
    const spend = { p: 6.25, q: 3.74, v: 15.44 };
    const customer = { x: 2, tx: 30.43, T: 38.86, m: 30 };
    const clv = customerLifetimeValue(purchases, spend, customer, { months: 12, discountRate: 0.01, periodsPerMonth: 4.345 });
    // Undiscounted, it is purchases over the year times the expected spend.
    const undiscounted = customerLifetimeValue(purchases, spend, customer, { months: 12, discountRate: 0, periodsPerMonth: 4.345 });
    expect(undiscounted).toBeCloseTo(purchases.conditionalExpectedPurchases(12 * 4.345, 2, 30.43, 38.86) * expectedSpend(spend, 2, 30), 8);
    expect(clv).toBeLessThan(undiscounted);
    expect(clv).toBeGreaterThan(undiscounted / 1.01 ** 12);
    expect(customerLifetimeValue(purchases, spend, customer, { months: 24, periodsPerMonth: 4.345 })).toBeGreaterThan(clv);
  });
});
