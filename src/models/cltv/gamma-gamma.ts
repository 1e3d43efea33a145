import { maximize, namedFit, penalizedObjective, type NamedFit, type Objective } from "../optimize.js";
import { specialFunctions, type SpecialFunctions } from "../special.js";
import type { CustomerSummary } from "./summary.js";

/** Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"); fit on customers with x > 0. */
export interface GammaGammaParams {
  readonly p: number;
  readonly q: number;
  readonly v: number;
}

export interface GammaGammaFit extends NamedFit<GammaGammaParams> {
  /** Customers the fit used (x > 0). */
  readonly customers: number;
}

const toParams = ([p, q, v]: readonly number[]): GammaGammaParams => ({ p: p!, q: q!, v: v! });

/** The repeat buyers: x > 0 and a mean spend > 0. */
function repeatBuyers(data: CustomerSummary): { x: number[]; m: number[] } {
  const money = data.monetaryValue;
  if (!money) throw new Error("gamma-gamma needs monetary values");
  const x: number[] = [];
  const m: number[] = [];
  for (let i = 0; i < data.frequency.length; i++) {
    if (data.frequency[i]! > 0 && money[i]! > 0) {
      x.push(data.frequency[i]!);
      m.push(money[i]!);
    }
  }
  return { x, m };
}

/**
 * −LL over φ = log(p, q, v). Per repeat buyer with x purchases of mean m:
 *   LL = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(xm+v)
 */
function objective(s: SpecialFunctions, x: readonly number[], m: readonly number[], penalizer: number): Objective {
  // Frequencies take few distinct values: the gamma terms are computed once per value.
  const distinct = [...new Set(x)];
  const slot = new Map(distinct.map((value, k) => [value, k]));
  const slotOf = Int32Array.from(x, (value) => slot.get(value)!);
  const lnX = Float64Array.from(x, Math.log);
  const lnM = Float64Array.from(m, Math.log);
  const lg = new Float64Array(distinct.length);
  const psiDiff = new Float64Array(distinct.length);
  const psiSum = new Float64Array(distinct.length);
  return penalizedObjective((theta, withGradient) => {
    const [p, q, v] = theta as [number, number, number];
    distinct.forEach((xi, k) => {
      lg[k] = s.gammaln(p * xi + q) - s.gammaln(p * xi);
      if (withGradient) {
        psiSum[k] = s.digamma(p * xi + q);
        psiDiff[k] = psiSum[k]! - s.digamma(p * xi);
      }
    });
    let ll = 0;
    let gp = 0;
    let gq = 0;
    let gv = 0;
    const lnV = Math.log(v);
    const lnGammaQ = s.gammaln(q);
    const psiQ = withGradient ? s.digamma(q) : 0;
    for (let i = 0; i < x.length; i++) {
      const xi = x[i]!;
      const mi = m[i]!;
      const k = slotOf[i]!;
      const px = p * xi;
      const lnXmV = Math.log(xi * mi + v);
      ll += lg[k]! - lnGammaQ + q * lnV + (px - 1) * lnM[i]! + px * lnX[i]! - (px + q) * lnXmV;
      if (!withGradient) continue;
      gp += xi * (psiDiff[k]! + lnM[i]! + lnX[i]! - lnXmV);
      gq += psiSum[k]! - psiQ + lnV - lnXmV;
      gv += q / v - (px + q) / (xi * mi + v);
    }
    return { ll, gradient: [gp, gq, gv] };
  }, penalizer);
}

export async function gammaGammaLogLikelihood(params: GammaGammaParams, data: CustomerSummary): Promise<number> {
  const s = await specialFunctions();
  const { x, m } = repeatBuyers(data);
  return -objective(s, x, m, 0).value([params.p, params.q, params.v].map(Math.log));
}

export async function fitGammaGamma(
  data: CustomerSummary,
  options: { penalizer?: number; start?: GammaGammaParams } = {},
): Promise<GammaGammaFit> {
  const s = await specialFunctions();
  const { x, m } = repeatBuyers(data);
  const start = options.start ?? { p: 1, q: 1, v: 1 };
  const fit = maximize(objective(s, x, m, options.penalizer ?? 0), [start.p, start.q, start.v], { n: x.length });
  return { ...namedFit(fit, toParams), customers: x.length };
}

/** E[M | x, m̄]: the expected mean spend per purchase of a customer (the population mean pv/(q−1) when x = 0). */
export function expectedSpend(params: GammaGammaParams, x: number, m: number): number {
  const { p, q, v } = params;
  return (p * (v + x * m)) / (p * x + q - 1);
}
