import { afterEach, describe, expect, it } from "vitest";
import { TestClock } from "../../src/clock/clock.js";
import { NonRetryableError } from "../../src/errors/errors.js";
import { pipeline } from "../../src/pipeline/pipeline.js";
import type { RetryOptions } from "../../src/pipeline/retry-policy.js";
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

const START = Date.UTC(2026, 0, 1);

/** A pipeline of one step that fails `failures` times (forever when Infinity), then returns "done". */
function flaky(retries: number | RetryOptions, failures: number, makeError: (attempt: number) => unknown = (n) => new Error(`fail ${n}`)) {
  const seen: number[] = [];
  const p = pipeline("flaky", () => {
    step("flaky", { retries }, (_inputs, ctx) => {
      seen.push(ctx.attempt);
      if (seen.length <= failures) throw makeError(ctx.attempt);
      return "done";
    });
  });
  return { p, seen };
}

describe("retries", () => {
  it("waits the exact backoff delays on the injected clock (factor, cap, jitter)", async () => {
    const workspace = open();
    const clock = new TestClock(START);
    const events: RunEvent[] = [];
    const { p, seen } = flaky({ max: 3, delayMs: 100, factor: 3, maxDelayMs: 500, jitter: 0.5 }, Infinity);
    const result = await runPipeline(p, { workspace, clock, random: () => 0.5, onEvent: (e) => events.push(e) });

    // base 100, 300, min(900, 500); each minus jitter * random = 25 %
    expect(clock.sleeps).toEqual([75, 225, 375]);
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(result.status).toBe("failed");
    expect(result.steps[0]).toMatchObject({
      name: "flaky",
      status: "failed",
      attempts: 4,
      error: { code: "STEP_FAILED", message: "fail 4" },
    });
    expect(events.filter((e) => e.type === "step-retry").map((e) => (e.type === "step-retry" ? [e.attempt, e.delayMs] : null))).toEqual([
      [1, 75],
      [2, 225],
      [3, 375],
    ]);

    const attempts = await workspace.store.getAttempts(result.id);
    expect(attempts.map((a) => [a.attempt, a.status, a.error?.code, a.error?.retryable, a.startedAt - START])).toEqual([
      [1, "failed", "STEP_FAILED", true, 0],
      [2, "failed", "STEP_FAILED", true, 75],
      [3, "failed", "STEP_FAILED", true, 300],
      [4, "failed", "STEP_FAILED", true, 675],
    ]);
    expect(attempts.map((a) => a.error?.message)).toEqual(["fail 1", "fail 2", "fail 3", "fail 4"]);
  });

  it("a retry count uses the defaults: 1000 ms, doubling, 20 % jitter", async () => {
    const workspace = open();
    const clock = new TestClock();
    const { p } = flaky(2, Infinity);
    await runPipeline(p, { workspace, clock, random: () => 0.5 });
    expect(clock.sleeps).toEqual([900, 1800]);
  });

  it("no jitter with random 0, and jitter 1 with random 0.5 halves the delay", async () => {
    const workspace = open();
    const first = new TestClock();
    await runPipeline(flaky({ max: 2, delayMs: 40 }, Infinity).p, { workspace, clock: first, random: () => 0 });
    expect(first.sleeps).toEqual([40, 80]);
    const second = new TestClock();
    await runPipeline(flaky({ max: 2, delayMs: 40, jitter: 1 }, Infinity).p, { workspace, clock: second, random: () => 0.5 });
    expect(second.sleeps).toEqual([20, 40]);
  });

  it("stops retrying once an attempt succeeds, and records every attempt", async () => {
    const workspace = open();
    const clock = new TestClock(START);
    const { p, seen } = flaky({ max: 5, delayMs: 10, jitter: 0 }, 2);
    const result = await runPipeline(p, { workspace, clock, random: () => 0.5 });
    expect(result.status).toBe("succeeded");
    expect(seen).toEqual([1, 2, 3]);
    expect(clock.sleeps).toEqual([10, 20]);
    expect(result.steps[0]).toMatchObject({ status: "succeeded", attempts: 3, error: null });
    expect(result.outputs).toEqual({ flaky: "done" });
    const attempts = await workspace.store.getAttempts(result.id);
    expect(attempts.map((a) => [a.attempt, a.status, a.error?.code ?? null])).toEqual([
      [1, "failed", "STEP_FAILED"],
      [2, "failed", "STEP_FAILED"],
      [3, "succeeded", null],
    ]);
    expect(attempts[2]!.endedAt).not.toBeNull();
  });

  it("NonRetryableError stops after one attempt", async () => {
    const workspace = open();
    const clock = new TestClock();
    const { p, seen } = flaky(5, Infinity, () => new NonRetryableError("bad input"));
    const result = await runPipeline(p, { workspace, clock, random: () => 0.5 });
    expect(seen).toEqual([1]);
    expect(clock.sleeps).toEqual([]);
    expect(result.status).toBe("failed");
    expect(result.error).toEqual({ code: "STEP_NON_RETRYABLE", message: 'step "flaky" failed: bad input' });
    const attempts = await workspace.store.getAttempts(result.id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ status: "failed", error: { code: "STEP_NON_RETRYABLE", message: "bad input", retryable: false } });
  });

  it("an Error with `retryable = false` stops after one attempt too", async () => {
    const workspace = open();
    const clock = new TestClock();
    const { p, seen } = flaky(5, Infinity, () => Object.assign(new Error("quota gone"), { retryable: false }));
    const result = await runPipeline(p, { workspace, clock, random: () => 0.5 });
    expect(seen).toEqual([1]);
    expect(clock.sleeps).toEqual([]);
    expect(result.steps[0]).toMatchObject({ status: "failed", attempts: 1, error: { code: "STEP_FAILED", message: "quota gone" } });
    const attempts = await workspace.store.getAttempts(result.id);
    expect(attempts.map((a) => a.error)).toEqual([{ code: "STEP_FAILED", message: "quota gone", retryable: false }]);
  });

  it("a thrown non-Error is retried and described", async () => {
    const workspace = open();
    const clock = new TestClock();
    const { p, seen } = flaky(1, Infinity, () => "plain string");
    const result = await runPipeline(p, { workspace, clock, random: () => 0.5 });
    expect(seen).toEqual([1, 2]);
    expect(result.steps[0]!.error).toEqual({ code: "STEP_FAILED", message: "plain string" });
  });

  it("without retries a failing step has one attempt", async () => {
    const workspace = open();
    const clock = new TestClock();
    const { p, seen } = flaky(0, Infinity);
    const result = await runPipeline(p, { workspace, clock });
    expect(seen).toEqual([1]);
    expect(clock.sleeps).toEqual([]);
    expect(result.steps[0]!.attempts).toBe(1);
  });

  it("a run ended during a retry's backoff: the next attempt does not start, and the step is recorded cancelled", async () => {
    const workspace = open();
    const { p, seen } = flaky({ max: 3, delayMs: 100 }, Infinity);
    let runId = "";
    // The run is ended by someone else (a worker lacking the pipeline, a settle) while the step waits.
    const clock = new TestClock(START);
    const sleep = clock.sleep.bind(clock);
    clock.sleep = async (ms, signal) => {
      await workspace.store.finishRun(runId, "failed", clock.now(), { code: "STEP_NOT_FOUND", message: "ended elsewhere" });
      return sleep(ms, signal);
    };
    const running = runPipeline(p, { workspace, clock, onEvent: (e) => (e.type === "run-started" ? (runId = e.run.id) : undefined) });
    await expect(running).rejects.toMatchObject({ code: "RUN_FINISHED" });
    expect(seen).toEqual([1]);
    const [stepRecord] = await workspace.store.getSteps(runId);
    expect(stepRecord).toMatchObject({ status: "cancelled", attempts: 1, error: { code: "RUN_FINISHED" } });
    expect((await workspace.store.getAttempts(runId)).map((a) => a.status)).toEqual(["failed"]);
    expect((await workspace.store.getRun(runId)).error?.code).toBe("STEP_NOT_FOUND");
  });
});
