import { maximize, namedFit, penalizedObjective, type NamedFit, type Objective } from "../optimize.js";
import { specialFunctions, type SpecialFunctions } from "../special.js";
import type { CustomerSummary } from "./summary.js";

/** BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way"). */
export interface BgNbdParams {
  readonly r: number;
  readonly alpha: number;
  readonly a: number;
  readonly b: number;
}

export type BgNbdFit = NamedFit<BgNbdParams>;

const toParams = ([r, alpha, a, b]: readonly number[]): BgNbdParams => ({ r: r!, alpha: alpha!, a: a!, b: b! });

/**
 * −LL and its gradient over φ = log(r, α, a, b). Per customer (x, t_x, T):
 *   LL = lnΓ(r+x) − lnΓ(r) + r ln α + lnΓ(a+b) + lnΓ(b+x) − lnΓ(b) − lnΓ(a+b+x)
 *        + ln( (α+T)^−(r+x) + [x>0] a/(b+x−1) (α+t_x)^−(r+x) )
 * The last term goes through log-sum-exp; its gradient weighs the two branches by their share.
 */
function objective(s: SpecialFunctions, data: CustomerSummary, penalizer: number): Objective {
  const { frequency: xs, recency: txs, T: Ts } = data;
  const n = xs.length;
  // Frequencies take few distinct values: the gamma terms are computed once per value, not per customer.
  const distinct = [...new Set(xs)];
  const slot = new Map(distinct.map((x, k) => [x, k]));
  const slotOf = Int32Array.from(xs, (x) => slot.get(x)!);
  const lgX = new Float64Array(distinct.length);
  const psiX = new Float64Array(distinct.length);
  return penalizedObjective((theta, withGradient) => {
    const [r, alpha, a, b] = theta as [number, number, number, number];
    let ll = 0;
    let gr = 0;
    let galpha = 0;
    let ga = 0;
    let gb = 0;
    const lnAlpha = Math.log(alpha);
    const common = r * lnAlpha + s.gammaln(a + b) - s.gammaln(r) - s.gammaln(b);
    const psiR = withGradient ? s.digamma(r) : 0;
    const psiB = withGradient ? s.digamma(b) : 0;
    const psiAB = withGradient ? s.digamma(a + b) : 0;
    // Per distinct x: lnΓ(r+x) + lnΓ(b+x) − lnΓ(a+b+x), and for the gradient ψ(r+x), ψ(b+x), ψ(a+b+x) packed below.
    const psiRX = new Float64Array(distinct.length);
    const psiBX = new Float64Array(distinct.length);
    distinct.forEach((x, k) => {
      lgX[k] = s.gammaln(r + x) + s.gammaln(b + x) - s.gammaln(a + b + x);
      if (withGradient) {
        psiRX[k] = s.digamma(r + x);
        psiBX[k] = s.digamma(b + x);
        psiX[k] = s.digamma(a + b + x);
      }
    });
    for (let i = 0; i < n; i++) {
      const x = xs[i]!;
      const tx = txs[i]!;
      const T = Ts[i]!;
      const k = slotOf[i]!;
      const a1 = lgX[k]! + common;
      const a3 = -(r + x) * Math.log(alpha + T);
      let tail = a3;
      let w4 = 0;
      let a4 = 0;
      if (x > 0) {
        a4 = Math.log(a) - Math.log(b + x - 1) - (r + x) * Math.log(alpha + tx);
        const m = Math.max(a3, a4);
        tail = m + Math.log(Math.exp(a3 - m) + Math.exp(a4 - m));
        w4 = Math.exp(a4 - tail);
      }
      ll += a1 + tail;
      if (!withGradient) continue;
      const w3 = 1 - w4;
      const psiABX = psiX[k]!;
      gr += psiRX[k]! - psiR + lnAlpha - w3 * Math.log(alpha + T) - (x > 0 ? w4 * Math.log(alpha + tx) : 0);
      galpha += r / alpha - w3 * ((r + x) / (alpha + T)) - (x > 0 ? w4 * ((r + x) / (alpha + tx)) : 0);
      ga += psiAB - psiABX + (x > 0 ? w4 / a : 0);
      gb += psiAB + psiBX[k]! - psiB - psiABX - (x > 0 ? w4 / (b + x - 1) : 0);
    }
    return { ll, gradient: [gr, galpha, ga, gb] };
  }, penalizer);
}

