import { describe, expect, it } from "vitest";
import { PSI_EPSILON, binOf, categoryBuckets, ksBinned, psi, topCategories } from "../../src/validation/drift.js";

describe("psi", () => {
  it("is 0 for the same shares, whatever the sizes", () => {
    expect(psi([50, 50], [50, 50])).toBe(0);
    expect(psi([10, 30, 60], [100, 300, 600])).toBeCloseTo(0, 12);
  });

  it("sums (a - e) ln(a / e) over the buckets' shares", () => {
    // e = 0.25 each; a = 0.1, 0.2, 0.3, 0.4
    const byHand = -0.15 * Math.log(0.1 / 0.25) + -0.05 * Math.log(0.2 / 0.25) + 0.05 * Math.log(0.3 / 0.25) + 0.15 * Math.log(0.4 / 0.25);
    expect(byHand).toBeCloseTo(0.228217, 6);
    expect(psi([25, 25, 25, 25], [10, 20, 30, 40])).toBeCloseTo(byHand, 12);
    // Two buckets, 50/50 becoming 90/10.
    expect(psi([50, 50], [90, 10])).toBeCloseTo(0.4 * Math.log(1.8) + -0.4 * Math.log(0.2), 12);
    expect(psi([50, 50], [90, 10])).toBeCloseTo(0.87889, 5);
  });

  it("is symmetric when no bucket is empty", () => {
    expect(psi([10, 20, 70], [30, 30, 40])).toBeCloseTo(psi([30, 30, 40], [10, 20, 70]), 12);
  });

  it("counts an empty bucket as epsilon, so it weighs a lot but stays finite", () => {
    // e = (1, 0 -> 1e-4), a = (0.5, 0.5)
    const byHand = (0.5 - 1) * Math.log(0.5 / 1) + (0.5 - 1e-4) * Math.log(0.5 / 1e-4);
    expect(PSI_EPSILON).toBe(1e-4);
    expect(psi([100, 0], [50, 50])).toBeCloseTo(byHand, 12);
    expect(psi([100, 0], [50, 50])).toBeCloseTo(4.604318, 5);
    // A larger epsilon softens it.
    expect(psi([100, 0], [50, 50], 0.01)).toBeCloseTo(-0.5 * Math.log(0.5) + 0.49 * Math.log(50), 12);
    // Both empty: no contribution.
    expect(psi([10, 0], [20, 0])).toBe(0);
  });

  it("refuses buckets that do not line up, negative counts and empty distributions", () => {
    expect(() => psi([1, 2], [1])).toThrow(RangeError);
    expect(() => psi([], [])).toThrow(/no buckets/);
    expect(() => psi([1, -1], [1, 1])).toThrow(/>= 0/);
    expect(() => psi([0, 0], [1, 1])).toThrow(/at least one value/);
    expect(() => ksBinned([1, 1], [0, 0])).toThrow(/at least one value/);
  });
});

describe("ksBinned", () => {
  it("is the largest gap between the cumulative shares at the bins' upper edges", () => {
    // Cumulative: expected .25 .5 .75 1; actual 0 0 .5 1 -> gaps .25 .5 .25 0
    expect(ksBinned([1, 1, 1, 1], [0, 0, 2, 2])).toBe(0.5);
    expect(ksBinned([3, 1], [1, 3])).toBe(0.5);
    expect(ksBinned([1, 2, 3], [2, 4, 6])).toBeCloseTo(0, 12);
    expect(ksBinned([2, 0], [0, 2])).toBe(1);
  });

  it("cannot see a shift within one bin: the binned approximation", () => {
    // Raw values {0, 1} vs {0.5, 1.5} have KS 0.5; one bin holding all of them shows none of it.
    expect(ksBinned([2], [2])).toBe(0);
  });
});

describe("binOf", () => {
  it("splits [lo, hi] in equal-width bins, the maximum in the last one", () => {
    expect(binOf(0, 0, 10, 10)).toBe(0);
    expect(binOf(0.999, 0, 10, 10)).toBe(0);
    expect(binOf(1, 0, 10, 10)).toBe(1);
    expect(binOf(5, 0, 10, 10)).toBe(5);
    expect(binOf(9.99, 0, 10, 10)).toBe(9);
    expect(binOf(10, 0, 10, 10)).toBe(9);
    expect(binOf(-5, -10, 10, 4)).toBe(1);
    expect(binOf(14, 0, 149, 10)).toBe(0);
    expect(binOf(15, 0, 149, 10)).toBe(1);
  });

  it("puts everything in bin 0 when the range is a single value", () => {
    expect(binOf(3, 3, 3, 10)).toBe(0);
  });
});

describe("categories", () => {
  const side = (entries: [string, number][]) => ({ counts: new Map(entries), total: entries.reduce((a, [, n]) => a + n, 0) });

  it("keeps the categories with the largest combined share, ties by name", () => {
    // Shares: a .5 + .1 = .6; b .5 + 0 = .5; c 0 + .9 = .9
    expect(
      topCategories(
        side([
          ["a", 5],
          ["b", 5],
        ]),
        side([
          ["c", 90],
          ["a", 10],
        ]),
      ),
    ).toEqual(["c", "a", "b"]);
    expect(topCategories(side([["a", 1]]), side([["c", 100]]), 1)).toEqual(["a"]);
    expect(
      topCategories(
        side([
          ["y", 1],
          ["x", 1],
        ]),
        side([]),
        1,
      ),
    ).toEqual(["x"]);
  });

  it("buckets counts in the categories' order, then the rest as other", () => {
    const counts = new Map([
      ["a", 5],
      ["b", 3],
      ["z", 2],
    ]);
    expect(categoryBuckets(["b", "a", "missing"], counts, 12)).toEqual([3, 5, 0, 4]);
    expect(categoryBuckets(["a", "b", "z"], counts, 10)).toEqual([5, 3, 2, 0]);
  });
});
