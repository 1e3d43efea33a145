import { maximize, namedFit, penalizedObjective, type NamedFit } from "../optimize.js";
import { specialFunctions, type SpecialFunctions } from "../special.js";
import type { CustomerSummary } from "./summary.js";

/**
 * The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987). While alive a customer buys as a
 * Poisson process of rate λ ~ Gamma(r, α); the lifetime is exponential with rate μ ~ Gamma(s, β).
 * Formulas follow Fader, Hardie & Lee, "A Note on Deriving the Pareto/NBD Model and Related
 * Expressions" (2005). Time is in the unit of the summary (α and β are in that unit too).
 *
 * For a customer with x repeat purchases, the last at t_x, observed for T:
 *
 *   L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^-(r+x) (β+T)^-s  +  s·J ],
 *   J = ∫_{t_x}^{T} (α+y)^-a (β+y)^-b dy,   a = r+x, b = s+1,
 *
 * where s·J is FHL's (s / (r+s+x))·A0: J = G(t_x) − G(T) with
 *
 *   G(y) = ∫_y^∞ (α+u)^-a (β+u)^-b du = (P+y)^-p (Q+y)^-(q-1) / (p+q-1) · 2F1(1, p; p+q; z),  z = (P−Q)/(P+y),
 *
 * P = max(α, β) with its exponent p (a for α, b for β) and Q = min(α, β) with q, so z ∈ [0, 1).
 * That is FHL's 2F1(r+s+x, ·; r+s+x+1; z) (the branch on the larger of α, β) after Euler's
 * transformation, which keeps the 2F1 within [1, 1/(1−z)]: no overflow for heavy buyers.
 * Everything is carried in logs.
 *
 * cephes' hyp2f1 is called only where it sums its power series, z ≤ Z_MAX. Nearer 1 it switches
 * to transformations that return NaN or throw (Γ overflow once p+q > 171, "partial loss of
 * precision" near integer s), and every throw leaks WebAssembly stack, breaking the instance after
 * some 60,000. So where z > Z_MAX (one of α, β over ~7 times the other, y small) J is integrated
 * numerically (Gauss–Legendre panels in log space). The gradient is analytic: derivatives under the
 * integral sign there, and elsewhere a power series of 2F1(1, p; c; z) that also gives its
 * derivatives in p and c.
 */
export interface ParetoNbdParams {
  readonly r: number;
  readonly alpha: number;
  readonly s: number;
  readonly beta: number;
}

/** A Pareto/NBD fit; `logLikelihood` is without the penalty, standard errors from the penalised objective. */
export type ParetoNbdFit = NamedFit<ParetoNbdParams>;

export interface ParetoNbdPredictor {
  /** E[X(t)]: expected purchases in (0, t] of a new customer. */
  expectedPurchases(t: number): number;
  /** E[X(T, T+t) | x, t_x, T]: expected purchases in the next t for a customer with that history. */
  conditionalExpectedPurchases(t: number, x: number, tx: number, T: number): number;
  /** P(alive at T | x, t_x, T). */
  probabilityAlive(x: number, tx: number, T: number): number;
}

/**
 * Maximum likelihood (BFGS on log-parameters, analytic gradient). `penalizer` subtracts
 * penalizer · (r² + α² + s² + β²) from the total LL in the objective; `logLikelihood` is reported
 * without it.
 */
export async function fitParetoNbd(
  summary: CustomerSummary,
  options: { penalizer?: number; start?: ParetoNbdParams } = {},
): Promise<ParetoNbdFit> {
  const sf = await specialFunctions();
  const data = compress(summary);
  if (data.n === 0) throw new RangeError("Pareto/NBD: the summary has no customers");
  const penalizer = options.penalizer ?? 0;
  if (!(penalizer >= 0 && Number.isFinite(penalizer)))
    throw new RangeError(`Pareto/NBD: penalizer must be a finite number ≥ 0, got ${penalizer}`);
  const start = options.start ?? defaultStart(data);
  checkParams(start);

  // An infinite or undefined LL (far outside the data) is just a very bad point to the optimizer.
  const objective = penalizedObjective((theta, withGradient) => {
    const ll = totalLogLikelihood(sf, theta, data);
    return { ll: Number.isFinite(ll) ? ll : -Infinity, gradient: withGradient ? totalGradient(sf, theta, data) : [] };
  }, penalizer);
  return namedFit(maximize(objective, [start.r, start.alpha, start.s, start.beta], { n: data.n }), toParams);
}

