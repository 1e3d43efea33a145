import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  fitParetoNbd,
  paretoNbdLogLikelihood,
  paretoNbdLogLikelihoodGradient,
  paretoNbdPredictor,
  type ParetoNbdFit,
  type ParetoNbdParams,
} from "../../src/models/cltv/pareto-nbd.js";
import { summaryOf, type CustomerSummary } from "../../src/models/cltv/summary.js";
import { specialFunctions } from "../../src/models/special.js";

// Reference values marked "mpmath" were computed for these tests with mpmath at 50 digits, from
// FHL's (2005) formula with 2F1(r+s+x, ·; r+s+x+1; ·) on the larger of α and β (the form this
// module rewrites with Euler's transformation and integrates numerically near z = 1).

/** Fader, Hardie & Lee's estimates on this sample; lifetimes reaches LL −9594.973930. */
const PUBLISHED: ParetoNbdParams = { r: 0.5533, alpha: 10.5764, s: 0.6061, beta: 11.6691 };
const KEYS = ["r", "alpha", "s", "beta"] as const;

function loadCdnow(): CustomerSummary {
  const text = readFileSync(new URL("../fixtures/cltv/cdnow_customers_summary.csv", import.meta.url), "utf8");
  const [header, ...lines] = text.trim().split("\n");
  expect(header?.trim()).toBe("ID,frequency,recency,T");
  return summaryOf(
    lines.map((line) => {
      const [ID, frequency, recency, T] = line.trim().split(",");
      return { customer_id: ID, frequency, recency, T };
    }),
  );
}

function oneCustomer(x: number, tx: number, T: number): CustomerSummary {
  return { ids: ["c"], frequency: Float64Array.of(x), recency: Float64Array.of(tx), T: Float64Array.of(T) };
}

function relative(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.abs(expected);
}

/** ∂LL/∂θ by a 5-point central difference of the total LL. */
async function numericGradient(params: ParetoNbdParams, summary: CustomerSummary): Promise<ParetoNbdParams> {
  const out: Record<string, number> = {};
  for (const k of KEYS) {
    const h = 1e-3 * params[k];
    const at = (m: number): Promise<number> => paretoNbdLogLikelihood({ ...params, [k]: params[k] + m * h }, summary);
    out[k] = (8 * (await at(1)) - 8 * (await at(-1)) - (await at(2)) + (await at(-2))) / (12 * h);
  }
  return out as unknown as ParetoNbdParams;
}

let cdnow: CustomerSummary;
beforeAll(async () => {
  await specialFunctions();
  cdnow = loadCdnow();
});

