import { expect } from "vitest";
import { isStrataError, type StrataError } from "../../src/errors/strata-error.js";

/** The StrataError a promise rejects with; fails the test if it resolves or throws something else. */
export async function rejection(promise: Promise<unknown>): Promise<StrataError> {
  try {
    await promise;
  } catch (error) {
    expect(isStrataError(error), `not a StrataError: ${String(error)}`).toBe(true);
    return error as StrataError;
  }
  throw new Error("expected a rejection");
}

/** The StrataError a function throws; fails the test if it returns or throws something else. */
export function thrown(fn: () => unknown): StrataError {
  try {
    fn();
  } catch (error) {
    expect(isStrataError(error), `not a StrataError: ${String(error)}`).toBe(true);
    return error as StrataError;
  }
  throw new Error("expected a throw");
}