/** The total log-likelihood of the summary at `params`. */
export async function paretoNbdLogLikelihood(params: ParetoNbdParams, summary: CustomerSummary): Promise<number> {
  const sf = await specialFunctions();
  checkParams(params);
  return totalLogLikelihood(sf, [params.r, params.alpha, params.s, params.beta], compress(summary));
}

/** ∂LL/∂θ of the total log-likelihood: the gradient the fit uses, in θ rather than log θ. */
export async function paretoNbdLogLikelihoodGradient(params: ParetoNbdParams, summary: CustomerSummary): Promise<ParetoNbdParams> {
  const sf = await specialFunctions();
  checkParams(params);
  return toParams(totalGradient(sf, [params.r, params.alpha, params.s, params.beta], compress(summary)));
}

export async function paretoNbdPredictor(params: ParetoNbdParams): Promise<ParetoNbdPredictor> {
  const sf = await specialFunctions();
  checkParams(params);
  const { r, alpha, s, beta } = params;
  const probabilityAlive = (x: number, tx: number, T: number): number => {
    checkCustomer(x, tx, T, "");
    const a = r + x;
    const logB1 = -a * Math.log(alpha + T) - s * Math.log(beta + T);
    const logB2 = Math.log(s) + integral(sf, a, s + 1, alpha, beta, tx, T, false, newMemo()).log;
    // B1 / (B1 + B2): the part of the likelihood in which the customer is alive at T.
    return logB2 === -Infinity ? 1 : 1 / (1 + Math.exp(logB2 - logB1));
  };
  return {
    expectedPurchases(t) {
      checkHorizon(t);
      return meanPurchases(r, alpha, s, beta, t);
    },
    conditionalExpectedPurchases(t, x, tx, T) {
      checkHorizon(t);
      // Alive at T, the posterior is λ ~ Gamma(r+x, α+T), μ ~ Gamma(s, β+T), independent.
      return probabilityAlive(x, tx, T) * meanPurchases(r + x, alpha + T, s, beta + T, t);
    },
    probabilityAlive,
  };
}

// ---------------------------------------------------------------------------------------------

/** The distinct (x, t_x, T) with their counts, sorted so that rows sharing x and t_x are adjacent. */
interface Compressed {
  readonly x: Float64Array;
  readonly tx: Float64Array;
  readonly T: Float64Array;
  readonly count: Float64Array;
  /** Number of customers. */
  readonly n: number;
}

function compress(summary: CustomerSummary): Compressed {
  const n = summary.frequency.length;
  if (summary.recency.length !== n || summary.T.length !== n) throw new RangeError("Pareto/NBD: frequency, recency and T differ in length");
  const rows = new Map<string, { x: number; tx: number; T: number; count: number }>();
  for (let i = 0; i < n; i++) {
    const x = summary.frequency[i]!;
    const tx = summary.recency[i]!;
    const T = summary.T[i]!;
    checkCustomer(x, tx, T, ` (customer ${summary.ids[i] ?? i})`);
    const key = `${x},${tx},${T}`;
    const row = rows.get(key);
    if (row) row.count++;
    else rows.set(key, { x, tx, T, count: 1 });
  }
  const sorted = [...rows.values()].sort((u, v) => u.x - v.x || u.tx - v.tx || u.T - v.T);
  return {
    x: Float64Array.from(sorted, (row) => row.x),
    tx: Float64Array.from(sorted, (row) => row.tx),
    T: Float64Array.from(sorted, (row) => row.T),
    count: Float64Array.from(sorted, (row) => row.count),
    n,
  };
}

/** A start free of the time unit: r = s = 1, prior mean purchase rate x̄ / T̄, mean lifetime T̄. */
function defaultStart(data: Compressed): ParetoNbdParams {
  let sumX = 0;
  let sumT = 0;
  for (let i = 0; i < data.x.length; i++) {
    sumX += data.count[i]! * data.x[i]!;
    sumT += data.count[i]! * data.T[i]!;
  }
  const meanT = sumT > 0 ? sumT / data.n : 1;
  return { r: 1, alpha: meanT / Math.max(sumX / data.n, 0.1), s: 1, beta: meanT };
}

