/**
 * Distribution drift between two versions of a column, from counts already aggregated in the
 * engine (histogram bins or category frequencies): pure math, no I/O.
 *
 * Both statistics compare an `expected` distribution (the previous version) with an `actual` one
 * (the new version), given as counts over the same ordered buckets.
 */

/** What an empty bucket's share becomes in PSI, so its logarithm stays finite. */
export const PSI_EPSILON = 1e-4;

/** Categories kept by name in a categorical histogram; the rest share one "other" bucket. */
export const TOP_CATEGORIES = 50;

function checkCounts(expected: readonly number[], actual: readonly number[]): { expectedTotal: number; actualTotal: number } {
  if (expected.length !== actual.length)
    throw new RangeError(`drift: ${expected.length} expected buckets against ${actual.length} actual ones`);
  if (expected.length === 0) throw new RangeError("drift: no buckets");
  for (const n of [...expected, ...actual])
    if (!(Number.isFinite(n) && n >= 0)) throw new RangeError(`drift: a count must be a number >= 0, not ${n}`);
  const expectedTotal = expected.reduce((a, b) => a + b, 0);
  const actualTotal = actual.reduce((a, b) => a + b, 0);
  if (expectedTotal === 0 || actualTotal === 0) throw new RangeError("drift: both distributions need at least one value");
  return { expectedTotal, actualTotal };
}

/**
 * Population stability index: sum over buckets of (a - e) * ln(a / e), where e and a are each
 * bucket's share of the expected and actual totals. A share of 0 counts as `epsilon` (the shares
 * are not renormalized after), so a bucket that empties or appears weighs a lot but stays finite.
 * 0 = identical; < 0.1 small shift; 0.1-0.25 moderate; > 0.25 large.
 */
export function psi(expected: readonly number[], actual: readonly number[], epsilon = PSI_EPSILON): number {
  const { expectedTotal, actualTotal } = checkCounts(expected, actual);
  let total = 0;
  expected.forEach((count, i) => {
    const e = Math.max(count / expectedTotal, epsilon);
    const a = Math.max(actual[i]! / actualTotal, epsilon);
    total += (a - e) * Math.log(a / e);
  });
  return total;
}

/**
 * Kolmogorov-Smirnov statistic on binned data: the largest gap between the two cumulative
 * distributions, read at the upper edge of each bucket (0..1).
 *
 * This is the binned approximation: values within one bin are indistinguishable, so it can only
 * be smaller than or equal to the exact statistic over the raw values, and gets closer with more
 * bins (bins of equal width over the combined range of both versions).
 */
export function ksBinned(expected: readonly number[], actual: readonly number[]): number {
  const { expectedTotal, actualTotal } = checkCounts(expected, actual);
  let e = 0;
  let a = 0;
  let gap = 0;
  expected.forEach((count, i) => {
    e += count;
    a += actual[i]!;
    gap = Math.max(gap, Math.abs(a / actualTotal - e / expectedTotal));
  });
  return gap;
}

/**
 * The equal-width bin (0..bins-1) of `value` over [lo, hi]: what the SQL computes with `floor`,
 * the maximum going to the last bin. One bin holds everything when lo = hi.
 */
export function binOf(value: number, lo: number, hi: number, bins: number): number {
  if (!(hi > lo)) return 0;
  return Math.min(Math.max(Math.floor((value - lo) / ((hi - lo) / bins)), 0), bins - 1);
}

/**
 * The categories a categorical histogram keeps by name: the `limit` with the largest combined
 * share (expected share + actual share, so both versions weigh the same whatever their sizes),
 * ties broken by name. Each input gives counts per category and the total of non-null values.
 */
export function topCategories(
  expected: { readonly counts: ReadonlyMap<string, number>; readonly total: number },
  actual: { readonly counts: ReadonlyMap<string, number>; readonly total: number },
  limit = TOP_CATEGORIES,
): string[] {
  const share = new Map<string, number>();
  for (const side of [expected, actual]) {
    if (side.total <= 0) continue;
    for (const [category, count] of side.counts) share.set(category, (share.get(category) ?? 0) + count / side.total);
  }
  return [...share]
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    .slice(0, limit)
    .map(([category]) => category);
}

/**
 * Counts over `categories` in order, then one last "other" bucket with the rest of `total`
 * (values whose category is not kept).
 */
export function categoryBuckets(categories: readonly string[], counts: ReadonlyMap<string, number>, total: number): number[] {
  const kept = categories.map((category) => counts.get(category) ?? 0);
  const other = total - kept.reduce((a, b) => a + b, 0);
  return [...kept, Math.max(other, 0)];
}
