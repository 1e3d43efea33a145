import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { t } from "../../src/data/column-types.js";
import { dataset } from "../../src/pipeline/dataset.js";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { sql } from "../../src/pipeline/sql.js";
import { step } from "../../src/pipeline/step.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";
import { postgresUrl, uniqueName } from "../helpers/services.js";

const tempDir = tempDirEachTest("strata-pg-metadata-");
const workspaces = closeEachTest<Workspace>();
let schema: string;
beforeEach(() => {
  schema = uniqueName("run_meta");
});
afterEach(async () => {
  await workspaces.closeAll();
  const client = new pg.Client({ connectionString: postgresUrl() });
  await client.connect();
  await client.query(`drop schema if exists "${schema}" cascade`);
  await client.end();
});

/** A workspace whose runs, catalog and models are in this test's Postgres schema; tables stay in DuckDB. */
const open = (): Workspace =>
  workspaces.track(openWorkspace(tempDir(), { metadata: { technology: "postgres", url: postgresUrl(), schema } }));

const scores = dataset("scores", { storage: "warehouse", key: "id", keep: 2, schema: { id: t.string(), score: t.double() } });

const writer = pipeline("writer", { params: z.object({ n: z.number().int().min(1) }) }, ({ params }) => {
  const written = step(
    "scores",
    { inputs: { n: params.n }, output: scores },
    sql`select 'c' || range as id, range * 1.5 as score from range(${params.n})`,
  );
  step("fit", { inputs: { written } }, async ({ written }, ctx) => {
    const model = await ctx.registerModel("scorer", { algorithm: "mean", params: { rows: await written.count() } }, { alias: "candidate" });
    return model.version;
  });
});

const reader = pipeline("reader", () => {
  step("total", { inputs: { scores } }, async ({ scores }) => scores.count());
});

describe("a run with its metadata on Postgres", () => {
  it("records runs, dataset versions, lineage and models there, for every process to read", async () => {
    const workspace = open();
    const first = await runPipeline(writer, { workspace, params: { n: 3 } });
    const second = await runPipeline(writer, { workspace, params: { n: 5 } });
    expect([first.status, second.status]).toEqual(["succeeded", "succeeded"]);
    expect(second.outputs.fit).toBe(2);
    const read = await runPipeline(reader, { workspace });
    expect(read.outputs.total).toBe(5);

    // Another process (another pool) on the same schema sees all of it.
    const other = open();
    expect((await other.store.listRuns()).map((r) => [r.id, r.pipeline, r.status])).toEqual([
      [read.id, "reader", "succeeded"],
      [second.id, "writer", "succeeded"],
      [first.id, "writer", "succeeded"],
    ]);
    expect((await other.store.getSteps(second.id)).map((s) => [s.step, s.status, s.attempts])).toEqual([
      ["scores", "succeeded", 1],
      ["fit", "succeeded", 1],
    ]);
    expect((await other.store.getLogs(second.id)).length).toBeGreaterThan(0);
    expect((await other.catalog.versions("scores")).map((v) => [v.version, v.status, v.rows, v.live, v.runId])).toEqual([
      [1, "ready", 3, false, first.id],
      [2, "ready", 5, true, second.id],
    ]);
    expect((await other.catalog.lineageOfRun(read.id)).map((l) => [l.step, l.direction, l.dataset, l.version])).toEqual([
      ["total", "read", "scores", 2],
    ]);
    expect(await other.models.get("scorer", "candidate")).toMatchObject({ version: 2, params: { rows: 5 }, runId: second.id, step: "fit" });
    expect((await other.store.getRun(second.id.slice(0, 16))).id).toBe(second.id);
  });
});