function totalLogLikelihood(sf: SpecialFunctions, theta: readonly number[], data: Compressed): number {
  const [r, alpha, s, beta] = theta as [number, number, number, number];
  const common = -sf.gammaln(r) + r * Math.log(alpha) + s * Math.log(beta);
  const memo = newMemo();
  let total = 0;
  for (let i = 0; i < data.x.length; i++) {
    const x = data.x[i]!;
    const T = data.T[i]!;
    const a = r + x;
    const logB1 = -a * Math.log(alpha + T) - s * Math.log(beta + T);
    const logB2 = Math.log(s) + integral(sf, a, s + 1, alpha, beta, data.tx[i]!, T, false, memo).log;
    total += data.count[i]! * (sf.gammaln(a) + common + logAddExp(logB1, logB2));
  }
  return total;
}

/** ∂LL/∂(r, α, s, β). */
function totalGradient(sf: SpecialFunctions, theta: readonly number[], data: Compressed): number[] {
  const [r, alpha, s, beta] = theta as [number, number, number, number];
  const g = [0, 0, 0, 0];
  const digammaR = sf.digamma(r);
  const memo = newMemo();
  for (let i = 0; i < data.x.length; i++) {
    const x = data.x[i]!;
    const T = data.T[i]!;
    const c = data.count[i]!;
    const a = r + x;
    const b = s + 1;
    // log L = log Γ(r+x) − log Γ(r) + r log α + s log β + log(B1 + B2).
    const d = [sf.digamma(a) - digammaR + Math.log(alpha), r / alpha, Math.log(beta), s / beta];
    // ∂ log B1 / ∂(r, α, s, β), B1 = (α+T)^-(r+x) (β+T)^-s.
    const d1 = [-Math.log(alpha + T), -a / (alpha + T), -Math.log(beta + T), -s / (beta + T)];
    const J = integral(sf, a, b, alpha, beta, data.tx[i]!, T, true, memo);
    if (J.log === -Infinity) {
      for (let k = 0; k < 4; k++) g[k]! += c * (d[k]! + d1[k]!);
      continue;
    }
    const logB1 = -a * Math.log(alpha + T) - s * Math.log(beta + T);
    const logB2 = Math.log(s) + J.log;
    const w1 = 1 / (1 + Math.exp(logB2 - logB1));
    const w2 = 1 / (1 + Math.exp(logB1 - logB2));
    // ∂ log B2 / ∂(r, α, s, β), B2 = s·J(a, b): ∂J/∂α = −a·J(a+1, b), ∂J/∂β = −b·J(a, b+1).
    const d2 = [J.dA, -a * J.upA, 1 / s + J.dB, -b * J.upB];
    for (let k = 0; k < 4; k++) g[k]! += c * (d[k]! + w1 * d1[k]! + w2 * d2[k]!);
  }
  return g;
}

/**
 * log I for an integral I(a, b) of (α+y)^-a (β+y)^-b (J over an interval, or the tail G), and,
 * when asked for, what the gradient needs: ∂ log I / ∂a, ∂ log I / ∂b, I(a+1, b) / I, I(a, b+1) / I.
 */
interface LogIntegral {
  readonly log: number;
  readonly dA: number;
  readonly dB: number;
  readonly upA: number;
  readonly upB: number;
}

const EMPTY: LogIntegral = { log: -Infinity, dA: 0, dB: 0, upA: 0, upB: 0 };

/**
 * The last tail G(y) and quadrature computed in one pass over the rows: consecutive rows with the
 * same x and t_x share G(t_x) and, when one of α, β dwarfs the other, the quadrature from t_x.
 */
interface Memo {
  tail: { a: number; b: number; y: number; value: LogIntegral } | undefined;
  quadrature: { a: number; b: number; lo: number; hi: number; value: LogIntegral } | undefined;
}

function newMemo(): Memo {
  return { tail: undefined, quadrature: undefined };
}

/** Above this 2F1 argument, integrate numerically instead of calling cephes (see the module comment). */
const Z_MAX = 0.85;

