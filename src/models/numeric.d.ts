// The part of numeric 1.2.6 (which ships no types) that Strata uses.
declare module "numeric" {
  interface UncminResult {
    solution: number[];
    f: number;
    gradient: number[];
    invHessian: number[][];
    iterations: number;
    message: string;
  }
  const numeric: {
    uncmin(
      f: (x: number[]) => number,
      x0: number[],
      tol?: number,
      gradient?: ((x: number[]) => number[]) | null,
      maxit?: number,
    ): UncminResult;
  };
  export default numeric;
}