export async function bgNbdLogLikelihood(params: BgNbdParams, data: CustomerSummary): Promise<number> {
  const s = await specialFunctions();
  return -objective(s, data, 0).value([params.r, params.alpha, params.a, params.b].map(Math.log));
}

/** Maximum likelihood fit, with an optional L2 penalty on the parameters (as lifetimes' `penalizer_coef`). */
export async function fitBgNbd(data: CustomerSummary, options: { penalizer?: number; start?: BgNbdParams } = {}): Promise<BgNbdFit> {
  const s = await specialFunctions();
  const penalizer = options.penalizer ?? 0;
  const start = options.start ?? (await warmStart(data, penalizer)) ?? { r: 1, alpha: Math.max(1, mean(data.T)), a: 1, b: 1 };
  const fit = maximize(objective(s, data, penalizer), [start.r, start.alpha, start.a, start.b], { n: data.frequency.length });
  return namedFit(fit, toParams);
}

/** Past this many customers, a fit on an evenly spaced sample of them gives the start. */
const SAMPLE_ABOVE = 100_000;

/**
 * For big data: the optimum of a fit on every k-th customer is close to the full one, so BFGS on
 * all of them then needs a few iterations instead of dozens.
 */
async function warmStart(data: CustomerSummary, penalizer: number): Promise<BgNbdParams | null> {
  const n = data.frequency.length;
  if (n <= SAMPLE_ABOVE) return null;
  const step = Math.ceil(n / (SAMPLE_ABOVE / 2));
  const pick = <T extends Float64Array>(values: T): Float64Array => values.filter((_, i) => i % step === 0);
  const sample: CustomerSummary = {
    ids: [],
    frequency: pick(data.frequency),
    recency: pick(data.recency),
    T: pick(data.T),
  };
  const fit = await fitBgNbd(sample, { penalizer });
  return fit.converged ? fit.params : null;
}

function mean(values: Float64Array): number {
  let sum = 0;
  for (const v of values) sum += v;
  return values.length ? sum / values.length : 0;
}

/** What a fitted BG/NBD model predicts. Times are in the summary's unit. */
export interface BgNbdPredictor {
  /** E[X(t)]: purchases of a new customer in t periods. */
  expectedPurchases(t: number): number;
  /** E[Y(t) | x, t_x, T]: purchases of a customer with this history in the next t periods. */
  conditionalExpectedPurchases(t: number, x: number, tx: number, T: number): number;
  /** P(alive | x, t_x, T). */
  probabilityAlive(x: number, tx: number, T: number): number;
}

export async function bgNbdPredictor(p: BgNbdParams): Promise<BgNbdPredictor> {
  const s = await specialFunctions();
  const { r, alpha, a, b } = p;
  const probabilityAlive = (x: number, tx: number, T: number): number => {
    if (x === 0) return 1;
    // (α+T)/(α+t_x) raised to r+x, in logs: it overflows for long-lived frequent buyers.
    const log = Math.log(a / (b + x - 1)) + (r + x) * (Math.log(alpha + T) - Math.log(alpha + tx));
    return 1 / (1 + Math.exp(log));
  };
  return {
    expectedPurchases(t) {
      if (t <= 0) return 0;
      const z = t / (alpha + t);
      return ((a + b - 1) / (a - 1)) * (1 - Math.pow(alpha / (alpha + t), r) * s.hyp2f1(r, b, a + b - 1, z));
    },
    conditionalExpectedPurchases(t, x, tx, T) {
      if (t <= 0) return 0;
      const z = t / (alpha + T + t);
      const head = (a + b + x - 1) / (a - 1);
      const hyp = s.hyp2f1(r + x, b + x, a + b + x - 1, z);
      const tailLog = (r + x) * (Math.log(alpha + T) - Math.log(alpha + T + t));
      return head * (1 - Math.exp(tailLog) * hyp) * probabilityAlive(x, tx, T);
    },
    probabilityAlive,
  };
}
