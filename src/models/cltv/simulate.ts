import type { BgNbdParams } from "./bg-nbd.js";
import type { GammaGammaParams } from "./gamma-gamma.js";
import type { CustomerSummary } from "./summary.js";

/** A seeded uniform generator in [0, 1) (mulberry32): the same seed, the same customers. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Gamma(shape, rate) by Marsaglia & Tsang; shape < 1 through the boost Gamma(shape + 1)·U^(1/shape). */
export function gammaSample(random: () => number, shape: number, rate: number): number {
  if (shape < 1) return gammaSample(random, shape + 1, rate) * Math.pow(1 - random(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return (d * v) / rate;
  }
}

/**
 * Customers drawn from BG/NBD (and Gamma-Gamma spend, when given): each has a purchase rate
 * λ ~ Gamma(r, α) and a dropout probability p ~ Beta(a, b); after a first purchase at time 0,
 * purchases come at exponential intervals, and after each repeat purchase the customer leaves
 * with probability p. Observation lengths T are drawn uniformly from `observation`. With spend,
 * each customer's ν ~ Gamma(q, v) and each repeat purchase's value ~ Gamma(p, ν).
 */
export function simulateCustomers(
  n: number,
  model: BgNbdParams,
  options: { seed?: number; observation?: readonly [number, number]; spend?: GammaGammaParams } = {},
): CustomerSummary {
  const random = seededRandom(options.seed ?? 1);
  const [minT, maxT] = options.observation ?? [39, 78];
  const frequency = new Float64Array(n);
  const recency = new Float64Array(n);
  const T = new Float64Array(n);
  const monetaryValue = options.spend ? new Float64Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    const lambda = gammaSample(random, model.r, model.alpha);
    const g1 = gammaSample(random, model.a, 1);
    const dropout = g1 / (g1 + gammaSample(random, model.b, 1));
    const observed = minT + (maxT - minT) * random();
    const nu = options.spend ? gammaSample(random, options.spend.q, options.spend.v) : 0;
    let t = 0;
    let x = 0;
    let last = 0;
    let spent = 0;
    for (;;) {
      t += -Math.log(1 - random()) / lambda;
      if (t > observed) break;
      x++;
      last = t;
      if (options.spend) spent += gammaSample(random, options.spend.p, nu);
      if (random() < dropout) break;
    }
    frequency[i] = x;
    recency[i] = last;
    T[i] = observed;
    if (monetaryValue) monetaryValue[i] = x > 0 ? spent / x : 0;
  }
  const ids = Array.from({ length: n }, (_, i) => String(i + 1));
  return { ids, frequency, recency, T, ...(monetaryValue ? { monetaryValue } : {}) };
}
