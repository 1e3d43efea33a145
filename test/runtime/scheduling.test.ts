import { afterEach, describe, expect, it } from "vitest";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";
import type { RunEvent } from "../../src/runtime/events.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";

const tick = (ms = 2): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts steps in flight; `max` is the most that ever ran at once. */
function inFlight() {
  const state = { now: 0, max: 0 };
  return {
    state,
    async during<T>(work: () => Promise<T> | T): Promise<T> {
      state.now++;
      state.max = Math.max(state.max, state.now);
      try {
        await tick();
        await tick();
        return await work();
      } finally {
        state.now--;
      }
    },
  };
}

let workspace: Workspace | undefined;
const open = (): Workspace => (workspace = openWorkspace(":memory:"));
afterEach(async () => {
  await workspace?.close();
  workspace = undefined;
});

describe("scheduling", () => {
  it("runs independent steps in parallel, never more than `concurrency` at once", async () => {
    const workspace = open();
    const counter = inFlight();
    const p = pipeline("wide", () => {
      for (let i = 0; i < 7; i++) step(`s${i}`, () => counter.during(() => i));
    });
    const result = await runPipeline(p, { workspace, concurrency: 3 });
    expect(result.status).toBe("succeeded");
    expect(counter.state.max).toBe(3);
    expect(result.steps.every((s) => s.status === "succeeded")).toBe(true);
    expect(result.outputs).toMatchObject({ s0: 0, s6: 6 });
  });

  it("uses the pipeline's own concurrency when the run does not set one", async () => {
    const workspace = open();
    const counter = inFlight();
    const p = pipeline("wide2", { concurrency: 2 }, () => {
      for (let i = 0; i < 5; i++) step(`s${i}`, () => counter.during(() => i));
    });
    await runPipeline(p, { workspace });
    expect(counter.state.max).toBe(2);
  });

  it("defaults to 4 at once", async () => {
    const workspace = open();
    const counter = inFlight();
    const p = pipeline("wide3", () => {
      for (let i = 0; i < 9; i++) step(`s${i}`, () => counter.during(() => i));
    });
    await runPipeline(p, { workspace });
    expect(counter.state.max).toBe(4);
  });

  it("concurrency 1 runs one step at a time", async () => {
    const workspace = open();
    const counter = inFlight();
    const p = pipeline("narrow", { concurrency: 4 }, () => {
      for (let i = 0; i < 4; i++) step(`s${i}`, () => counter.during(() => i));
    });
    await runPipeline(p, { workspace, concurrency: 1 });
    expect(counter.state.max).toBe(1);
  });

  it.each([0, -2, Number.NaN])(
    "a concurrency of %s runs one step at a time instead of hanging",
    async (concurrency) => {
      const workspace = open();
      const counter = inFlight();
      const p = pipeline("zero", () => {
        for (let i = 0; i < 3; i++) step(`s${i}`, () => counter.during(() => i));
      });
      const result = await runPipeline(p, { workspace, concurrency });
      expect(result.status).toBe("succeeded");
      expect(counter.state.max).toBe(1);
    },
    5_000,
  );

  it("runs a chain in order, each step seeing its upstream's value", async () => {
    const workspace = open();
    const order: string[] = [];
    const p = pipeline("chain", () => {
      const a = step("a", async () => {
        await tick(5);
        order.push("a");
        return 1;
      });
      const b = step("b", { inputs: { a } }, async ({ a }) => {
        await tick();
        order.push("b");
        return a + 1;
      });
      step("c", { inputs: { b } }, ({ b }) => {
        order.push("c");
        return b * 10;
      });
      step("d", { after: ["c"] }, () => void order.push("d"));
    });
    const result = await runPipeline(p, { workspace, concurrency: 4 });
    expect(order).toEqual(["a", "b", "c", "d"]);
    expect(result.outputs).toEqual({ a: 1, b: 2, c: 20 });
  });

  it("a failed step's downstream is skipped while an independent branch still succeeds", async () => {
    const workspace = open();
    const ran: string[] = [];
    const events: RunEvent[] = [];
    const p = pipeline("branches", () => {
      const bad = step("bad", () => {
        throw new Error("boom");
      });
      const mid = step("mid", { inputs: { bad } }, () => void ran.push("mid"));
      step("leaf", { inputs: { mid } }, () => void ran.push("leaf"));
      const good = step("good", async () => {
        await tick(5);
        ran.push("good");
        return "ok";
      });
      step("good_next", { inputs: { good } }, ({ good }) => {
        ran.push("good_next");
        return `${good}!`;
      });
    });
    const result = await runPipeline(p, { workspace, onEvent: (e) => events.push(e) });
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("STEP_FAILED");
    expect(result.error?.message).toContain('step "bad" failed: boom');
    const status = Object.fromEntries(result.steps.map((s) => [s.name, s.status]));
    expect(status).toEqual({ bad: "failed", mid: "skipped", leaf: "skipped", good: "succeeded", good_next: "succeeded" });
    expect(ran.sort()).toEqual(["good", "good_next"]);
    const mid = result.steps.find((s) => s.name === "mid")!;
    expect(mid.error).toEqual({ code: "STEP_SKIPPED", message: 'upstream step "bad" failed' });
    expect(mid.attempts).toBe(0);
    expect(events.filter((e) => e.type === "step-skipped").map((e) => e.step)).toEqual(["mid", "leaf"]);
    expect(result.outputs).toEqual({ good: "ok", good_next: "ok!" });

    const stored = await workspace.store.getRun(result.id);
    expect(stored).toMatchObject({ status: "failed", error: { code: "STEP_FAILED" } });
    expect(stored.error?.message).toContain('"bad"');
  });

  it("a step with two upstreams is skipped when one of them fails even if the other succeeds later", async () => {
    const workspace = open();
    let joined = false;
    const p = pipeline("join", () => {
      const slow = step("slow", async () => {
        await tick(10);
        return 1;
      });
      const bad = step("bad", () => {
        throw new Error("nope");
      });
      step("join", { inputs: { slow, bad } }, () => {
        joined = true;
      });
    });
    const result = await runPipeline(p, { workspace });
    expect(joined).toBe(false);
    expect(result.steps.map((s) => [s.name, s.status])).toEqual([
      ["slow", "succeeded"],
      ["bad", "failed"],
      ["join", "skipped"],
    ]);
  });

  it("records the run, its steps and emits events in order", async () => {
    const workspace = open();
    const events: RunEvent[] = [];
    const p = pipeline("events", () => {
      const a = step("a", () => 1);
      step("b", { inputs: { a } }, ({ a }) => a + 1);
    });
    const result = await runPipeline(p, { workspace, trigger: { kind: "test", id: "t-1" }, onEvent: (e) => events.push(e) });
    expect(events.map((e) => e.type)).toEqual([
      "run-started",
      "step-started",
      "step-succeeded",
      "step-started",
      "step-succeeded",
      "run-finished",
    ]);
    expect(result.id).toMatch(/^r[0-9a-z]{18}$/);
    const [run] = await workspace.store.listRuns();
    expect(run).toMatchObject({ id: result.id, pipeline: "events", status: "succeeded", trigger: { kind: "test", id: "t-1" } });
    expect(run!.endedAt).not.toBeNull();
    const steps = await workspace.store.getSteps(result.id);
    expect(steps.map((s) => [s.step, s.status, s.attempts, s.output])).toEqual([
      ["a", "succeeded", 1, { kind: "json", json: "1" }],
      ["b", "succeeded", 1, { kind: "json", json: "2" }],
    ]);
  });

  it("without a workspace, runs in memory and close() releases it", async () => {
    const p = pipeline("mem", () => {
      step("a", () => "x");
    });
    const result = await runPipeline(p);
    expect(result.status).toBe("succeeded");
    expect(result.outputs).toEqual({ a: "x" });
    await result.close();
  });
});