describe("Pareto/NBD on the CDNOW sample", () => {
  let fit: ParetoNbdFit;
  let fitMs: number;
  beforeAll(async () => {
    const t0 = performance.now();
    fit = await fitParetoNbd(cdnow);
    fitMs = performance.now() - t0;
  });

  it("reads the 2357 customers", () => {
    expect(cdnow.ids.length).toBe(2357);
    expect(cdnow.ids[0]).toBe("1");
    expect([cdnow.frequency[0], cdnow.recency[0], cdnow.T[0]]).toEqual([2, 30.43, 38.86]);
  });

  it("has log-likelihood −9595.0 at the published parameters", async () => {
    const ll = await paretoNbdLogLikelihood(PUBLISHED, cdnow);
    expect(ll.toFixed(1)).toBe("-9595.0");
    // mpmath, over the 1016 distinct (x, t_x, T): −9594.973957797654.
    expect(relative(ll, -9594.973957797654)).toBeLessThan(1e-12);
  });

  it("fits the published parameters to 3 significant digits, and lifetimes' log-likelihood", () => {
    expect(fit.converged).toBe(true);
    for (const k of KEYS) {
      expect(fit.params[k].toPrecision(3), k).toBe(PUBLISHED[k].toPrecision(3));
      expect(relative(fit.params[k], PUBLISHED[k]), k).toBeLessThan(5e-3);
    }
    expect(fit.logLikelihood.toFixed(1)).toBe("-9595.0");
    expect(Math.abs(fit.logLikelihood - -9594.97393)).toBeLessThan(1e-5);
    // The maximum is above the published (rounded) parameters' LL.
    expect(fit.logLikelihood).toBeGreaterThan(-9594.973957797654);
  });

  it("is fast and takes a reasonable number of iterations", () => {
    expect(fit.iterations).toBeGreaterThan(5);
    expect(fit.iterations).toBeLessThan(200);
    expect(fitMs).toBeLessThan(2000);
  });

  it("gives finite, positive standard errors that match an independent Hessian", () => {
    const se = fit.standardErrors;
    expect(se).not.toBeNull();
    // √diag of the inverse of a central-difference Hessian of scipy's LL at the optimum.
    const reference: ParetoNbdParams = { r: 0.04762752, alpha: 0.84271273, s: 0.1872668, beta: 6.21057613 };
    for (const k of KEYS) {
      expect(Number.isFinite(se![k]) && se![k] > 0, k).toBe(true);
      expect(relative(se![k], reference[k]), k).toBeLessThan(2e-3);
    }
  });

  it("reaches the same optimum from another start", async () => {
    const other = await fitParetoNbd(cdnow, { start: { r: 1, alpha: 1, s: 1, beta: 1 } });
    expect(other.converged).toBe(true);
    for (const k of KEYS) expect(relative(other.params[k], fit.params[k]), k).toBeLessThan(1e-4);
    expect(Math.abs(other.logLikelihood - fit.logLikelihood)).toBeLessThan(1e-6);
  });

  it("has an analytic gradient equal to finite differences of the log-likelihood", async () => {
    for (const params of [
      PUBLISHED,
      { r: 1, alpha: 1, s: 1, beta: 1 },
      { r: 0.2, alpha: 200, s: 3, beta: 2 },
      { r: 3, alpha: 2, s: 0.1, beta: 500 },
    ]) {
      const analytic = await paretoNbdLogLikelihoodGradient(params, cdnow);
      const numeric = await numericGradient(params, cdnow);
      for (const k of KEYS) {
        // In φ = log θ, the scale the optimiser works in.
        const scale = Math.max(1, Math.abs(numeric[k] * params[k]));
        expect(Math.abs(analytic[k] - numeric[k]) * params[k], `${k} at ${JSON.stringify(params)}`).toBeLessThan(1e-6 * scale);
      }
    }
  });

  it("shrinks the parameters under a penalty and reports the unpenalised log-likelihood", async () => {
    const penalizer = 0.1;
    const penalised = await fitParetoNbd(cdnow, { penalizer });
    expect(penalised.converged).toBe(true);
    const sumOfSquares = (p: ParetoNbdParams): number => KEYS.reduce((sum, k) => sum + p[k] ** 2, 0);
    expect(sumOfSquares(penalised.params)).toBeLessThan(sumOfSquares(fit.params) - 10);
    expect(penalised.logLikelihood).toBeCloseTo(await paretoNbdLogLikelihood(penalised.params, cdnow), 8);
    expect(penalised.logLikelihood).toBeLessThan(fit.logLikelihood - 0.1);
    // And it is the better of the two for the penalised objective.
    const objective = (f: ParetoNbdFit): number => f.logLikelihood - penalizer * sumOfSquares(f.params);
    expect(objective(penalised)).toBeGreaterThan(objective(fit));
    await expect(fitParetoNbd(cdnow, { penalizer: -1 })).rejects.toThrow(/penalizer/);
  });

  it("predicts probabilities in [0, 1] and finite, non-negative expectations for every customer", async () => {
    const predictor = await paretoNbdPredictor(fit.params);
    let sumAlive = 0;
    let sumNext = 0;
    for (let i = 0; i < cdnow.ids.length; i++) {
      const [x, tx, T] = [cdnow.frequency[i]!, cdnow.recency[i]!, cdnow.T[i]!];
      const alive = predictor.probabilityAlive(x, tx, T);
      expect(alive >= 0 && alive <= 1, `customer ${cdnow.ids[i]}`).toBe(true);
      const next = predictor.conditionalExpectedPurchases(39, x, tx, T);
      expect(Number.isFinite(next) && next >= 0, `customer ${cdnow.ids[i]}`).toBe(true);
      expect(predictor.conditionalExpectedPurchases(0, x, tx, T)).toBe(0);
      sumAlive += alive;
      sumNext += next;
    }
    // Not all degenerate: some customers are likely gone, the total is in the range of the data.
    expect(sumAlive / cdnow.ids.length).toBeGreaterThan(0.2);
    expect(sumAlive / cdnow.ids.length).toBeLessThan(0.8);
    expect(sumNext).toBeGreaterThan(500);
    expect(sumNext).toBeLessThan(5000);
  });
});