/**
 * J = ∫_{lo}^{hi} (α+y)^-a (β+y)^-b dy (a > 0, b > 1; α, β fixed across a memo's use). By
 * quadrature where z(y) > Z_MAX and on intervals so short that G(lo) − G(hi) would cancel;
 * elsewhere as G(lo) − G(hi).
 */
function integral(
  sf: SpecialFunctions,
  a: number,
  b: number,
  alpha: number,
  beta: number,
  lo: number,
  hi: number,
  derivatives: boolean,
  memo: Memo,
): LogIntegral {
  if (!(hi > lo)) return EMPTY;
  const P = Math.max(alpha, beta);
  const Q = Math.min(alpha, beta);
  // z(y) > Z_MAX  ⇔  y < yStar.
  const yStar = ((1 - Z_MAX) * P - Q) / Z_MAX;
  let first = EMPTY;
  let from = lo;
  if (yStar > lo) {
    const to = Math.min(hi, yStar);
    const m = memo.quadrature;
    if (m && m.a === a && m.b === b && m.lo === lo && m.hi === to) first = m.value;
    else {
      first = quadrature(a, b, alpha, beta, lo, to);
      memo.quadrature = { a, b, lo, hi: to, value: first };
    }
    from = to;
  }
  if (!(hi > from)) return first;
  let second: LogIntegral;
  if ((a / (alpha + from) + b / (beta + from)) * (hi - from) < 0.1) {
    second = quadrature(a, b, alpha, beta, from, hi);
  } else {
    const m = memo.tail;
    let gFrom: LogIntegral;
    if (m && m.a === a && m.b === b && m.y === from) gFrom = m.value;
    else {
      gFrom = tail(sf, a, b, alpha, beta, from, derivatives);
      memo.tail = { a, b, y: from, value: gFrom };
    }
    second = difference(gFrom, tail(sf, a, b, alpha, beta, hi, derivatives));
  }
  return combine(first, second);
}

/** I1 + I2. */
function combine(first: LogIntegral, second: LogIntegral): LogIntegral {
  if (second.log === -Infinity) return first;
  if (first.log === -Infinity) return second;
  const log = logAddExp(first.log, second.log);
  const w1 = Math.exp(first.log - log);
  const w2 = Math.exp(second.log - log);
  return {
    log,
    dA: w1 * first.dA + w2 * second.dA,
    dB: w1 * first.dB + w2 * second.dB,
    upA: w1 * first.upA + w2 * second.upA,
    upB: w1 * first.upB + w2 * second.upB,
  };
}

/** G(lo) − G(hi), lo < hi. */
function difference(gLo: LogIntegral, gHi: LogIntegral): LogIntegral {
  const delta = gHi.log - gLo.log;
  const ratio = Math.exp(delta);
  const rest = -Math.expm1(delta);
  return {
    log: gLo.log + log1mExp(delta),
    dA: (gLo.dA - ratio * gHi.dA) / rest,
    dB: (gLo.dB - ratio * gHi.dB) / rest,
    upA: (gLo.upA - ratio * gHi.upA) / rest,
    upB: (gLo.upB - ratio * gHi.upB) / rest,
  };
}

/**
 * G(y) = (P+y)^-p (Q+y)^-(q-1) / (p+q-1) · F, F = 2F1(1, p; p+q; z), z = (P−Q)/(P+y) ≤ Z_MAX:
 * cephes' F for the value alone, else the series with its derivatives.
 */
function tail(sf: SpecialFunctions, a: number, b: number, alpha: number, beta: number, y: number, derivatives: boolean): LogIntegral {
  const geq = alpha >= beta;
  const P = geq ? alpha : beta;
  const p = geq ? a : b;
  const Q = geq ? beta : alpha;
  const q = geq ? b : a;
  const z = (P - Q) / (P + y);
  const logP = Math.log(P + y);
  const logQ = Math.log(Q + y);
  const base = -p * logP - (q - 1) * logQ - Math.log(p + q - 1);
  if (!derivatives) return { ...EMPTY, log: base + Math.log(sf.hyp2f1(1, p, p + q, z)) };
  const F = hyp2f1Series(p, p + q, z);
  // ∂/∂p at fixed q moves c = p+q too.
  const dp = -logP - 1 / (p + q - 1) + (F.dp + F.dc) / F.value;
  const dq = -logQ - 1 / (p + q - 1) + F.dc / F.value;
  // G(p+1, q) / G and G(p, q+1) / G.
  const shrink = (p + q - 1) / (p + q) / F.value;
  const upP = (shrink * F.upBoth) / (P + y);
  const upQ = (shrink * F.upC) / (Q + y);
  const log = base + Math.log(F.value);
  return geq ? { log, dA: dp, dB: dq, upA: upP, upB: upQ } : { log, dA: dq, dB: dp, upA: upQ, upB: upP };
}

