import { describe, expect, it } from "vitest";
import { t } from "../../src/data/column-types.js";
import { dataset } from "../../src/pipeline/dataset.js";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { sql } from "../../src/pipeline/sql.js";
import { step } from "../../src/pipeline/step.js";
import { goLive } from "../../src/runtime/dataset-io.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { z } from "zod";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";

const tempDir = tempDirEachTest("strata-datasets-");
const workspaces = closeEachTest<Workspace>();
const open = (): Workspace => workspaces.track(openWorkspace(tempDir()));

const scores = dataset("scores", {
  storage: "warehouse",
  key: "id",
  keep: 2,
  schema: { id: t.string(), score: t.double(), day: t.date() },
});
const facts = dataset("facts", { storage: "kv", key: "id", schema: { id: t.string(), score: t.double() } });

/** Writes `n` scores (each tagged with the run's `tag`) to a table dataset and publishes them to kv. */
const writer = pipeline("writer", { params: z.object({ n: z.number().int().min(0), tag: z.number() }) }, ({ params }) => {
  const written = step(
    "scores",
    { inputs: { n: params.n, tag: params.tag }, output: scores },
    sql`select 'c' || range as id, ${params.tag} * 1.0 + range as score, date '2026-01-01' + range::integer as day from range(${params.n})`,
  );
  step("publish", { inputs: { written }, output: facts }, async ({ written }) =>
    (await written.rows()).map((r) => ({ id: r.id, score: r.score })),
  );
});

const reader = pipeline("reader", () => {
  step("total", { inputs: { scores } }, async ({ scores }) => ({ rows: await scores.count(), first: (await scores.rows())[0] }));
});

