import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { t } from "../../src/data/column-types.js";
import { dataset } from "../../src/pipeline/dataset.js";
import { ingest } from "../../src/pipeline/ingest.js";
import { expect as expectOn, pipeline } from "../../src/pipeline/pipeline.js";
import { replayQuarantine } from "../../src/runtime/replay.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { storage } from "../../src/storage/storage-definition.js";
import { range, unique } from "../../src/validation/expectations.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";
import { postgresUrl, uniqueName } from "../helpers/services.js";

const tempDir = tempDirEachTest("strata-validation-servers-");
const workspaces = closeEachTest<Workspace>();

const columns = () => ({ id: t.string(), day: t.date("%Y%m%d"), amount: t.double().min(0) });
const raw = dataset("raw_orders", { storage: "lake", path: "orders.csv", csv: { header: true }, schema: columns(), quarantine: true });

describe("validation with a Postgres clean dataset", () => {
  it("ingests into Postgres, drops rows there by expectation, and replays into it", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "orders.csv"), "id,day,amount\na,19970101,1\nb,19970102,-1\nc,19970103,300\nd,19970104,4\n");
    const workspace = workspaces.track(
      openWorkspace(join(dir, ".strata"), {
        projectDir: dir,
        env: { PG_URL: postgresUrl() },
        storages: [
          storage("lake", { technology: "files", format: "files", options: { path: "data" } }),
          storage("shared", { technology: "postgres", format: "table", options: { urlEnv: "PG_URL", schema: uniqueName("v") } }),
        ],
      }),
    );
    const orders = dataset("orders", { storage: "shared", schema: columns() });
    const p = pipeline("orders", () => {
      const clean = ingest("ingest", { from: raw, to: orders });
      expectOn(clean, [unique("id"), range("amount", { max: 100 }, { severity: "drop" })]);
    });
    const result = await runPipeline(p, { workspace });
    expect(result.status).toBe("succeeded");
    expect(result.validations.map((v) => [v.kind, v.dataset, v.counts])).toEqual([
      ["records", "raw_orders", { read: 4, clean: 3, quarantined: 1, newlyQuarantined: 1, restored: 0 }],
      ["expectations", "orders", null],
    ]);
    const engine = (await workspace.storages.open("shared")).tables!;
    const live = await workspace.catalog.liveVersion("orders");
    expect(live?.rows).toBe(2);
    const rows = await engine.readRows({ schema: engine.datasetSchema, table: "orders" });
    expect(rows.map((r) => r.id).sort()).toEqual(["a", "d"]);

    // The expectation's drop is in the quarantine of "orders"; the raw reject in that of "raw_orders".
    const store = await workspace.quarantine();
    expect((await store.list("orders")).map((r) => [r.values?.id, r.reasons[0]?.rule])).toEqual([["c", "range:amount"]]);
    const [negative] = await store.list("raw_orders");
    await store.annotate([negative!.id], { note: "refund, sign lost", fixes: { amount: "1" }, at: Date.now() });
    const replayed = await replayQuarantine(
      workspace,
      raw,
      new Map([
        ["raw_orders", raw],
        ["orders", orders],
      ]),
    );
    expect(replayed).toMatchObject({ passed: 1, version: 2 });
    const after = await engine.readRows({ schema: engine.datasetSchema, table: "orders" });
    expect(after.map((r) => [r.id, r.amount]).sort()).toEqual([
      ["a", 1],
      ["b", 1],
      ["d", 4],
    ]);
  });
});
