import { Matrix, inverse } from "ml-matrix";
import numeric from "numeric";

/** A negative log-likelihood over log-parameters (positive parameters), with its gradient. */
export interface Objective {
  /** −LL at θ = exp(φ), as a function of φ. */
  value(phi: readonly number[]): number;
  /** ∂(−LL)/∂φ. */
  gradient(phi: readonly number[]): number[];
  /** Both in one pass over the data, when that is cheaper than two. */
  evaluate?(phi: readonly number[]): { value: number; gradient: number[] };
  /** The part of `value` that is a penalty, not −LL (0 when absent). */
  penalty?(phi: readonly number[]): number;
}

/**
 * The objective of a positive-parameter likelihood with an optional L2 penalty: −LL(θ) +
 * penalizer·Σθ² over φ = log θ, from `compute`, which gives LL and, when asked, ∂LL/∂θ.
 */
export function penalizedObjective(
  compute: (theta: readonly number[], withGradient: boolean) => { readonly ll: number; readonly gradient: readonly number[] },
  penalizer: number,
): Objective {
  const evaluate = (phi: readonly number[], withGradient: boolean): { value: number; gradient: number[] } => {
    const theta = phi.map(Math.exp);
    const { ll, gradient } = compute(theta, withGradient);
    const penalty = penalizer * theta.reduce((sum, v) => sum + v * v, 0);
    // d(−LL + penalty)/dφ = −θ ∂LL/∂θ + 2 penalizer θ².
    return { value: -ll + penalty, gradient: withGradient ? gradient.map((g, i) => -g * theta[i]! + 2 * penalizer * theta[i]! ** 2) : [] };
  };
  return {
    value: (phi) => evaluate(phi, false).value,
    gradient: (phi) => evaluate(phi, true).gradient,
    evaluate: (phi) => evaluate(phi, true),
    penalty: (phi) => penalizer * phi.reduce((sum, v) => sum + Math.exp(v) ** 2, 0),
  };
}

export interface FitResult {
  /** The parameters (θ, not their logs). */
  readonly params: number[];
  readonly logLikelihood: number;
  readonly iterations: number;
  readonly converged: boolean;
  /** The optimizer's last word, e.g. "Newton step smaller than tol". */
  readonly message: string;
  /** Norm of the gradient (in φ) at the optimum: near 0 when converged. */
  readonly gradientNorm: number;
  /** From the inverse of the observed information (Hessian of −LL in θ); null when it is not positive definite. */
  readonly standardErrors: number[] | null;
}

/** What a model's fit reports, its parameters named by `toParams`. */
export interface NamedFit<P> {
  readonly params: P;
  readonly logLikelihood: number;
  readonly iterations: number;
  readonly converged: boolean;
  readonly standardErrors: P | null;
}

/** A `FitResult` with its parameters (and their standard errors) named. */
export function namedFit<P>(fit: FitResult, toParams: (values: readonly number[]) => P): NamedFit<P> {
  return {
    params: toParams(fit.params),
    logLikelihood: fit.logLikelihood,
    iterations: fit.iterations,
    converged: fit.converged,
    standardErrors: fit.standardErrors ? toParams(fit.standardErrors) : null,
  };
}

/**
 * Maximum likelihood over positive parameters: BFGS with line search (numeric.uncmin) on their
 * logs, scaled per observation so the tolerance means the same at any data size. Standard errors
 * come from the Hessian of −LL in θ, by central differences of the analytic gradient.
 */
export function maximize(
  objective: Objective,
  start: readonly number[],
  options: { n: number; tolerance?: number; maxIterations?: number },
): FitResult {
  const n = Math.max(1, options.n);
  // The optimizer asks for the gradient at the point whose value it just took: one pass over the
  // data computes both, and the gradient is kept for that point.
  let last: { phi: string; gradient: number[] } | undefined;
  const scaled = (phi: number[]): number => {
    if (!objective.evaluate) return objective.value(phi) / n;
    const both = objective.evaluate(phi);
    last = { phi: phi.join(","), gradient: both.gradient };
    return both.value / n;
  };
  const scaledGradient = (phi: number[]): number[] =>
    (last?.phi === phi.join(",") ? last.gradient : objective.gradient(phi)).map((g) => g / n);
  const result = numeric.uncmin(scaled, start.map(Math.log), options.tolerance ?? 1e-8, scaledGradient, options.maxIterations ?? 1000);
  const phi = result.solution;
  const params = phi.map(Math.exp);
  const gradient = objective.gradient(phi);
  const gradientNorm = Math.sqrt(gradient.reduce((s, g) => s + (g / n) ** 2, 0));
  const finite = Number.isFinite(result.f) && params.every(Number.isFinite);
  return {
    params,
    // Reported without the penalty.
    logLikelihood: -(objective.value(phi) - (objective.penalty?.(phi) ?? 0)),
    iterations: result.iterations,
    converged: finite && gradientNorm < 1e-4,
    message: result.message,
    gradientNorm,
    standardErrors: finite ? standardErrors(objective, params) : null,
  };
}

/** √diag(H⁻¹), H the Hessian of −LL in θ by central differences of the gradient. */
function standardErrors(objective: Objective, params: readonly number[]): number[] | null {
  const k = params.length;
  // ∂(−LL)/∂θ = ∂(−LL)/∂φ / θ.
  const gradTheta = (theta: number[]): number[] => objective.gradient(theta.map(Math.log)).map((g, i) => g / theta[i]!);
  const h: number[][] = [];
  for (let i = 0; i < k; i++) {
    const step = 1e-5 * Math.max(1, Math.abs(params[i]!));
    const up = [...params];
    const down = [...params];
    up[i]! += step;
    down[i]! -= step;
    const gu = gradTheta(up);
    const gd = gradTheta(down);
    h.push(gu.map((g, j) => (g - gd[j]!) / (2 * step)));
  }
  const symmetric = h.map((row, i) => row.map((v, j) => (v + h[j]![i]!) / 2));
  try {
    const inv = inverse(new Matrix(symmetric));
    const ses = Array.from({ length: k }, (_, i) => inv.get(i, i));
    return ses.every((v) => v > 0 && Number.isFinite(v)) ? ses.map(Math.sqrt) : null;
  } catch {
    return null;
  }
}