describe("datasets", () => {
  it("each run writes a new version, made live atomically, and readers see the live one", async () => {
    const workspace = open();
    const first = await runPipeline(writer, { workspace, params: { n: 3, tag: 100 } });
    expect(first.status).toBe("succeeded");
    const second = await runPipeline(writer, { workspace, params: { n: 5, tag: 200 } });
    expect(second.status).toBe("succeeded");

    const versions = await workspace.catalog.versions("scores");
    expect(versions.map((v) => [v.version, v.status, v.rows, v.live, v.runId])).toEqual([
      [1, "ready", 3, false, first.id],
      [2, "ready", 5, true, second.id],
    ]);
    const read = await runPipeline(reader, { workspace });
    expect(read.outputs.total).toMatchObject({ rows: 5, first: { id: "c0", score: 200 } });

    // The run's lineage names the exact versions read and written.
    expect((await workspace.catalog.lineageOfRun(read.id)).map((l) => [l.step, l.direction, l.dataset, l.version])).toEqual([
      ["total", "read", "scores", 2],
    ]);
    expect((await workspace.catalog.lineageOfRun(second.id)).map((l) => [l.step, l.direction, l.dataset, l.version])).toEqual([
      ["scores", "write", "scores", 2],
      ["publish", "write", "facts", 2],
    ]);

    // The kv dataset got the same documents, found by key.
    const kv = (await workspace.storages.open("kv")).kv!;
    expect(JSON.parse((await kv.get("facts", "c4"))!)).toEqual({ id: "c4", score: 204 });
  });

  it("keeps `keep` versions, and a rollback makes an older one live again", async () => {
    const workspace = open();
    for (const tag of [1, 2, 3]) await runPipeline(writer, { workspace, params: { n: tag, tag } });
    const versions = await workspace.catalog.versions("scores");
    expect(versions.map((v) => [v.version, v.status])).toEqual([
      [1, "dropped"],
      [2, "ready"],
      [3, "ready"],
    ]);
    const hold = await workspace.catalog.holdDataset("scores");
    await goLive(workspace.catalog, hold, await workspace.storages.open("warehouse"), "scores", 2, Date.now());
    await hold.release();
    const read = await runPipeline(reader, { workspace });
    expect(read.outputs.total).toMatchObject({ rows: 2 });
  });

  it("a step waiting for a dataset another writer holds stops waiting at its timeout, and its version never goes live", async () => {
    const workspace = open();
    await runPipeline(writer, { workspace, params: { n: 2, tag: 1 } });
    const patient = pipeline("patient", () => {
      step("scores", { output: scores, timeoutMs: 200 }, () => [{ id: "late", score: 1, day: new Date("2026-01-01") }]);
    });
    const hold = await workspace.catalog.holdDataset("scores"); // another writer, mid-write
    const result = await runPipeline(patient, { workspace });
    await hold.release();
    expect(result.status).toBe("failed");
    expect(result.steps[0]!.error?.code).toBe("STEP_TIMEOUT");
    expect((await workspace.catalog.liveVersion("scores"))?.version).toBe(1);
    // The next writer goes on as usual.
    expect((await runPipeline(writer, { workspace, params: { n: 3, tag: 2 } })).status).toBe("succeeded");
    expect((await runPipeline(reader, { workspace })).outputs.total).toMatchObject({ rows: 3 });
  });

  it("a step writing columns that do not match the schema fails with SCHEMA_MISMATCH and the live version stays", async () => {
    const workspace = open();
    await runPipeline(writer, { workspace, params: { n: 2, tag: 1 } });
    const wrong = pipeline("wrong", () => {
      step("scores", { output: scores }, sql`select 'x' as id, 'not a number' as score, date '2026-01-01' as day`);
    });
    const result = await runPipeline(wrong, { workspace });
    expect(result.status).toBe("failed");
    expect(result.steps[0]!.error?.code).toBe("SCHEMA_MISMATCH");
    expect(result.steps[0]!.error?.message).toContain('column "score" is VARCHAR, the schema says double');
    const versions = await workspace.catalog.versions("scores");
    expect(versions.map((v) => [v.version, v.status, v.live])).toEqual([
      [1, "ready", true],
      [2, "failed", false],
    ]);
    expect((await runPipeline(reader, { workspace })).outputs.total).toMatchObject({ rows: 2 });
  });

  it("a partitioned dataset writes one partition at a time, keeping the others", async () => {
    const workspace = open();
    const daily = dataset("daily_sales", { storage: "warehouse", partitionBy: "day", schema: { day: t.date(), amount: t.double() } });
    const load = pipeline("load", { params: z.object({ day: z.coerce.date(), amount: z.number() }) }, ({ params }) => {
      step("sales", { inputs: { day: params.day, amount: params.amount }, output: daily, partition: params.day }, ({ day, amount }) => [
        { day, amount },
        { day, amount: amount * 2 },
      ]);
    });
    await runPipeline(load, { workspace, params: { day: "2026-01-01", amount: 1 } });
    await runPipeline(load, { workspace, params: { day: "2026-01-02", amount: 10 } });
    await runPipeline(load, { workspace, params: { day: "2026-01-01", amount: 5 } }); // replaces day 1 only
    const sum = pipeline("sum", () => {
      step(
        "byDay",
        { inputs: { daily } },
        sql`select cast(day as varchar) as day, sum(amount) as total from ${daily} group by 1 order by 1`,
      );
    });
    const result = await runPipeline(sum, { workspace });
    expect(await (result.outputs.byDay as { rows(): Promise<unknown[]> }).rows()).toEqual([
      { day: "2026-01-01", total: 15 },
      { day: "2026-01-02", total: 30 },
    ]);
    expect((await workspace.catalog.versions("daily_sales")).map((v) => v.partition)).toEqual(["2026-01-01", "2026-01-02", "2026-01-01"]);
  });

  it("reading a dataset that has no version yet is DATASET_NOT_FOUND", async () => {
    const workspace = open();
    const result = await runPipeline(reader, { workspace });
    expect(result.steps[0]!.error).toMatchObject({ code: "DATASET_NOT_FOUND" });
  });
});