describe("Pareto/NBD predictions against reference values", () => {
  it("P(alive) at the published parameters (β > α branch)", async () => {
    const p = await paretoNbdPredictor(PUBLISHED);
    // mpmath. A customer with no repeat purchase is not surely alive.
    expect(relative(p.probabilityAlive(0, 0, 38.86), 0.29516654448017127)).toBeLessThan(1e-10);
    expect(relative(p.probabilityAlive(2, 30.43, 38.86), 0.8691433920765972)).toBeLessThan(1e-10);
    expect(relative(p.probabilityAlive(1, 1.71, 38.86), 0.1679124646658576)).toBeLessThan(1e-10);
    expect(relative(p.probabilityAlive(29, 38, 39), 0.9835893608884835)).toBeLessThan(1e-10);
    expect(relative(p.probabilityAlive(0, 0, 0.5), 0.9745747907385087)).toBeLessThan(1e-10);
    // A purchase at the end of the window: alive for sure.
    expect(p.probabilityAlive(7, 7, 7)).toBe(1);
    expect(p.probabilityAlive(0, 0, 0)).toBe(1);
  });

  it("P(alive) and the log-likelihood where one of α, β dwarfs the other, and for heavy buyers", async () => {
    const cases: { params: ParetoNbdParams; x: number; tx: number; T: number; alive: number; ll: number }[] = [
      // α ≫ β (mpmath)
      {
        params: { r: 0.05, alpha: 100, s: 2.5, beta: 0.5 },
        x: 0,
        tx: 0,
        T: 38.86,
        alive: 1.7894934516925322e-5,
        ll: -0.000165061079388894,
      },
      {
        params: { r: 0.05, alpha: 100, s: 2.5, beta: 0.5 },
        x: 1,
        tx: 1.71,
        T: 38.86,
        alive: 0.0005465067702176325,
        ll: -11.348392576902926,
      },
      { params: { r: 0.05, alpha: 100, s: 2.5, beta: 0.5 }, x: 300, tx: 5, T: 40, alive: 1.6800362509835564e-39, ll: 2.304628161165446 },
      { params: { r: 0.05, alpha: 100, s: 2.5, beta: 0.5 }, x: 5, tx: 39.999, T: 40, alive: 0.9999382716347938, ll: -35.42634072578467 },
      // β ≫ α
      { params: { r: 2.5, alpha: 0.5, s: 0.05, beta: 100 }, x: 0, tx: 0, T: 38.86, alive: 0.09780275452975298, ll: -8.606355396714758 },
      { params: { r: 2.5, alpha: 0.5, s: 0.05, beta: 100 }, x: 1000, tx: 20, T: 40, alive: 4.221081843238107e-292, ll: 2880.81683737444 },
      // Where cephes' hyp2f1 gives NaN: 2F1(1, 200.5; 202.5; 0.927), c − a − b = s = 1 and c > 171.
      { params: { r: 0.5, alpha: 20, s: 1, beta: 1 }, x: 200, tx: 0.5, T: 10, alive: 1.57005142897555e-33, ll: 252.7039341002448 },
      // s = 1 and a heavy buyer at the published parameters
      { params: { r: 0.7, alpha: 3, s: 1, beta: 40 }, x: 1, tx: 1.71, T: 38.86, alive: 0.11996086204510724, ll: -4.494213496114398 },
      { params: PUBLISHED, x: 1000, tx: 20, T: 40, alive: 2.641424268388424e-216, ll: 2479.7023704654857 },
    ];
    for (const c of cases) {
      const label = JSON.stringify(c);
      const p = await paretoNbdPredictor(c.params);
      expect(relative(p.probabilityAlive(c.x, c.tx, c.T), c.alive), label).toBeLessThan(1e-9);
      const ll = await paretoNbdLogLikelihood(c.params, oneCustomer(c.x, c.tx, c.T));
      expect(Math.abs(ll - c.ll) / Math.max(1, Math.abs(c.ll)), label).toBeLessThan(1e-11);
    }
  });

  it("copes with a recency a rounding error below T (G(t_x) − G(T) would cancel to nothing)", async () => {
    const p = await paretoNbdPredictor(PUBLISHED);
    for (const T of [38.86, 40, 1000]) {
      for (const gap of [1e-13, 1e-9, 1e-6]) {
        const alive = p.probabilityAlive(5, T - gap * T, T);
        expect(alive, `T ${T}, gap ${gap}`).toBeLessThan(1);
        // 1 − P(alive) ≈ B2 / B1 ≈ s·(T − t_x) / (β+T) for a short gap.
        expect(relative(1 - alive, (PUBLISHED.s * gap * T) / (PUBLISHED.beta + T)), `T ${T}, gap ${gap}`).toBeLessThan(1e-2);
        const ll = await paretoNbdLogLikelihood(PUBLISHED, oneCustomer(5, T - gap * T, T));
        expect(Math.abs(ll - (await paretoNbdLogLikelihood(PUBLISHED, oneCustomer(5, T, T))))).toBeLessThan(1e-5);
      }
    }
  });

  it("P(alive) by hand when α = β (the 2F1 argument is 0)", async () => {
    const params = { r: 0.8, alpha: 6, s: 1.7, beta: 6 };
    const p = await paretoNbdPredictor(params);
    for (const [x, tx, T] of [
      [0, 0, 20],
      [3, 12, 20],
      [12, 19.5, 20],
    ] as const) {
      // A0 = (α+t_x)^-(r+s+x) − (α+T)^-(r+s+x), so B2/B1 = s/(r+s+x)·[((α+T)/(α+t_x))^(r+s+x) − 1].
      const k = params.r + params.s + x;
      const byHand = 1 / (1 + (params.s / k) * (((params.alpha + T) / (params.alpha + tx)) ** k - 1));
      expect(relative(p.probabilityAlive(x, tx, T), byHand)).toBeLessThan(1e-12);
    }
  });

  it("P(alive) falls as T grows for a fixed history, and rises with t_x", async () => {
    const p = await paretoNbdPredictor(PUBLISHED);
    let previous = p.probabilityAlive(2, 30.43, 30.43);
    expect(previous).toBe(1);
    for (let T = 31; T <= 200; T += 1) {
      const alive = p.probabilityAlive(2, 30.43, T);
      expect(alive).toBeLessThan(previous);
      previous = alive;
    }
    expect(previous).toBeLessThan(0.2);
    previous = 0;
    for (let tx = 0; tx <= 38.86; tx += 2) {
      const alive = p.probabilityAlive(2, tx, 38.86);
      expect(alive).toBeGreaterThan(previous);
      previous = alive;
    }
  });

  it("E[X(t)] of a new customer: reference values, increasing in t, the s = 1 limit", async () => {
    const p = await paretoNbdPredictor(PUBLISHED);
    expect(p.expectedPurchases(0)).toBe(0);
    // mpmath
    expect(relative(p.expectedPurchases(1), 0.05101501580177941)).toBeLessThan(1e-12);
    expect(relative(p.expectedPurchases(39), 1.2137500571465465)).toBeLessThan(1e-12);
    expect(relative(p.expectedPurchases(52), 1.4738842728021224)).toBeLessThan(1e-12);
    expect(relative(p.expectedPurchases(1000), 7.437993385247244)).toBeLessThan(1e-12);
    let previous = 0;
    for (let t = 0.5; t <= 500; t *= 1.5) {
      const e = p.expectedPurchases(t);
      expect(e).toBeGreaterThan(previous);
      previous = e;
    }
    // s = 1: (r/α)·β·log(1 + t/β), and continuous across it.
    const one = { r: 0.7, alpha: 3, s: 1, beta: 40 };
    const atOne = (await paretoNbdPredictor(one)).expectedPurchases(10);
    expect(relative(atOne, (0.7 / 3) * 40 * Math.log(1 + 10 / 40))).toBeLessThan(1e-14);
    expect(relative((await paretoNbdPredictor({ ...one, s: 1 + 1e-9 })).expectedPurchases(10), atOne)).toBeLessThan(1e-8);
    expect(relative((await paretoNbdPredictor({ ...one, s: 1 - 1e-9 })).expectedPurchases(10), atOne)).toBeLessThan(1e-8);
  });

  it("conditional expectations: reference values and P(alive) times the posterior mean", async () => {
    const p = await paretoNbdPredictor(PUBLISHED);
    // mpmath, next 10 weeks
    expect(relative(p.conditionalExpectedPurchases(10, 2, 30.43, 38.86), 0.42450431934897137)).toBeLessThan(1e-10);
    expect(relative(p.conditionalExpectedPurchases(10, 1, 1.71, 38.86), 0.049891563525969386)).toBeLessThan(1e-10);
    expect(relative(p.conditionalExpectedPurchases(10, 0, 0, 38.86), 0.031240403667975893)).toBeLessThan(1e-10);
    // By hand: (r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)] · P(alive).
    const { r, alpha, s, beta } = PUBLISHED;
    const [x, tx, T, t] = [4, 20, 38.86, 26];
    const byHand =
      (((r + x) * (beta + T)) / ((alpha + T) * (s - 1))) * (1 - ((beta + T) / (beta + T + t)) ** (s - 1)) * p.probabilityAlive(x, tx, T);
    expect(relative(p.conditionalExpectedPurchases(t, x, tx, T), byHand)).toBeLessThan(1e-12);
    // More history and more time ahead mean more purchases.
    expect(p.conditionalExpectedPurchases(20, 2, 30.43, 38.86)).toBeGreaterThan(p.conditionalExpectedPurchases(10, 2, 30.43, 38.86));
    expect(p.conditionalExpectedPurchases(10, 5, 30.43, 38.86)).toBeGreaterThan(p.conditionalExpectedPurchases(10, 2, 30.43, 38.86));
  });

  it("rejects impossible inputs", async () => {
    const p = await paretoNbdPredictor(PUBLISHED);
    expect(() => p.probabilityAlive(1, 5, 4)).toThrow(RangeError);
    expect(() => p.probabilityAlive(-1, 0, 4)).toThrow(RangeError);
    expect(() => p.probabilityAlive(Number.NaN, 0, 4)).toThrow(RangeError);
    expect(() => p.expectedPurchases(-1)).toThrow(RangeError);
    await expect(paretoNbdPredictor({ ...PUBLISHED, s: 0 })).rejects.toThrow(/s must be/);
    await expect(paretoNbdLogLikelihood({ ...PUBLISHED, alpha: Number.POSITIVE_INFINITY }, cdnow)).rejects.toThrow(/alpha/);
    await expect(paretoNbdLogLikelihood(PUBLISHED, oneCustomer(2, 10, 5))).rejects.toThrow(/customer c/);
    await expect(
      fitParetoNbd({ ids: [], frequency: new Float64Array(), recency: new Float64Array(), T: new Float64Array() }),
    ).rejects.toThrow(/no customers/);
  });
});