/**
 * The power series of 2F1(1, p; c; z) = Σ (p)_n / (c)_n zⁿ for 0 ≤ z ≤ Z_MAX and 0 < p < c (all
 * terms positive, ratio below z), with ∂/∂p and ∂/∂c, 2F1(1, p+1; c+1; z) and 2F1(1, p; c+1; z).
 */
function hyp2f1Series(p: number, c: number, z: number): { value: number; dp: number; dc: number; upBoth: number; upC: number } {
  let term = 1;
  let termBoth = 1;
  let termC = 1;
  let value = 1;
  let upBoth = 1;
  let upC = 1;
  let dp = 0;
  let dc = 0;
  // Σ_{k<n} 1/(p+k) and Σ_{k<n} 1/(c+k): ∂ log (p)_n / ∂p and ∂ log (c)_n / ∂c.
  let hp = 0;
  let hc = 0;
  for (let n = 0; n < 100_000; n++) {
    term *= ((p + n) / (c + n)) * z;
    termBoth *= ((p + 1 + n) / (c + 1 + n)) * z;
    termC *= ((p + n) / (c + 1 + n)) * z;
    hp += 1 / (p + n);
    hc += 1 / (c + n);
    value += term;
    upBoth += termBoth;
    upC += termC;
    dp += term * hp;
    dc -= term * hc;
    if (term * (1 + hp + hc) < 1e-18 * value && termBoth < 1e-18 * upBoth) break;
  }
  return { value, dp, dc, upBoth, upC };
}

// 10-point Gauss–Legendre: the non-negative nodes on [−1, 1] and the logs of their weights.
const GL_NODES = [0.14887433898163122, 0.4333953941292472, 0.6794095682990244, 0.8650633666889845, 0.9739065285171717];
const GL_LOG_WEIGHTS = [0.2955242247147528, 0.2692667193099965, 0.219086362515982, 0.1494513491505804, 0.06667134430868814].map(Math.log);

/**
 * J over [lo, hi] by Gauss–Legendre panels in u = log(Q+y), Q = min(α, β), P = max(α, β): there
 * the integrand (P−Q+e^u)^-p e^((1−q)u) has no singularity within π of the real axis. Panels
 * march up from lo, each at most 1 wide in u and 1 / |its log-slope|; they stop once what is left
 * (the integrand decreases in y) cannot reach e^-40 of the sum. The derivatives come from the same
 * nodes: ∂J/∂a = −∫ log(α+y) f, J(a+1, b) = ∫ f / (α+y), and likewise for b.
 */
