import { describe, expect, it } from "vitest";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";

const tempDir = tempDirEachTest("strata-models-");
const workspaces = closeEachTest<Workspace>();

const trainer = pipeline("train", () => {
  step("fit", async (_inputs, ctx) => {
    const model = await ctx.registerModel(
      "customer-value",
      { algorithm: "bg-nbd", params: { r: 0.243, alpha: 4.414 }, metrics: { mae: 0.8 }, artifact: { format: "strata.cltv-model" } },
      { alias: "candidate" },
    );
    return model.version;
  });
});

describe("model registry", () => {
  it("a step registers numbered versions with their metrics, lineage and an alias", async () => {
    const workspace = workspaces.track(openWorkspace(tempDir()));
    const first = await runPipeline(trainer, { workspace });
    const second = await runPipeline(trainer, { workspace });
    expect([first.outputs.fit, second.outputs.fit]).toEqual([1, 2]);
    const versions = await workspace.models.versions("customer-value");
    expect(versions.map((v) => [v.version, v.algorithm, v.runId, v.step, v.aliases])).toEqual([
      [1, "bg-nbd", first.id, "fit", []],
      [2, "bg-nbd", second.id, "fit", ["candidate"]],
    ]);
    expect(versions[1]).toMatchObject({
      params: { r: 0.243, alpha: 4.414 },
      metrics: { mae: 0.8 },
      artifact: { format: "strata.cltv-model" },
    });
    expect((await workspace.models.get("customer-value", "candidate")).version).toBe(2);
    await workspace.models.setAlias("customer-value", "live", 1, Date.now());
    expect((await workspace.models.get("customer-value", "live")).version).toBe(1);
    expect(await workspace.models.names()).toEqual(["customer-value"]);
  });

  it("names what exists when a model, version or alias is unknown", async () => {
    const workspace = workspaces.track(openWorkspace(tempDir()));
    await expect(workspace.models.get("nope", 1)).rejects.toMatchObject({
      code: "MODEL_NOT_FOUND",
      message: 'no model named "nope" is registered',
    });
    await runPipeline(trainer, { workspace });
    await expect(workspace.models.get("customer-value", "live")).rejects.toMatchObject({
      code: "MODEL_NOT_FOUND",
      message: 'model "customer-value" has no version or alias "live" (versions: 1)',
    });
    await expect(workspace.models.setAlias("customer-value", "live", 7, Date.now())).rejects.toMatchObject({ code: "MODEL_NOT_FOUND" });
  });
});