describe("Pareto/NBD on simulated data", () => {
  /** mulberry32: a small seeded generator, so the data set is the same on every run. */
  function generator(seed: number): () => number {
    let state = seed;
    return () => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function simulate(truth: ParetoNbdParams, n: number, seed: number): CustomerSummary {
    const uniform = generator(seed);
    const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
    // Marsaglia & Tsang, with the boost for shape < 1.
    const gamma = (shape: number): number => {
      if (shape < 1) return gamma(shape + 1) * uniform() ** (1 / shape);
      const d = shape - 1 / 3;
      const c = 1 / Math.sqrt(9 * d);
      for (;;) {
        const z = normal();
        const v = (1 + c * z) ** 3;
        if (v > 0 && Math.log(1 - uniform()) < 0.5 * z * z + d - d * v + d * Math.log(v)) return d * v;
      }
    };
    const frequency = new Float64Array(n);
    const recency = new Float64Array(n);
    const T = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const lambda = gamma(truth.r) / truth.alpha;
      const mu = gamma(truth.s) / truth.beta;
      T[i] = 20 + 32 * uniform();
      const end = Math.min(T[i]!, -Math.log(1 - uniform()) / mu);
      for (let t = -Math.log(1 - uniform()) / lambda; t <= end; t += -Math.log(1 - uniform()) / lambda) {
        frequency[i]!++;
        recency[i] = t;
      }
    }
    return { ids: Array.from({ length: n }, (_, i) => String(i)), frequency, recency, T };
  }

  it("recovers the parameters when α is ten times β (the 2F1 argument near 1 for early buyers)", async () => {
    const truth = { r: 1, alpha: 20, s: 0.5, beta: 2 };
    const fit = await fitParetoNbd(simulate(truth, 4000, 42));
    expect(fit.converged).toBe(true);
    expect(fit.standardErrors).not.toBeNull();
    for (const k of KEYS) {
      const se = fit.standardErrors![k];
      expect(Math.abs(fit.params[k] - truth[k]), `${k}: ${fit.params[k]} ± ${se}`).toBeLessThan(3 * se);
      expect(se / truth[k], k).toBeLessThan(0.5);
    }
    const analytic = await paretoNbdLogLikelihoodGradient(fit.params, simulate(truth, 500, 7));
    const numeric = await numericGradient(fit.params, simulate(truth, 500, 7));
    for (const k of KEYS)
      expect(Math.abs(analytic[k] - numeric[k]) * fit.params[k], k).toBeLessThan(1e-6 * Math.max(1, Math.abs(numeric[k] * fit.params[k])));
  });
});