function quadrature(a: number, b: number, alpha: number, beta: number, lo: number, hi: number): LogIntegral {
  const geq = alpha >= beta;
  const P = geq ? alpha : beta;
  const p = geq ? a : b;
  const Q = geq ? beta : alpha;
  const q = geq ? b : a;
  const d = P - Q;
  // The integrand in u (dy = e^u du), in logs.
  const logG = (u: number): number => -p * Math.log(d + Math.exp(u)) + (1 - q) * u;
  const uHi = Math.log(Q + hi);
  // Sums of f, f·log(P+y), f·log(Q+y), f/(P+y), f/(Q+y) over the nodes, all scaled by e^-shift.
  let shift = -Infinity;
  let s0 = 0;
  let sLogP = 0;
  let sLogQ = 0;
  let sInvP = 0;
  let sInvQ = 0;
  const nodes = 2 * GL_NODES.length;
  const logTerm = new Float64Array(nodes);
  const logQ = new Float64Array(nodes);
  const logP = new Float64Array(nodes);
  let u = Math.log(Q + lo);
  for (let panel = 0; panel < 100_000 && u < uHi; panel++) {
    const eu = Math.exp(u);
    const slope = Math.abs(1 - q - (p * eu) / (d + eu));
    const width = Math.min(uHi - u, 1, 1 / slope);
    const half = width / 2;
    const mid = u + half;
    const logHalf = Math.log(half);
    let max = -Infinity;
    for (let k = 0; k < nodes; k++) {
      const v = mid + half * (k % 2 === 0 ? -GL_NODES[k >> 1]! : GL_NODES[k >> 1]!);
      const lp = Math.log(d + Math.exp(v));
      const term = GL_LOG_WEIGHTS[k >> 1]! + logHalf - p * lp + (1 - q) * v;
      logQ[k] = v;
      logP[k] = lp;
      logTerm[k] = term;
      if (term > max) max = term;
    }
    if (max > shift) {
      const scale = Math.exp(shift - max);
      s0 *= scale;
      sLogP *= scale;
      sLogQ *= scale;
      sInvP *= scale;
      sInvQ *= scale;
      shift = max;
    }
    for (let k = 0; k < nodes; k++) {
      const e = Math.exp(logTerm[k]! - shift);
      s0 += e;
      sLogP += e * logP[k]!;
      sLogQ += e * logQ[k]!;
      sInvP += e * Math.exp(-logP[k]!);
      sInvQ += e * Math.exp(-logQ[k]!);
    }
    u = width === uHi - u ? uHi : u + width;
    // What is left in y is at most f(y)·(hi − y), log f(y) = logG(u) − u.
    if (u < uHi && logG(u) - u + Math.log(Q + hi - Math.exp(u)) < shift + Math.log(s0) - 40) break;
  }
  if (!(s0 > 0)) return EMPTY;
  const log = shift + Math.log(s0);
  const dP = -sLogP / s0;
  const dQ = -sLogQ / s0;
  const upP = sInvP / s0;
  const upQ = sInvQ / s0;
  return geq ? { log, dA: dP, dB: dQ, upA: upP, upB: upQ } : { log, dA: dQ, dB: dP, upA: upQ, upB: upP };
}

/** E[X(t)] for λ ~ Gamma(r, α), μ ~ Gamma(s, β): (r/α)·β/(s−1)·[1 − (β/(β+t))^(s−1)], (r/α)·β·log(1 + t/β) at s = 1. */
function meanPurchases(r: number, alpha: number, s: number, beta: number, t: number): number {
  const L = Math.log1p(t / beta);
  const c = s - 1;
  return (r / alpha) * beta * (c === 0 ? L : -Math.expm1(-c * L) / c);
}

function logAddExp(u: number, v: number): number {
  if (u === -Infinity) return v;
  if (v === -Infinity) return u;
  return u > v ? u + Math.log1p(Math.exp(v - u)) : v + Math.log1p(Math.exp(u - v));
}

/** log(1 − e^d), d ≤ 0. */
function log1mExp(d: number): number {
  return d > -Math.LN2 ? Math.log(-Math.expm1(d)) : Math.log1p(-Math.exp(d));
}

function toParams(v: readonly number[]): ParetoNbdParams {
  return { r: v[0]!, alpha: v[1]!, s: v[2]!, beta: v[3]! };
}

function checkParams(p: ParetoNbdParams): void {
  for (const name of ["r", "alpha", "s", "beta"] as const) {
    const v = p[name];
    if (!(typeof v === "number" && v > 0 && Number.isFinite(v)))
      throw new RangeError(`Pareto/NBD: ${name} must be a finite number > 0, got ${String(v)}`);
  }
}

function checkCustomer(x: number, tx: number, T: number, who: string): void {
  if (!(x >= 0 && Number.isFinite(x))) throw new RangeError(`Pareto/NBD: frequency must be a finite number ≥ 0, got ${x}${who}`);
  if (!(tx >= 0 && Number.isFinite(T) && tx <= T))
    throw new RangeError(`Pareto/NBD: need 0 ≤ recency ≤ T, got recency ${tx}, T ${T}${who}`);
}

function checkHorizon(t: number): void {
  if (!(t >= 0 && Number.isFinite(t))) throw new RangeError(`Pareto/NBD: t must be a finite number ≥ 0, got ${t}`);
}
