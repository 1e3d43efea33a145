// cephes 3.3.3 ships index.d.ts, but its package "exports" do not point TypeScript at it under
// ESM resolution: the part Strata uses, declared here.
declare module "cephes" {
  const cephes: {
    readonly compiled: Promise<void>;
    lgam(x: number): number;
    psi(x: number): number;
    hyp2f1(a: number, b: number, c: number, x: number): number;
  };
  export default cephes;
}
