import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { sql } from "../../src/pipeline/sql.js";
import { step } from "../../src/pipeline/step.js";
import type { Table } from "../../src/pipeline/table.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";

let workspace: Workspace | undefined;
const open = (): Workspace => (workspace = openWorkspace(":memory:"));
afterEach(async () => {
  await workspace?.close();
  workspace = undefined;
});

const EVENTS = sql`select * from (values
  (date '2026-01-01', 'eu', 10),
  (date '2026-01-01', 'us', 20),
  (date '2026-01-02', 'eu', 30)) as t(day, region, amount)`;

describe("sql steps", () => {
  it("binds params as values, a Date param compared with a DATE column included", async () => {
    const workspace = open();
    const p = pipeline("bind", { params: z.object({ day: z.coerce.date(), region: z.string(), min: z.number() }) }, ({ params }) => {
      const events = step("events", EVENTS);
      step(
        "picked",
        { inputs: { events } },
        sql<{ region: string; amount: number }>`select region, amount from ${"events"}
          where day = ${params.day} and region = ${params.region} and amount >= ${params.min}`,
      );
      step(
        "param_input",
        { inputs: { events, region: params.region } },
        sql`select count(*) as n from ${"events"} where region = ${"region"}`,
      );
      step("literal", sql`select ${sql.value("it's")} as s, ${sql.value(2n)} + 1 as n, ${sql.value(null)} as z`);
    });
    const result = await runPipeline(p, { workspace, params: { day: "2026-01-01", region: "eu", min: 5 } });
    expect(result.status).toBe("succeeded");
    expect(await (result.outputs.picked as Table).rows()).toEqual([{ region: "eu", amount: 10 }]);
    expect(await (result.outputs.param_input as Table).rows()).toEqual([{ n: 2 }]);
    expect(await (result.outputs.literal as Table).rows()).toEqual([{ s: "it's", n: 3, z: null }]);

    const other = await runPipeline(p, { workspace, params: { day: "2026-01-02", region: "eu", min: 5 } });
    expect(await (other.outputs.picked as Table).rows()).toEqual([{ region: "eu", amount: 30 }]);
  });

  it("a value that looks like SQL is bound, never spliced", async () => {
    const workspace = open();
    const p = pipeline("inject", { params: z.object({ region: z.string() }) }, ({ params }) => {
      const events = step("events", EVENTS);
      step("picked", { inputs: { events } }, sql`select count(*) as n from ${"events"} where region = ${params.region}`);
    });
    const result = await runPipeline(p, { workspace, params: { region: "eu' or '1'='1" } });
    expect(result.status).toBe("succeeded");
    expect(await (result.outputs.picked as Table).rows()).toEqual([{ n: 0 }]);
  });

  it("interpolates a StepRef as the upstream table and orders the steps", async () => {
    const workspace = open();
    const p = pipeline("refs", () => {
      const events = step("events", EVENTS);
      const byRegion = step("by_region", sql`select region, sum(amount) as total from ${events} group by region order by region`);
      step("top", sql`select region from ${byRegion} order by total desc limit 1`);
    });
    const result = await runPipeline(p, { workspace });
    expect(result.steps.map((s) => s.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    const byRegion = result.outputs.by_region as Table<{ region: string; total: number }>;
    expect(await byRegion.rows()).toEqual([
      { region: "eu", total: 40 },
      { region: "us", total: 20 },
    ]);
    expect(await (result.outputs.top as Table).rows()).toEqual([{ region: "eu" }]);
    expect(result.steps.find((s) => s.name === "by_region")?.output).toEqual({ kind: "table", table: `${result.id}.by_region`, rows: 2 });
  });

  it("rows returned by a TypeScript step are a table for SQL, and still rows for TypeScript steps", async () => {
    const workspace = open();
    const p = pipeline("rows", () => {
      const people = step("people", () => [
        { name: "ada", age: 36, tags: ["x"] },
        { name: "bob", age: 41, tags: [] },
        { name: "cy", age: 29, tags: ["y", "z"] },
      ]);
      const older = step("older", { inputs: { people } }, sql`select name from ${"people"} where age > 30 order by name`);
      step("also_sql", { inputs: { people } }, sql`select count(*) as n from ${"people"}`);
      step("ts_reader", { inputs: { people }, after: ["older", "also_sql"] }, ({ people }) => {
        if (!Array.isArray(people)) throw new Error(`expected the rows, got ${typeof people}`);
        return people.map((p) => p.name).join(",");
      });
      step("table_reader", { inputs: { older } }, async ({ older }) => ({
        n: await older.count(),
        rows: await older.rows(),
        name: older.name,
      }));
    });
    const result = await runPipeline(p, { workspace });
    expect(result.status).toBe("succeeded");
    expect(result.outputs.ts_reader).toBe("ada,bob,cy");
    expect(await (result.outputs.also_sql as Table).rows()).toEqual([{ n: 3 }]);
    expect(result.outputs.table_reader).toEqual({ n: 2, rows: [{ name: "ada" }, { name: "bob" }], name: `"${result.id}"."older"` });
    expect(Array.isArray(result.outputs.people)).toBe(true);
  });

  it("several sql steps reading the same TypeScript rows at once all see them", async () => {
    const workspace = open();
    const p = pipeline("fan-out", () => {
      const nums = step("nums", () => Array.from({ length: 50 }, (_, i) => ({ i })));
      for (let k = 0; k < 4; k++) step(`q${k}`, { inputs: { nums } }, sql`select count(*) as n, sum(i) as s from ${"nums"}`);
    });
    const result = await runPipeline(p, { workspace, concurrency: 4 });
    expect(result.status).toBe("succeeded");
    for (let k = 0; k < 4; k++) expect(await (result.outputs[`q${k}`] as Table).rows()).toEqual([{ n: 50, s: 1225 }]);
  });

  it("a StepRef in sql and an input of the same name reading another output both resolve", async () => {
    const workspace = open();
    const p = pipeline("collide", () => {
      const orders = step("orders", async () => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        return [{ id: 1 }, { id: 2 }];
      });
      step("other", () => [{ id: 2 }, { id: 3 }]);
      step("joined", { inputs: { orders: "other" } }, sql`select count(*) as n from ${orders} as o join ${"orders"} as x using (id)`);
    });
    const result = await runPipeline(p, { workspace });
    expect(result.status).toBe("succeeded");
    expect(await (result.outputs.joined as Table).rows()).toEqual([{ n: 1 }]);
  });

  it("turns BIGINT and HUGEINT into numbers where exact, and keeps bigger ones as bigint", async () => {
    const workspace = open();
    const p = pipeline("ints", () => {
      step("ints", sql`select 42::BIGINT as b, sum(range) as h, 9007199254740993::BIGINT as huge, 1.5::DOUBLE as d from range(3)`);
    });
    const result = await runPipeline(p, { workspace });
    const table = result.outputs.ints as Table;
    const [row] = await table.rows();
    expect(row).toEqual({ b: 42, h: 3, huge: 9007199254740993n, d: 1.5 });
    expect(typeof row!.b).toBe("number");
    expect(await table.count()).toBe(1);
    expect(typeof (await table.count())).toBe("number");
  });

  it("a SQL error is SQL_FAILED naming the step, and is not retried", async () => {
    const workspace = open();
    const p = pipeline("broken", () => {
      step("bad_query", { retries: 3 }, sql`selec 1`);
      step("renamed", { output: "renamed_out" }, sql`select * from no_such_table`);
    });
    const result = await runPipeline(p, { workspace });
    expect(result.status).toBe("failed");
    const bad = result.steps.find((s) => s.name === "bad_query")!;
    expect(bad).toMatchObject({ status: "failed", attempts: 1, error: { code: "SQL_FAILED" } });
    expect(bad.error?.message).toMatch(/syntax error/i);
    const renamed = result.steps.find((s) => s.name === "renamed")!;
    expect(renamed.error?.code).toBe("SQL_FAILED");
    expect(renamed.error?.message).toContain("no_such_table");
    // The step's record holds the engine's message; the run's error names the step (once).
    expect(result.error?.message).toMatch(/^step "bad_query" failed: .*syntax error/s);
    expect(result.error?.message).toContain("(2 steps failed: bad_query, renamed)");
  });

  it("a SQL input that is not rows is SQL_INPUT_INVALID", async () => {
    const workspace = open();
    const p = pipeline("not-rows", () => {
      const n = step("n", () => 42);
      const empty = step("empty", () => []);
      const arrays = step("arrays", () => [[1, 2]]);
      step("from_number", { inputs: { n } }, sql`select * from ${"n"}`);
      step("from_empty", { inputs: { empty } }, sql`select * from ${"empty"}`);
      step("from_arrays", sql`select * from ${arrays}`);
    });
    const result = await runPipeline(p, { workspace });
    for (const [name, output] of [
      ["from_number", "n"],
      ["from_empty", "empty"],
      ["from_arrays", "arrays"],
    ] as const) {
      const summary = result.steps.find((s) => s.name === name)!;
      expect(summary.status).toBe("failed");
      expect(summary.error?.code).toBe("SQL_INPUT_INVALID");
      expect(summary.error?.message).toContain(`sql step "${name}" reads output "${output}"`);
    }
  });
});

describe("a TypeScript step reading a table", () => {
  it("streams it in column batches and row by row", async () => {
    const workspace = openWorkspace(":memory:");
    try {
      const p = pipeline("stream", () => {
        const nums = step("nums", sql<{ i: number; half: number }>`select range as i, range / 2 as half from range(25000)`);
        step("consume", { inputs: { nums } }, async ({ nums }) => {
          const sizes: number[] = [];
          let sum = 0;
          for await (const batch of nums.batches(10_000)) {
            sizes.push(batch.length);
            sum += batch.columns.i.reduce((a, b) => a + b, 0);
          }
          let rows = 0;
          let last = -1;
          for await (const row of nums) {
            rows++;
            last = Math.max(last, row.i);
          }
          return { sizes, sum, rows, last };
        });
      });
      const result = await runPipeline(p, { workspace });
      expect(result.outputs.consume).toEqual({ sizes: [10000, 10000, 5000], sum: (24999 * 25000) / 2, rows: 25000, last: 24999 });
    } finally {
      await workspace.close();
    }
  });
});