describe("scratch tables", () => {
  it("rows loaded only so that SQL can read them are dropped when the run ends", async () => {
    const workspace = open();
    const p = pipeline("scratch", () => {
      const rows = step("rows", () => [{ a: 1 }, { a: 2 }]);
      step("sum", { inputs: { rows } }, sql`select sum(a) as total from ${"rows"}`);
    });
    const result = await runPipeline(p, { workspace });
    expect(result.status).toBe("succeeded");
    const engine = await workspace.engine();
    expect(await engine.exists({ schema: result.id, table: "rows__input" })).toBe(false);
    expect(await engine.exists({ schema: result.id, table: "sum" })).toBe(true); // outputs stay, for --resume
  });
});

describe("concurrent writers and readers", () => {
  const parts = dataset("parts", {
    storage: "warehouse",
    partitionBy: "day",
    schema: { day: t.string().nullable(), a: t.string(), b: t.string() },
  });
  const writeDay = pipeline("write-day", { params: z.object({ day: z.string() }) }, ({ params }) => {
    // Columns in another order than the schema: a merge must match them by name.
    step(
      "s",
      { inputs: { day: params.day }, output: parts, partition: params.day },
      sql`select ${params.day} as day, 'B-' || ${params.day} as b, 'A-' || ${params.day} as a`,
    );
  });
  const readAll = pipeline("read-all", () => {
    step("r", { inputs: { parts } }, sql`select day, a, b from ${parts} order by day nulls first`);
  });

  it("two runs writing different partitions at once both keep their rows; columns match by name; null partitions stay", async () => {
    const workspace = open();
    const seed = pipeline("seed", () => {
      step("s", { output: parts }, sql`select null::varchar as day, 'nullA' as a, 'nullB' as b union all select 'd0', 'A-d0', 'B-d0'`);
    });
    await runPipeline(seed, { workspace });
    const [one, two] = await Promise.all([
      runPipeline(writeDay, { workspace, params: { day: "d1" } }),
      runPipeline(writeDay, { workspace, params: { day: "d2" } }),
    ]);
    expect([one.status, two.status]).toEqual(["succeeded", "succeeded"]);
    const result = await runPipeline(readAll, { workspace });
    expect(await (result.outputs.r as { rows(): Promise<unknown[]> }).rows()).toEqual([
      { day: null, a: "nullA", b: "nullB" },
      { day: "d0", a: "A-d0", b: "B-d0" },
      { day: "d1", a: "A-d1", b: "B-d1" },
      { day: "d2", a: "A-d2", b: "B-d2" },
    ]);
  });

  it("retention never drops a version that a run in progress has read", async () => {
    const workspace = open();
    const single = dataset("single", { storage: "warehouse", keep: 1, schema: { x: t.bigint() } });
    const write = pipeline("write-single", () => {
      step("s", { output: single }, sql`select 1::bigint as x`);
    });
    let started!: () => void;
    const reading = new Promise<void>((resolve) => (started = resolve));
    let release!: () => void;
    const go = new Promise<void>((resolve) => (release = resolve));
    const read = pipeline("read-twice", () => {
      const a = step("a", { inputs: { single } }, async ({ single }) => {
        const n = await single.count();
        started();
        await go;
        return n;
      });
      step("b", { inputs: { single, a } }, async ({ single }) => single.count());
    });
    await runPipeline(write, { workspace });
    const reader = runPipeline(read, { workspace });
    await reading;
    expect((await runPipeline(write, { workspace })).status).toBe("succeeded"); // v2 goes live; v1 is pinned
    release();
    const result = await reader;
    expect(result.status, JSON.stringify(result.error)).toBe("succeeded");
    expect((await workspace.catalog.versions("single")).map((v) => [v.version, v.status])).toEqual([
      [1, "ready"],
      [2, "ready"],
    ]);
    await runPipeline(write, { workspace }); // no reader now: v1 and v2 go
    expect((await workspace.catalog.versions("single")).map((v) => [v.version, v.status])).toEqual([
      [1, "dropped"],
      [2, "dropped"],
      [3, "ready"],
    ]);
  });
});
