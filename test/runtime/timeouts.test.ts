import { afterEach, describe, expect, it } from "vitest";
import { TestClock } from "../../src/clock/clock.js";
import { isStrataError } from "../../src/errors/strata-error.js";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";

let workspace: Workspace | undefined;
const open = (): Workspace => (workspace = openWorkspace(":memory:"));
afterEach(async () => {
  await workspace?.close();
  workspace = undefined;
});

const forever = (): Promise<never> => new Promise<never>(() => undefined);

describe("step timeouts", () => {
  it("a step that outlives timeoutMs fails with STEP_TIMEOUT and its signal is aborted", async () => {
    const workspace = open();
    const signals: AbortSignal[] = [];
    let downstreamRan = false;
    const p = pipeline("slow", () => {
      const slow = step("slow", { timeoutMs: 50 }, async (_inputs, ctx) => {
        signals.push(ctx.signal);
        await forever();
      });
      step("after_slow", { inputs: { slow } }, () => {
        downstreamRan = true;
      });
    });
    const result = await runPipeline(p, { workspace });
    expect(result.status).toBe("failed");
    expect(result.error).toEqual({ code: "STEP_TIMEOUT", message: 'step "slow" failed: step "slow" timed out after 50 ms' });
    expect(result.steps.map((s) => [s.name, s.status])).toEqual([
      ["slow", "failed"],
      ["after_slow", "skipped"],
    ]);
    expect(downstreamRan).toBe(false);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
    const reason: unknown = signals[0]!.reason;
    expect(isStrataError(reason) && reason.code).toBe("STEP_TIMEOUT");
    const attempts = await workspace.store.getAttempts(result.id);
    expect(attempts).toEqual([
      expect.objectContaining({ status: "failed", error: expect.objectContaining({ code: "STEP_TIMEOUT", retryable: true }) as unknown }),
    ]);
  });

  it("a timed-out step is retried: every attempt gets a fresh signal and times out", async () => {
    const workspace = open();
    const clock = new TestClock();
    const signals: AbortSignal[] = [];
    const p = pipeline("slow-retry", () => {
      step("slow", { timeoutMs: 30, retries: { max: 2, delayMs: 5, jitter: 0 } }, async (_inputs, ctx) => {
        signals.push(ctx.signal);
        await forever();
      });
    });
    const result = await runPipeline(p, { workspace, clock });
    expect(result.steps[0]).toMatchObject({ status: "failed", attempts: 3, error: { code: "STEP_TIMEOUT" } });
    expect(clock.sleeps).toEqual([5, 10]);
    expect(signals).toHaveLength(3);
    expect(new Set(signals).size).toBe(3);
    expect(signals.every((s) => s.aborted)).toBe(true);
    const attempts = await workspace.store.getAttempts(result.id);
    expect(attempts.map((a) => [a.attempt, a.error?.code])).toEqual([
      [1, "STEP_TIMEOUT"],
      [2, "STEP_TIMEOUT"],
      [3, "STEP_TIMEOUT"],
    ]);
  });

  it("a step that times out once and then finishes in time succeeds", async () => {
    const workspace = open();
    const p = pipeline("slow-once", () => {
      step("s", { timeoutMs: 40, retries: { max: 1, delayMs: 0 } }, async (_inputs, ctx) => {
        if (ctx.attempt === 1) await forever();
        return ctx.attempt;
      });
    });
    const result = await runPipeline(p, { workspace, clock: new TestClock() });
    expect(result.status).toBe("succeeded");
    expect(result.outputs).toEqual({ s: 2 });
  });

  it("a step that finishes within its budget is not aborted", async () => {
    const workspace = open();
    let signal: AbortSignal | undefined;
    const p = pipeline("fast", () => {
      step("fast", { timeoutMs: 5_000 }, (_inputs, ctx) => {
        signal = ctx.signal;
        return 1;
      });
    });
    const result = await runPipeline(p, { workspace });
    expect(result.status).toBe("succeeded");
    expect(signal?.aborted).toBe(false);
  });
});
