import { describe, expect, it } from "vitest";
import { backoffDelay, retryPolicy } from "../../src/pipeline/retry-policy.js";

describe("retryPolicy", () => {
  it("no retries means one attempt", () => {
    expect(retryPolicy(undefined).maxAttempts).toBe(1);
    expect(retryPolicy(0).maxAttempts).toBe(1);
  });

  it("a count is shorthand for { max } with the defaults", () => {
    expect(retryPolicy(2)).toEqual({ maxAttempts: 3, delayMs: 1000, factor: 2, maxDelayMs: 60_000, jitter: 0.2 });
  });

  it("keeps the given options and clamps jitter to 0..1 and max to a whole number >= 0", () => {
    expect(retryPolicy({ max: 2.7, delayMs: 5, factor: 3, maxDelayMs: 50, jitter: 4 })).toEqual({
      maxAttempts: 3,
      delayMs: 5,
      factor: 3,
      maxDelayMs: 50,
      jitter: 1,
    });
    expect(retryPolicy({ max: -1, jitter: -0.5 })).toMatchObject({ maxAttempts: 1, jitter: 0 });
  });
});

describe("backoffDelay", () => {
  it("grows by the factor, is capped by maxDelayMs and takes off jitter * random", () => {
    const policy = retryPolicy({ max: 5, delayMs: 100, factor: 3, maxDelayMs: 1000, jitter: 0.5 });
    expect([2, 3, 4, 5].map((n) => backoffDelay(policy, n, 0))).toEqual([100, 300, 900, 1000]);
    expect([2, 3, 4, 5].map((n) => backoffDelay(policy, n, 0.5))).toEqual([75, 225, 675, 750]);
  });

  it("is rounded to whole milliseconds", () => {
    const policy = retryPolicy({ max: 1, delayMs: 10, jitter: 0.33 });
    expect(backoffDelay(policy, 2, 0.5)).toBe(Math.round(10 * (1 - 0.33 * 0.5)));
    expect(Number.isInteger(backoffDelay(policy, 2, 0.123))).toBe(true);
  });
});
