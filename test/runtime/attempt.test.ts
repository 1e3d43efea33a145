import { describe, expect, it } from "vitest";
import { isStrataError } from "../../src/errors/strata-error.js";
import { runAttempt } from "../../src/runtime/attempt.js";

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("runAttempt", () => {
  it("returns what the body returns, sync or async", async () => {
    const signal = new AbortController().signal;
    expect(await runAttempt("s", undefined, signal, () => 7)).toBe(7);
    expect(await runAttempt("s", 1000, signal, () => Promise.resolve("x"))).toBe("x");
  });

  it("passes through what the body throws, even synchronously", async () => {
    const error = await rejection(
      runAttempt("s", undefined, new AbortController().signal, () => {
        throw new Error("sync boom");
      }),
    );
    expect((error as Error).message).toBe("sync boom");
  });

  it("rejects with STEP_TIMEOUT when the budget runs out, even if the body ignores its signal", async () => {
    let inner: AbortSignal | undefined;
    const error = await rejection(
      runAttempt("slow", 20, new AbortController().signal, (signal) => {
        inner = signal;
        return new Promise<never>(() => undefined);
      }),
    );
    expect(isStrataError(error) && error.code).toBe("STEP_TIMEOUT");
    expect((error as Error).message).toBe('step "slow" timed out after 20 ms');
    expect(inner?.aborted).toBe(true);
  });

  it("does not start the body when the run is already cancelled", async () => {
    const run = new AbortController();
    run.abort();
    let started = false;
    const error = await rejection(
      runAttempt("s", undefined, run.signal, () => {
        started = true;
      }),
    );
    expect(started).toBe(false);
    expect(isStrataError(error) && error.code).toBe("RUN_CANCELLED");
  });

  it("rejects with RUN_CANCELLED when the run is cancelled mid-attempt", async () => {
    const run = new AbortController();
    const error = await rejection(
      runAttempt("s", undefined, run.signal, () => {
        setTimeout(() => run.abort(), 5);
        return new Promise<never>(() => undefined);
      }),
    );
    expect(isStrataError(error) && error.code).toBe("RUN_CANCELLED");
  });
});
