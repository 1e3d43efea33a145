import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { StoreError } from "../../src/errors/errors.js";
import { notify } from "../../src/pipeline/hooks.js";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import type { AttemptRecord, RunStore, StepRecord } from "../../src/storage/run-store.js";
import { tempDirEachTest } from "../helpers/resources.js";
import { startWebhookSink } from "../helpers/webhook-sink.js";

const tempDir = tempDirEachTest("strata-robust-");
let workspace: Workspace | undefined;
afterEach(async () => {
  await workspace?.close();
  workspace = undefined;
});

describe("the runner's own failures never repeat or hide a step's work", () => {
  it("a listener that throws does not rerun a step that succeeded", async () => {
    workspace = openWorkspace(":memory:");
    let calls = 0;
    const p = pipeline("listener", () => {
      step("once", { retries: 3 }, () => ++calls);
    });
    const result = await runPipeline(p, {
      workspace,
      onEvent: (e) => {
        if (e.type === "step-succeeded") throw new Error("listener bug");
      },
    });
    expect(calls).toBe(1);
    expect(result.status).toBe("succeeded");
    const logs = (await workspace.store.getLogs(result.id)).map((l) => JSON.parse(l.line) as { msg: string });
    expect(logs.some((l) => l.msg.includes("an onEvent listener threw"))).toBe(true);
  });

  it("a resume validates the params as first given, so transforms apply once", async () => {
    workspace = openWorkspace(tempDir());
    let fail = true;
    const seen: number[] = [];
    const p = pipeline("transform", { params: z.object({ n: z.number().transform((x) => x * 2) }) }, ({ params }) => {
      step("use", { inputs: { n: params.n } }, ({ n }) => {
        seen.push(n);
        if (fail) throw new Error("first time");
        return n;
      });
    });
    const first = await runPipeline(p, { workspace, params: { n: 5 } });
    fail = false;
    const second = await runPipeline(p, { workspace, resume: first.id });
    expect(seen).toEqual([10, 10]);
    expect(second.params).toEqual({ n: 10 });
    expect(second.inputParams).toEqual({ n: 5 });
  });

  it("a store write failing mid-run ends the run as failed with the store's error, not 'running'", async () => {
    const real = openWorkspace(tempDir());
    workspace = real;
    // The real SQLite store, with one write made to fail as a full disk would.
    const failing = (attempt: AttemptRecord, stepRecord: StepRecord): Promise<boolean> =>
      attempt.step === "b" && attempt.status === "succeeded"
        ? Promise.reject(new StoreError("STORE_FAILED", "disk full"))
        : real.store.saveAttempt(attempt, stepRecord);
    const store = new Proxy(real.store, {
      get: (target, key) => {
        if (key === "saveAttempt") return failing;
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as RunStore;
    const sink = await startWebhookSink();
    try {
      const p = pipeline("store-fails", { onFailure: [notify.webhook({ url: `${sink.url}/alert` })] }, () => {
        const a = step("a", () => 1);
        step("b", { inputs: { a } }, ({ a }) => a + 1);
        step("c", () => 3);
      });
      await expect(runPipeline(p, { workspace: { ...real, store }, concurrency: 1 })).rejects.toMatchObject({ code: "STORE_FAILED" });
      const [run] = await real.store.listRuns();
      expect(run).toMatchObject({ status: "failed", error: { code: "STORE_FAILED", message: "disk full" } });
      // Its alert went out from the run's own process, and nothing is left due for a control plane.
      expect(sink.received.map((r) => [r.body.runId, r.body.errorCode])).toEqual([[run!.id, "STORE_FAILED"]]);
      expect(await real.store.dueHooks(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    } finally {
      await sink.close();
    }
  });
});
