import { describe, expect, it } from "vitest";
import { bgNbdLogLikelihood, bgNbdPredictor, fitBgNbd } from "../../src/models/cltv/bg-nbd.js";
import { summaryOf } from "../../src/models/cltv/summary.js";
import { cdnowSummary, sig } from "./helpers.js";

describe("BG/NBD", () => {
  it("fits the CDNOW sample to the published parameters and log-likelihood (Fader, Hardie & Lee 2005)", async () => {
    const fit = await fitBgNbd(cdnowSummary());
    expect(fit.converged).toBe(true);
    expect([sig(fit.params.r), sig(fit.params.alpha, 4), sig(fit.params.a), sig(fit.params.b, 4)]).toEqual([0.243, 4.414, 0.793, 2.426]);
    expect(fit.logLikelihood).toBeCloseTo(-9582.4, 1);
    // Standard errors from the observed information, as lifetimes reports them.
    expect(fit.standardErrors).not.toBeNull();
    expect([sig(fit.standardErrors!.r), sig(fit.standardErrors!.alpha), sig(fit.standardErrors!.a), sig(fit.standardErrors!.b)]).toEqual([
      0.0126, 0.378, 0.186, 0.705,
    ]);
  });

  it("has its maximum at the fitted parameters", async () => {
    const data = cdnowSummary();
    const fit = await fitBgNbd(data);
    for (const key of ["r", "alpha", "a", "b"] as const) {
      const nudged = { ...fit.params, [key]: fit.params[key] * 1.02 };
      expect(await bgNbdLogLikelihood(nudged, data)).toBeLessThan(fit.logLikelihood);
    }
  });

  it("an L2 penalty shrinks the parameters", async () => {
    const data = cdnowSummary();
    const plain = await fitBgNbd(data);
    const penalized = await fitBgNbd(data, { penalizer: 0.1 });
    expect(penalized.params.alpha).toBeLessThan(plain.params.alpha);
    expect(penalized.logLikelihood).toBeLessThan(plain.logLikelihood);
  });

  it("predicts purchases and P(alive) as the paper's expressions give them", async () => {
    const p = await bgNbdPredictor({ r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 });
    // A customer with no repeat purchase is alive by the model's construction.
    expect(p.probabilityAlive(0, 0, 38.86)).toBe(1);
    // The same history seen later is less likely alive; more purchases, more likely.
    expect(p.probabilityAlive(2, 30.43, 38.86)).toBeGreaterThan(p.probabilityAlive(2, 30.43, 60));
    expect(p.probabilityAlive(2, 30.43, 38.86)).toBeCloseTo(0.7266, 3);
    expect(p.expectedPurchases(39)).toBeCloseTo(1.1967, 3);
    expect(p.expectedPurchases(78)).toBeGreaterThan(p.expectedPurchases(39));
    expect(p.expectedPurchases(0)).toBe(0);
    expect(p.conditionalExpectedPurchases(39, 2, 30.43, 38.86)).toBeCloseTo(1.226, 2);
    // A frequent, recent buyer is expected to buy more than a lapsed one.
    expect(p.conditionalExpectedPurchases(39, 10, 38, 38.86)).toBeGreaterThan(p.conditionalExpectedPurchases(39, 10, 5, 38.86));
  });

  it("stays finite for heavy, long-lived buyers", async () => {
    const p = await bgNbdPredictor({ r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 });
    const value = p.conditionalExpectedPurchases(52, 400, 1000, 1001);
    expect(Number.isFinite(value)).toBe(true);
    expect(p.probabilityAlive(400, 10, 1001)).toBeGreaterThanOrEqual(0);
  });

  it("fits a summary built from rows", async () => {
    const data = summaryOf([
      { customer_id: "a", frequency: 3, recency: 20, T: 30 },
      { customer_id: "b", frequency: 0, recency: 0, T: 30 },
      { customer_id: "c", frequency: 1, recency: 2, T: 25 },
      { customer_id: "d", frequency: 6, recency: 28, T: 29 },
    ]);
    const fit = await fitBgNbd(data, { penalizer: 0.01 });
    expect(Number.isFinite(fit.logLikelihood)).toBe(true);
    expect(fit.params.r).toBeGreaterThan(0);
  });
});
