import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DagError } from "../../src/errors/errors.js";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { sql } from "../../src/pipeline/sql.js";
import { step } from "../../src/pipeline/step.js";

/** Runs a pipeline definition that must fail and returns its error. */
function definitionError(define: () => unknown): DagError {
  try {
    define();
  } catch (error) {
    expect(error).toBeInstanceOf(DagError);
    return error as DagError;
  }
  throw new Error("the definition did not throw");
}

describe("DAG errors at definition time", () => {
  it("DAG_CYCLE through string-named inputs names every step of the cycle", () => {
    const error = definitionError(() =>
      pipeline("loop", () => {
        step("a", { inputs: { x: "c" } }, ({ x }) => x);
        step("b", { inputs: { x: "a" } }, ({ x }) => x);
        step("c", { inputs: { x: "b" } }, ({ x }) => x);
      }),
    );
    expect(error.code).toBe("DAG_CYCLE");
    expect(error.message).toContain('pipeline "loop"');
    expect(error.message).toMatch(/a -> c -> b -> a/);
    expect(error.details.steps).toEqual(["a", "c", "b", "a"]);
  });

  it("DAG_CYCLE through `after`", () => {
    const error = definitionError(() =>
      pipeline("after-loop", () => {
        step("first", { after: ["second"] }, () => 1);
        step("second", { after: ["first"] }, () => 2);
      }),
    );
    expect(error.code).toBe("DAG_CYCLE");
    expect(error.message).toContain("first -> second -> first");
  });

  it("DAG_CYCLE when a step waits for itself", () => {
    const error = definitionError(() =>
      pipeline("self", () => {
        step("alone", { after: ["alone"] }, () => 1);
      }),
    );
    expect(error.code).toBe("DAG_CYCLE");
    expect(error.message).toContain("alone -> alone");
  });

  it("DAG_MISSING_INPUT for a string input that names no output", () => {
    const error = definitionError(() =>
      pipeline("missing", () => {
        step("load", () => [1]);
        step("use", { inputs: { rows: "lod" } }, ({ rows }) => rows);
      }),
    );
    expect(error.code).toBe("DAG_MISSING_INPUT");
    expect(error.message).toContain('step "use"');
    expect(error.message).toContain('input "rows"');
    expect(error.message).toContain('"lod"');
    expect(error.details).toMatchObject({ step: "use", input: "rows", output: "lod" });
  });

  it('DAG_MISSING_INPUT for sql ${"x"} that is not one of the step\'s inputs', () => {
    const error = definitionError(() =>
      pipeline("sql-missing", () => {
        const orders = step("orders", () => [{ id: 1 }]);
        step("count", { inputs: { orders } }, sql`select count(*) from ${"order"}`);
      }),
    );
    expect(error.code).toBe("DAG_MISSING_INPUT");
    expect(error.message).toContain('sql step "count"');
    expect(error.message).toContain('${"order"}');
    expect(error.message).toContain("(orders)");
  });

  it('DAG_MISSING_INPUT for sql ${"constructor"} (a name every object inherits)', () => {
    const error = definitionError(() =>
      pipeline("sql-proto", () => {
        step("count", sql`select count(*) from ${"constructor"}`);
      }),
    );
    expect(error.code).toBe("DAG_MISSING_INPUT");
    expect(error.message).toContain('sql step "count"');
  });

  it("DAG_DUPLICATE_OUTPUT when two steps write the same output", () => {
    const error = definitionError(() =>
      pipeline("dup-out", () => {
        step("extract_a", { output: "raw" }, () => 1);
        step("extract_b", { output: "raw" }, () => 2);
      }),
    );
    expect(error.code).toBe("DAG_DUPLICATE_OUTPUT");
    expect(error.message).toContain('steps "extract_a" and "extract_b" both write output "raw"');
    expect(error.details).toMatchObject({ steps: ["extract_a", "extract_b"], output: "raw" });
  });

  it("DAG_DUPLICATE_OUTPUT when an output is named like another step", () => {
    const error = definitionError(() =>
      pipeline("dup-out-2", () => {
        step("clean", () => 1);
        step("other", { output: "clean" }, () => 2);
      }),
    );
    expect(error.code).toBe("DAG_DUPLICATE_OUTPUT");
    expect(error.message).toContain('"clean" and "other"');
  });

  it("DAG_DUPLICATE_STEP when two steps share a name", () => {
    const error = definitionError(() =>
      pipeline("dup-step", () => {
        step("load", () => 1);
        step("load", { output: "load2" }, () => 2);
      }),
    );
    expect(error.code).toBe("DAG_DUPLICATE_STEP");
    expect(error.message).toContain('two steps are named "load"');
  });

  it('DAG_UNKNOWN_STEP for `after: ["nope"]`', () => {
    const error = definitionError(() =>
      pipeline("unknown-after", () => {
        step("a", () => 1);
        step("b", { after: ["nope"] }, () => 2);
      }),
    );
    expect(error.code).toBe("DAG_UNKNOWN_STEP");
    expect(error.message).toContain('step "b" runs after "nope"');
    expect(error.details).toMatchObject({ step: "b", unknown: "nope" });
  });

  it("DAG_UNKNOWN_PARAM for an input using an undeclared param, listing the declared ones", () => {
    const error = definitionError(() =>
      pipeline("unknown-param", { params: z.object({ day: z.string(), limit: z.number() }) }, ({ params }) => {
        const untyped = params as unknown as Record<string, never>;
        step("a", { inputs: { d: untyped.dya! } }, ({ d }) => d);
      }),
    );
    expect(error.code).toBe("DAG_UNKNOWN_PARAM");
    expect(error.message).toContain('step "a"');
    expect(error.message).toContain('param "dya"');
    expect(error.message).toContain("declared: day, limit");
  });

  it("DAG_UNKNOWN_PARAM for a param used in sql", () => {
    const error = definitionError(() =>
      pipeline("unknown-sql-param", { params: z.object({ day: z.string() }) }, ({ params }) => {
        const untyped = params as unknown as Record<string, never>;
        step("q", sql`select ${untyped.limit!} as n`);
      }),
    );
    expect(error.code).toBe("DAG_UNKNOWN_PARAM");
    expect(error.message).toContain('sql step "q" uses param "limit"');
  });

  it("DAG_UNKNOWN_PARAM when the pipeline declares no params at all", () => {
    const error = definitionError(() =>
      pipeline("no-params", ({ params }) => {
        const untyped = params as unknown as Record<string, never>;
        step("a", { inputs: { n: untyped.n! } }, ({ n }) => n);
      }),
    );
    expect(error.code).toBe("DAG_UNKNOWN_PARAM");
    expect(error.message).toContain("declared: none");
  });

  it("DAG_INVALID_NAME for a step name with spaces", () => {
    const error = definitionError(() =>
      pipeline("bad-name", () => {
        step("load orders", () => 1);
      }),
    );
    expect(error.code).toBe("DAG_INVALID_NAME");
    expect(error.message).toContain('"load orders"');
  });

  it("a valid graph is ordered so that every step comes after what it waits for", () => {
    const p = pipeline("ordered", () => {
      step("report", { inputs: { clean: "clean" }, after: ["audit"] }, ({ clean }) => clean);
      step("clean", { inputs: { raw: "raw" } }, ({ raw }) => raw);
      step("audit", () => "ok");
      step("raw", () => [1, 2]);
    });
    const order = p.steps.map((s) => s.name);
    expect(order.indexOf("raw")).toBeLessThan(order.indexOf("clean"));
    expect(order.indexOf("clean")).toBeLessThan(order.indexOf("report"));
    expect(order.indexOf("audit")).toBeLessThan(order.indexOf("report"));
    expect(p.dag.upstream.get("report")).toEqual(["clean", "audit"]);
    expect([...(p.dag.downstream.get("raw") ?? [])]).toEqual(["clean"]);
  });
});
