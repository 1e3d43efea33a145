import { afterEach, describe, expect, it } from "vitest";
import { isStrataError } from "../../src/errors/strata-error.js";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";
import type { RunEvent } from "../../src/runtime/events.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";

let workspace: Workspace | undefined;
const open = (): Workspace => (workspace = openWorkspace(":memory:"));
afterEach(async () => {
  await workspace?.close();
  workspace = undefined;
});

/** Resolves when the signal aborts (a well-behaved long step). */
const untilAborted = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));

describe("cancellation through options.signal", () => {
  it("aborts the running step, skips the steps not started and records the run as cancelled", async () => {
    const workspace = open();
    const controller = new AbortController();
    const started: string[] = [];
    let stepSignal: AbortSignal | undefined;
    const events: RunEvent[] = [];
    const p = pipeline("cancel", () => {
      const a = step("a", async (_inputs, ctx) => {
        started.push("a");
        stepSignal = ctx.signal;
        setTimeout(() => controller.abort(), 5);
        await untilAborted(ctx.signal);
        return 1;
      });
      step("b", { inputs: { a } }, () => void started.push("b"));
      step("c", () => void started.push("c"));
    });
    const result = await runPipeline(p, { workspace, concurrency: 1, signal: controller.signal, onEvent: (e) => events.push(e) });

    expect(result.status).toBe("cancelled");
    expect(result.error).toEqual({ code: "RUN_CANCELLED", message: "the run was cancelled" });
    expect(started).toEqual(["a"]);
    expect(stepSignal?.aborted).toBe(true);
    const reason: unknown = stepSignal?.reason;
    expect(isStrataError(reason) && reason.code).toBe("RUN_CANCELLED");
    const status = Object.fromEntries(result.steps.map((s) => [s.name, s.status]));
    expect(status).toEqual({ a: "cancelled", b: "skipped", c: "skipped" });
    expect(result.steps.find((s) => s.name === "a")?.error?.code).toBe("RUN_CANCELLED");
    expect(result.steps.find((s) => s.name === "c")?.error).toEqual({ code: "STEP_SKIPPED", message: "the run was cancelled" });
    // b waits on a, which was aborted by the cancel: its reason is the cancel, not a failure.
    expect(result.steps.find((s) => s.name === "b")?.error).toEqual({ code: "STEP_SKIPPED", message: "the run was cancelled" });
    expect(events.at(-1)).toMatchObject({ type: "run-finished", run: { status: "cancelled" } });
    expect(await workspace.store.getRun(result.id)).toMatchObject({ status: "cancelled", error: { code: "RUN_CANCELLED" } });
  });

  it("a step that ignores its signal is still abandoned when the run is cancelled", async () => {
    const workspace = open();
    const controller = new AbortController();
    const p = pipeline("stubborn", () => {
      step("a", async () => {
        setTimeout(() => controller.abort(), 5);
        await new Promise<never>(() => undefined);
      });
    });
    const result = await runPipeline(p, { workspace, signal: controller.signal });
    expect(result.status).toBe("cancelled");
  });

  it("a signal aborted before the run starts runs no step", async () => {
    const workspace = open();
    const controller = new AbortController();
    controller.abort();
    let calls = 0;
    const p = pipeline("pre-cancelled", () => {
      const a = step("a", () => ++calls);
      step("b", { inputs: { a } }, () => ++calls);
      step("c", () => ++calls);
    });
    const result = await runPipeline(p, { workspace, signal: controller.signal });
    expect(calls).toBe(0);
    expect(result.status).toBe("cancelled");
    expect(result.steps.map((s) => s.status)).toEqual(["skipped", "skipped", "skipped"]);
  });

  it("cancelling during a retry backoff ends the run without waiting out the delay", async () => {
    const workspace = open();
    const controller = new AbortController();
    let attempts = 0;
    const p = pipeline("backoff-cancel", () => {
      step("flaky", { retries: { max: 3, delayMs: 600_000 } }, () => {
        attempts++;
        throw new Error("down");
      });
      step("later", { after: ["flaky"] }, () => 1);
    });
    const result = await runPipeline(p, {
      workspace,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "step-retry") setTimeout(() => controller.abort(), 5);
      },
    });
    expect(attempts).toBe(1);
    expect(result.status).toBe("cancelled");
    expect(result.steps.map((s) => [s.name, s.status, s.error?.code])).toEqual([
      ["flaky", "cancelled", "RUN_CANCELLED"],
      ["later", "skipped", "STEP_SKIPPED"],
    ]);
  });
});
