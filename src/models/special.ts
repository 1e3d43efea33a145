/**
 * Special functions for the CLTV models: log-gamma, digamma and the Gauss hypergeometric 2F1,
 * from cephes (netlib Cephes compiled to WebAssembly; matches scipy to ~1e-14). It compiles
 * asynchronously: `await specialFunctions()` before the first call.
 */
export interface SpecialFunctions {
  readonly gammaln: (x: number) => number;
  readonly digamma: (x: number) => number;
  readonly hyp2f1: (a: number, b: number, c: number, z: number) => number;
}

let ready: Promise<SpecialFunctions> | undefined;

/** Loaded on first use: importing `strata` must not compile cephes's WebAssembly. */
export function specialFunctions(): Promise<SpecialFunctions> {
  ready ??= import("cephes").then(async ({ default: cephes }) => {
    await cephes.compiled;
    return { gammaln: cephes.lgam, digamma: cephes.psi, hyp2f1: cephes.hyp2f1 };
  });
  return ready as Promise<SpecialFunctions>;
}
