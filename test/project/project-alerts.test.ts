import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadProject } from "../../src/project/load-project.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace } from "../../src/runtime/workspace.js";
import { makeProject } from "../cli/helpers.js";
import { startWebhookSink, type WebhookSink } from "../helpers/webhook-sink.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("the project's onFailure (strata.config.ts)", () => {
  it("tells who the project names when a pipeline that names nobody fails; a pipeline's own onFailure, even [], wins", async () => {
    const sink: WebhookSink = await startWebhookSink();
    cleanups.push(() => sink.close());
    const project = makeProject("control");
    cleanups.push(project.cleanup);
    writeFileSync(
      join(project.dir, "strata.config.ts"),
      `import { defineProject, notify } from "strata";
export default defineProject({ name: "alerts", onFailure: [notify.webhook({ url: "${sink.url}/project" })] });
`,
    );
    writeFileSync(
      join(project.dir, "pipelines", "failing.ts"),
      `import { notify, pipeline, step } from "strata";
const boom = () => step("load", () => { throw new Error("boom"); });
export const silent = pipeline("silent", {}, boom);
export const own = pipeline("own", { onFailure: [notify.webhook({ url: "${sink.url}/own" })] }, boom);
export const quiet = pipeline("quiet", { onFailure: [] }, boom);
export const fine = pipeline("fine", {}, () => step("load", () => 1));
`,
    );
    const loaded = await loadProject(project.dir);
    const workspace = openWorkspace(join(project.dir, ".strata"), { projectDir: project.dir });
    cleanups.push(() => workspace.close());
    for (const name of ["silent", "own", "quiet", "fine"]) await runPipeline(loaded.pipeline(name), { workspace });

    expect(sink.received.map((h) => [h.path, h.body.pipeline, h.body.status, h.body.failedStep])).toEqual([
      ["/project", "silent", "failed", "load"],
      ["/own", "own", "failed", "load"],
    ]);
  });
});
