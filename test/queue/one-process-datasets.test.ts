import { describe, expect, it } from "vitest";
import { t } from "../../src/data/column-types.js";
import { dataset } from "../../src/pipeline/dataset.js";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";
import { oneProcessDatasets } from "../../src/queue/one-process-datasets.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";

const tempDir = tempDirEachTest("strata-one-process-");
const workspaces = closeEachTest<Workspace>();

const schema = { id: t.string(), score: t.double() };
const local = dataset("local_scores", { storage: "warehouse", key: "id", schema });
const lake = dataset("lake_scores", { storage: "lake", key: "id", schema });
const served = dataset("served", { storage: "kv", key: "id", schema });

describe("oneProcessDatasets", () => {
  it("names the datasets, read or written, kept in an embedded DuckDB file (the built-in warehouse or a declared one)", async () => {
    const workspace = workspaces.track(
      openWorkspace(tempDir(), { storages: [{ name: "lake", technology: "duckdb", format: "table", options: { path: "lake.duckdb" } }] }),
    );
    const writes = pipeline("writes", () => {
      step("score", { output: local }, () => [{ id: "a", score: 1 }]);
    });
    const reads = pipeline("reads", () => {
      step("publish", { inputs: { local, lake }, output: served }, async ({ local }) => local.rows());
    });
    expect(await oneProcessDatasets([writes, reads], workspace.storages)).toEqual([
      { dataset: "lake_scores", storage: "lake" },
      { dataset: "local_scores", storage: "warehouse" },
    ]);
  });

  it("names none when every dataset is in a storage several processes reach", async () => {
    const workspace = workspaces.track(openWorkspace(tempDir()));
    const kvOnly = pipeline("kv-only", () => {
      step("publish", { output: served }, () => [{ id: "a", score: 1 }]);
    });
    expect(await oneProcessDatasets([kvOnly], workspace.storages)).toEqual([]);
  });
});
