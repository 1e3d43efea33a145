import { afterEach, describe, expect, it } from "vitest";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";
import { START_RECORD_MS } from "../../src/runtime/attempt-start.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import type { AttemptRecord, StepRecord } from "../../src/storage/run-store.js";

let workspace: Workspace | undefined;
afterEach(async () => {
  await workspace?.close();
  workspace = undefined;
});

/** A workspace whose store reports every saveAttempt: the attempt's status, and whether it opened the attempt. */
function recording(): { workspace: Workspace; saves: string[] } {
  const opened = openWorkspace(":memory:");
  workspace = opened;
  const saves: string[] = [];
  const save = opened.store.saveAttempt.bind(opened.store);
  opened.store.saveAttempt = (attempt: AttemptRecord, s: StepRecord, opens?: boolean) => {
    saves.push(`${attempt.status}${(opens ?? attempt.status === "running") ? " opens" : ""}`);
    return save(attempt, s, opens);
  };
  return { workspace: opened, saves };
}

describe("an attempt's start", () => {
  it("of a short step is recorded with its end, in one write", async () => {
    const { workspace, saves } = recording();
    const p = pipeline("quick", () => {
      step("quick", () => 1);
    });
    const result = await runPipeline(p, { workspace });
    expect(result.status).toBe("succeeded");
    expect(saves).toEqual(["succeeded opens"]);
    const [attempt] = await workspace.store.getAttempts(result.id);
    expect(attempt).toMatchObject({ attempt: 1, status: "succeeded" });
    expect(attempt!.startedAt).toBeLessThanOrEqual(attempt!.endedAt!);
  });

  it("of a long step is recorded once it has run a while, so the step shows running", async () => {
    const { workspace, saves } = recording();
    let runId = "";
    let seen: string | undefined;
    const p = pipeline("slow", () => {
      step("slow", async () => {
        await new Promise((done) => setTimeout(done, START_RECORD_MS * 3));
        seen = (await workspace.store.getSteps(runId))[0]?.status;
        return 1;
      });
    });
    const result = await runPipeline(p, { workspace, onEvent: (e) => (e.type === "run-started" ? (runId = e.run.id) : undefined) });
    expect(result.status).toBe("succeeded");
    expect(seen).toBe("running");
    expect(saves).toEqual(["running opens", "succeeded"]);
  });
});
