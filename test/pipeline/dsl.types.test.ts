import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { pipeline, type PipelineDefinition } from "../../src/pipeline/pipeline.js";
import type { ParamRef, StepRef } from "../../src/pipeline/refs.js";
import { sql } from "../../src/pipeline/sql.js";
import { dataset } from "../../src/pipeline/dataset.js";
import { t } from "../../src/data/column-types.js";
import type { StepContext } from "../../src/pipeline/step-context.js";
import { step } from "../../src/pipeline/step.js";
import type { Table } from "../../src/pipeline/table.js";

// These tests are checked by `tsc --noEmit` (tsconfig includes test/); at run time they only
// define pipelines. A `@ts-expect-error` that stops being an error fails the typecheck.

describe("DSL types", () => {
  it("a step sees its inputs typed from upstream return types", () => {
    pipeline("typed", () => {
      const n = step("n", () => 42);
      const names = step("names", async () => ["a", "b"]);
      const obj = step("obj", () => ({ id: 1, tags: new Set<string>() }));
      expectTypeOf(n).toEqualTypeOf<StepRef<number>>();
      expectTypeOf(names).toEqualTypeOf<StepRef<string[]>>();

      step("use", { inputs: { n, names, obj, loose: "n" } }, (inputs, ctx) => {
        expectTypeOf(inputs.n).toEqualTypeOf<number>();
        expectTypeOf(inputs.names).toEqualTypeOf<string[]>();
        expectTypeOf(inputs.obj.tags).toEqualTypeOf<Set<string>>();
        expectTypeOf(inputs.loose).toBeUnknown();
        expectTypeOf(ctx).toEqualTypeOf<StepContext>();
        expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
        return inputs.n;
      });
    });
  });

  it("params are typed from the schema's output", () => {
    const p = pipeline(
      "params",
      { params: z.object({ n: z.number(), day: z.coerce.date(), label: z.string().default("x"), dry: z.boolean().optional() }) },
      ({ params }) => {
        expectTypeOf(params.n).toEqualTypeOf<ParamRef<number>>();
        expectTypeOf(params.day).toEqualTypeOf<ParamRef<Date>>();
        step("use", { inputs: { n: params.n, day: params.day, label: params.label } }, ({ n, day, label }) => {
          expectTypeOf(n).toEqualTypeOf<number>();
          expectTypeOf(day).toEqualTypeOf<Date>();
          expectTypeOf(label).toEqualTypeOf<string>();
          return day.getTime() + n;
        });
        // @ts-expect-error the schema declares no param "nope"
        void params.nope;
      },
    );
    expectTypeOf(p).toExtend<PipelineDefinition<{ n: number; day: Date; label: string; dry?: boolean | undefined }>>();
  });

  it("sql steps produce a StepRef<Table<Row>>", () => {
    pipeline("sql-types", () => {
      const plain = step("plain", sql`select 1 as x`);
      expectTypeOf(plain).toEqualTypeOf<StepRef<Table<Record<string, unknown>>>>();
      const typed = step("typed", sql<{ id: number; name: string }>`select 1 as id, 'a' as name`);
      expectTypeOf(typed).toEqualTypeOf<StepRef<Table<{ id: number; name: string }>>>();
      const withInputs = step("with_inputs", { inputs: { typed } }, sql<{ n: number }>`select count(*) as n from ${"typed"}`);
      expectTypeOf(withInputs).toEqualTypeOf<StepRef<Table<{ n: number }>>>();

      step("read", { inputs: { typed } }, async ({ typed }) => {
        expectTypeOf(typed).toEqualTypeOf<Table<{ id: number; name: string }>>();
        const rows = await typed.rows();
        expectTypeOf(rows).toEqualTypeOf<{ id: number; name: string }[]>();
        expectTypeOf(await typed.count()).toEqualTypeOf<number>();
        return rows.map((r) => r.name);
      });
    });
  });

  it("a wrong input type is a compile error", () => {
    pipeline("wrong", { params: z.object({ n: z.number() }) }, ({ params }) => {
      const count = step("count", () => 3);
      const rows = step("rows", sql`select 1 as x`);
      step("a", { inputs: { count } }, ({ count }) => {
        // @ts-expect-error count is a number, not a string
        const s: string = count;
        return s;
      });
      step("b", { inputs: { n: params.n } }, ({ n }) => {
        // @ts-expect-error n is a number
        n.toUpperCase();
      });
      step("c", { inputs: { rows } }, ({ rows }) => {
        // @ts-expect-error a table is not an array: read it with rows()
        return rows.map((r: unknown) => r);
      });
      step("d", { inputs: { count } }, (inputs) => {
        // @ts-expect-error only declared inputs exist
        return inputs.other;
      });
      // @ts-expect-error a StepRef<number> cannot be passed where a StepRef<string> is expected
      const asString: StepRef<string> = count;
      void asString;
      // @ts-expect-error sql interpolates only input names, refs and sql.value(...)
      step("e", sql`select ${42}`);
    });
  });
});

describe("dataset types", () => {
  it("a step writing a dataset gives downstream steps Table<Row> of the dataset's schema", () => {
    pipeline("typed-datasets", () => {
      const scores = dataset("typed_scores", {
        storage: "warehouse",
        schema: { id: t.string(), score: t.double().nullable(), day: t.date() },
      });
      const written = step("write", { output: scores }, sql`select 'a' as id, 1.0 as score, current_date as day`);
      expectTypeOf(written).toEqualTypeOf<StepRef<Table<{ id: string; score: number | null; day: Date }>>>();
      step("read", { inputs: { written, scores } }, async ({ written, scores }) => {
        const [row] = await written.rows();
        expectTypeOf(row!.score).toEqualTypeOf<number | null>();
        expectTypeOf(scores).toEqualTypeOf<Table<{ id: string; score: number | null; day: Date }>>();
      });
    });
    pipeline("typed-dataset-rows", () => {
      const scores = dataset("typed_rows", { storage: "warehouse", schema: { id: t.string() } });
      // @ts-expect-error: a TypeScript step writing the dataset must return its rows
      step("bad", { output: scores }, () => [{ id: 1 }]);
    });
  });
});
