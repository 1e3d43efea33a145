import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DagError } from "../../src/errors/errors.js";
import { isPipeline, pipeline } from "../../src/pipeline/pipeline.js";
import { isParamRef, isStepRef } from "../../src/pipeline/refs.js";
import { sql } from "../../src/pipeline/sql.js";
import { step } from "../../src/pipeline/step.js";

describe("pipeline() and step()", () => {
  it("step() outside a build function throws DSL_OUTSIDE_PIPELINE", () => {
    let thrown: unknown;
    try {
      step("lonely", () => 1);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DagError);
    expect(thrown).toMatchObject({ code: "DSL_OUTSIDE_PIPELINE" });
    expect((thrown as Error).message).toContain("step() was called outside");
  });

  it("step() after a pipeline was built is outside again", () => {
    pipeline("done", () => {
      step("a", () => 1);
    });
    expect(() => step("late", () => 2)).toThrow(/outside a pipeline's build function/);
  });

  it("rejects an async build function", () => {
    let thrown: unknown;
    try {
      pipeline("async", (async () => {
        step("a", () => 1);
        await Promise.resolve();
      }) as unknown as () => void);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DagError);
    expect(thrown).toMatchObject({ code: "DSL_INVALID_STEP" });
    expect((thrown as Error).message).toContain('pipeline "async"');
    expect((thrown as Error).message).toContain("synchronous");
  });

  it("an async build function that declares steps after an await leaves no unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      expect(() =>
        pipeline("async-late", (async () => {
          await Promise.resolve();
          step("late", () => 1);
        }) as unknown as () => void),
      ).toThrow(/synchronous/);
      // Let the build function's promise settle and Node report it if nobody handled it.
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it("defining a pipeline does no I/O: no step function is called", () => {
    let calls = 0;
    const p = pipeline("lazy", () => {
      const a = step("a", () => {
        calls++;
        return 1;
      });
      step("b", { inputs: { a } }, ({ a }) => {
        calls++;
        return a + 1;
      });
    });
    expect(calls).toBe(0);
    expect(p.steps.map((s) => s.name)).toEqual(["a", "b"]);
    expect(typeof p.steps[0]!.run).toBe("function");
  });

  it("the build function runs exactly once, at definition", () => {
    let builds = 0;
    pipeline("once", () => {
      builds++;
      step("a", () => 1);
    });
    expect(builds).toBe(1);
  });

  it("normalizes steps: kind, output, after, retry policy, timeout", () => {
    const p = pipeline("shape", { description: "d", concurrency: 2 }, () => {
      const a = step("a", { output: "a_out", retries: 3, timeoutMs: 500, description: "first" }, () => 1);
      step("b", { inputs: { a }, after: ["a"] }, sql`select 1 as x`);
    });
    expect(isPipeline(p)).toBe(true);
    expect(isPipeline({ name: "x" })).toBe(false);
    expect(p).toMatchObject({ name: "shape", description: "d", concurrency: 2, onFailure: undefined, onSuccess: [] }); // onFailure: the project's, once loaded
    const [a, b] = p.steps;
    expect(a).toMatchObject({ name: "a", kind: "ts", output: "a_out", timeoutMs: 500, description: "first", query: undefined });
    expect(a!.retry).toEqual({ maxAttempts: 4, delayMs: 1000, factor: 2, maxDelayMs: 60_000, jitter: 0.2 });
    expect(b).toMatchObject({ name: "b", kind: "sql", output: "b", after: ["a"], run: undefined });
    expect(b!.retry.maxAttempts).toBe(1);
  });

  it("step() returns a reference to the step's output; params are references too", () => {
    let refs: unknown[] = [];
    pipeline("refs", { params: z.object({ day: z.string() }) }, ({ params }) => {
      const a = step("a", { output: "named" }, () => 1);
      refs = [a, params.day];
    });
    expect(isStepRef(refs[0])).toBe(true);
    expect(refs[0]).toMatchObject({ output: "named" });
    expect(isParamRef(refs[1])).toBe(true);
    expect(refs[1]).toMatchObject({ param: "day" });
  });

  it("a StepRef written into a sql query becomes an input of the step", () => {
    const p = pipeline("sql-ref", () => {
      const orders = step("orders", () => [{ id: 1 }]);
      step("count", sql`select count(*) as n from ${orders}`);
    });
    const count = p.dag.byName.get("count")!;
    expect(Object.keys(count.inputs)).toEqual(["orders"]);
    expect(p.dag.upstream.get("count")).toEqual(["orders"]);
  });

  it("a StepRef in sql is a dependency even when an input of the same name points elsewhere", () => {
    const p = pipeline("sql-ref-collide", () => {
      const orders = step("orders", () => [{ id: 1 }]);
      step("other", () => [{ id: 2 }]);
      step("count", { inputs: { orders: "other" } }, sql`select count(*) as n from ${orders} join ${"orders"} using (id)`);
    });
    expect([...p.dag.upstream.get("count")!].sort()).toEqual(["orders", "other"]);
  });

  it("a StepRef in sql whose output is named like an Object.prototype member is still a dependency", () => {
    const p = pipeline("sql-ref-proto", () => {
      const ctor = step("constructor", () => [{ id: 1 }]);
      step("count", sql`select count(*) as n from ${ctor}`);
    });
    expect(p.dag.upstream.get("count")).toEqual(["constructor"]);
  });

  it("rejects a last argument that is neither a function nor a sql query", () => {
    expect(() =>
      pipeline("bad-impl", () => {
        step("a", {}, "select 1" as never);
      }),
    ).toThrow(expect.objectContaining({ code: "DSL_INVALID_STEP", message: expect.stringContaining('step "a"') as unknown }));
  });

  it("rejects an input that is not a step output, a param or an output name", () => {
    expect(() =>
      pipeline("bad-input", () => {
        step("a", { inputs: { n: 42 as never } }, () => 1);
      }),
    ).toThrow(expect.objectContaining({ code: "DSL_INVALID_STEP", message: expect.stringContaining('input "n"') as unknown }));
  });
});
