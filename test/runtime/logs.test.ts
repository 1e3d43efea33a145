import { afterEach, describe, expect, it } from "vitest";
import { TestClock } from "../../src/clock/clock.js";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";

interface Line {
  level: number;
  time: number;
  msg: string;
  runId: string;
  triggerId: string;
  pipeline: string;
  step?: string;
  attempt?: number;
  [key: string]: unknown;
}

let workspace: Workspace | undefined;
const open = (): Workspace => (workspace = openWorkspace(":memory:"));
afterEach(async () => {
  await workspace?.close();
  workspace = undefined;
});

const logged = pipeline("logged", () => {
  const fetchRows = step("fetch", { retries: { max: 1, delayMs: 1 } }, (_inputs, ctx) => {
    ctx.log.info({ rows: 3, attemptSeen: ctx.attempt }, "fetched rows");
    if (ctx.attempt === 1) throw new Error("flaky network");
    return 3;
  });
  step("report", { inputs: { fetchRows } }, ({ fetchRows }, ctx) => {
    ctx.log.warn({ n: fetchRows }, "few rows");
    return fetchRows;
  });
});

describe("run logs", () => {
  it("every line is JSON carrying runId, triggerId, and step and attempt inside a step", async () => {
    const workspace = open();
    const result = await runPipeline(logged, { workspace, clock: new TestClock(), trigger: { kind: "test", id: "trig-42" } });
    expect(result.status).toBe("succeeded");
    const records = await workspace.store.getLogs(result.id);
    expect(records.length).toBeGreaterThan(5);
    const lines = records.map((r) => JSON.parse(r.line) as Line);
    for (const [i, line] of lines.entries()) {
      expect(line).toMatchObject({ runId: result.id, triggerId: "trig-42", pipeline: "logged" });
      expect(records[i]).toMatchObject({
        runId: result.id,
        step: line.step ?? null,
        attempt: line.attempt ?? null,
        level: line.level,
        time: line.time,
      });
    }
    expect(lines[0]).toMatchObject({ msg: "run started" });
    expect(lines[0]!.step).toBeUndefined();
    expect(lines.at(-1)).toMatchObject({ msg: "run finished", status: "succeeded" });
  });

  it("keeps ctx.log lines from inside a step, with the attempt they came from", async () => {
    const workspace = open();
    const result = await runPipeline(logged, { workspace, clock: new TestClock() });
    const lines = (await workspace.store.getLogs(result.id)).map((r) => JSON.parse(r.line) as Line);
    const fetched = lines.filter((l) => l.msg === "fetched rows");
    expect(fetched.map((l) => [l.step, l.attempt, l.attemptSeen, l.rows])).toEqual([
      ["fetch", 1, 1, 3],
      ["fetch", 2, 2, 3],
    ]);
    expect(lines.find((l) => l.msg === "few rows")).toMatchObject({ step: "report", attempt: 1, n: 3, level: 40 });
    const failedAttempt = lines.find((l) => l.msg === "attempt failed, will retry");
    expect(failedAttempt).toMatchObject({ step: "fetch", attempt: 1, code: "STEP_FAILED", level: 50 });
    expect(JSON.stringify(failedAttempt)).toContain("flaky network");
  });

  it("filters by step", async () => {
    const workspace = open();
    const result = await runPipeline(logged, { workspace, clock: new TestClock() });
    const report = await workspace.store.getLogs(result.id, { step: "report" });
    expect(report.length).toBeGreaterThan(0);
    expect(report.every((r) => r.step === "report")).toBe(true);
    expect(report.map((r) => (JSON.parse(r.line) as Line).msg)).toEqual(["step started", "few rows", "step succeeded"]);
    expect(await workspace.store.getLogs(result.id, { step: "nope" })).toEqual([]);
  });

  it("keeps the logs of each run apart", async () => {
    const workspace = open();
    const first = await runPipeline(logged, { workspace, clock: new TestClock() });
    const second = await runPipeline(logged, { workspace, clock: new TestClock() });
    const a = await workspace.store.getLogs(first.id);
    const b = await workspace.store.getLogs(second.id);
    expect(a.every((l) => l.runId === first.id)).toBe(true);
    expect(b.every((l) => l.runId === second.id)).toBe(true);
    expect(a.length).toBe(b.length);
  });

  it("runs logging at once in one process keep their own lines, even when a step logs a runId of its own", async () => {
    const workspace = open();
    const chatty = pipeline("chatty", () => {
      step("talk", async (_inputs, ctx) => {
        for (let i = 0; i < 3; i++) {
          ctx.log.info({ runId: "someone-else", i }, "line");
          await new Promise((done) => setImmediate(done));
        }
        return 1;
      });
    });
    const results = await Promise.all([1, 2, 3].map(() => runPipeline(chatty, { workspace, clock: new TestClock() })));
    for (const result of results) {
      const lines = (await workspace.store.getLogs(result.id)).map((r) => JSON.parse(r.line) as Line);
      expect(lines.filter((l) => l.msg === "line").map((l) => l.i)).toEqual([0, 1, 2]);
      expect(lines.map((l) => l.msg)).toEqual(["run started", "step started", "line", "line", "line", "step succeeded", "run finished"]);
    }
  });

  it("a line's step and attempt are the last its JSON names, from a child a step makes or from the line's own fields", async () => {
    const workspace = open();
    const nested = pipeline("nested", () => {
      step("outer", (_inputs, ctx) => {
        ctx.log.child({ step: "inner", attempt: 7 }).info("from a child");
        ctx.log.child({ batch: 2 }).warn("from a child that names no step");
        ctx.log.info({ step: "named" }, "names a step");
        ctx.log.info({ attempt: 9 }, "names an attempt");
        ctx.log.error(Object.assign(new Error("boom"), { step: "inside the error" }), "an error");
        ctx.log.setBindings({ step: "rebound" });
        ctx.log.info("after setBindings");
        return 1;
      });
    });
    const result = await runPipeline(nested, { workspace, clock: new TestClock() });
    const records = await workspace.store.getLogs(result.id);
    const of = (msg: string) => records.find((r) => (JSON.parse(r.line) as Line).msg === msg);
    expect(of("from a child")).toMatchObject({ runId: result.id, step: "inner", attempt: 7, level: 30 });
    expect(of("from a child that names no step")).toMatchObject({ step: "outer", attempt: 1, level: 40 });
    expect(of("names a step")).toMatchObject({ step: "named", attempt: 1 });
    expect(of("names an attempt")).toMatchObject({ step: "outer", attempt: 9 });
    expect(of("an error")).toMatchObject({ step: "outer", attempt: 1, level: 50 });
    expect(of("after setBindings")).toMatchObject({ step: "rebound", attempt: 1 });
    for (const record of records) expect(record.time).toBe((JSON.parse(record.line) as Line).time);
  });

  it("logLevel filters what is kept and logTee sees every kept line", async () => {
    const workspace = open();
    const tee: string[] = [];
    const result = await runPipeline(logged, { workspace, clock: new TestClock(), logLevel: "warn", logTee: (line) => tee.push(line) });
    const records = await workspace.store.getLogs(result.id);
    expect(records.every((r) => r.level >= 40)).toBe(true);
    expect(records.map((r) => (JSON.parse(r.line) as Line).msg)).toEqual(["attempt failed, will retry", "few rows"]);
    expect(tee.map((l) => l.trimEnd())).toEqual(records.map((r) => r.line));
  });
});
