import { describe, expect, it } from "vitest";
import { isStrataError } from "../../src/errors/strata-error.js";
import { resolveRouting } from "../../src/serving/router.js";

const FILE = "endpoints/scores/endpoint.ts";

/** The message of the ENDPOINT_INVALID a routing is refused with. */
function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isStrataError(error) && error.code === "ENDPOINT_INVALID") return error.message;
    throw error;
  }
  throw new Error("the routing was accepted");
}

describe("resolveRouting", () => {
  it("refuses a routing that names what is not there, with the file and what to change", () => {
    const impls = ["lookup", "live"];
    expect(refusal(() => resolveRouting({ default: "cached" }, impls, FILE))).toBe(
      `${FILE}: routing: default "cached" is not an implementation (there are: lookup, live)`,
    );
    expect(refusal(() => resolveRouting({ default: "lookup", shadow: "nope" }, impls, FILE))).toContain(
      'shadow "nope" is not an implementation',
    );
    expect(refusal(() => resolveRouting({ default: "lookup", fallback: "nope" }, impls, FILE))).toContain(
      'fallback "nope" is not an implementation',
    );
    expect(refusal(() => resolveRouting({ split: { lookup: 1, gone: 1 } }, impls, FILE))).toContain(
      'split names "gone" is not an implementation',
    );
    expect(refusal(() => resolveRouting({ split: {} }, impls, FILE))).toContain("split is empty");
    expect(refusal(() => resolveRouting({ split: { lookup: 0, live: 0 } }, impls, FILE))).toContain("the weights of split add up to 0");
    expect(refusal(() => resolveRouting({ split: { lookup: -1, live: 2 } }, impls, FILE))).toContain(
      'the weight of "lookup" must be a number >= 0',
    );
    expect(refusal(() => resolveRouting({ default: "lookup", timeoutMs: 0 }, impls, FILE))).toContain(
      "timeoutMs must be a number of milliseconds > 0",
    );
    expect(refusal(() => resolveRouting({}, impls, FILE))).toContain(
      'there are several implementations (lookup, live): say which answers with "default" or "split"',
    );
    expect(refusal(() => resolveRouting({}, [], FILE))).toContain("there is no implementation: add endpoints/<type>/<name>.ts");
  });

  it("needs no routing for a single implementation, and turns a split into cumulative shares", () => {
    expect(resolveRouting({}, ["only"], FILE)).toMatchObject({ choices: [{ implementation: "only", upTo: 1 }], timeoutMs: 1000 });
    expect(resolveRouting({ split: { a: 3, b: 0, c: 1 }, sticky: "user.id" }, ["a", "b", "c"], FILE)).toMatchObject({
      choices: [
        { implementation: "a", upTo: 0.75 },
        { implementation: "c", upTo: 1 },
      ],
      sticky: ["user", "id"],
    });
  });
});
