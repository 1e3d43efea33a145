import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { rejection } from "../helpers/errors.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";
import { z } from "zod";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { sql } from "../../src/pipeline/sql.js";
import { step } from "../../src/pipeline/step.js";
import type { Table } from "../../src/pipeline/table.js";
import type { RunEvent } from "../../src/runtime/events.js";
import { thisProcess } from "../../src/runtime/abandoned-runs.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import type { RunRecord } from "../../src/storage/run-store.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";

const tempDir = tempDirEachTest("strata-resume-");
const workspaces = closeEachTest<Workspace>();
/** Opens the workspace as a new process would, after closing the one opened before. */
const open = async (): Promise<Workspace> => {
  await workspaces.closeAll();
  return workspaces.track(openWorkspace(tempDir()));
};

const WHEN = new Date("2026-01-02T03:04:05.678Z");
const BIG = 2n ** 70n;

/** A pipeline whose "combine" step fails while `state.fail` is true; `calls` counts each step's runs. */
function makePipeline(name = "resumable") {
  const state = { fail: true };
  const calls: Record<string, number> = {};
  const count = (step: string): void => void (calls[step] = (calls[step] ?? 0) + 1);
  const seen: { meta?: unknown; day?: unknown; numsCount?: number; numsRows?: unknown; rows?: unknown } = {};
  const p = pipeline(name, { params: z.object({ n: z.number(), day: z.coerce.date() }) }, ({ params }) => {
    const nums = step("nums", sql<{ i: number }>`select range as i from range(${params.n} + 1)`);
    const meta = step("meta", () => {
      count("meta");
      return { when: WHEN, big: BIG, list: [1, "a", null], nested: { at: WHEN, small: 5n } };
    });
    const rows = step("rows", () => {
      count("rows");
      return [
        { id: 1, v: 10 },
        { id: 2, v: 20 },
      ];
    });
    const combine = step("combine", { inputs: { nums, meta, rows, day: params.day } }, async ({ nums, meta, rows, day }) => {
      count("combine");
      if (state.fail) throw new Error("upstream API down");
      seen.meta = meta;
      seen.day = day;
      seen.numsCount = await nums.count();
      seen.numsRows = await nums.rows();
      seen.rows = rows;
      return { total: rows.reduce((s, r) => s + r.v, 0), n: seen.numsCount };
    });
    step("total", { inputs: { rows, combine } }, sql<{ s: number }>`select sum(v) as s, count(*) as c from ${"rows"}`);
    step("publish", { inputs: { combine } }, ({ combine }) => {
      count("publish");
      return combine.total;
    });
  });
  return { p, state, calls, seen };
}

describe("resume", () => {
  it("reuses succeeded steps and reruns the failed step and its downstream", async () => {
    const { p, state, calls, seen } = makePipeline();
    const first = await runPipeline(p, { workspace: await open(), params: { n: 2, day: "2026-01-05" } });
    expect(first.status).toBe("failed");
    expect(first.steps.map((s) => [s.name, s.status])).toEqual([
      ["nums", "succeeded"],
      ["meta", "succeeded"],
      ["rows", "succeeded"],
      ["combine", "failed"],
      ["total", "skipped"],
      ["publish", "skipped"],
    ]);
    expect(calls).toEqual({ meta: 1, rows: 1, combine: 1 });

    // A fresh process: reopen the workspace from disk.
    state.fail = false;
    const workspace = await open();
    const events: RunEvent[] = [];
    const second = await runPipeline(p, { workspace, resume: first.id, onEvent: (e) => events.push(e) });

    expect(second.status).toBe("succeeded");
    expect(second.id).not.toBe(first.id);
    expect(second.resumedFrom).toBe(first.id);
    expect(calls).toEqual({ meta: 1, rows: 1, combine: 2, publish: 1 });
    expect(second.steps.map((s) => [s.name, s.status, s.attempts, s.reusedFrom])).toEqual([
      ["nums", "reused", 0, first.id],
      ["meta", "reused", 0, first.id],
      ["rows", "reused", 0, first.id],
      ["combine", "succeeded", 1, null],
      ["total", "succeeded", 1, null],
      ["publish", "succeeded", 1, null],
    ]);
    expect(events.filter((e) => e.type === "step-reused").map((e) => (e.type === "step-reused" ? [e.step, e.from] : null))).toEqual([
      ["nums", first.id],
      ["meta", first.id],
      ["rows", first.id],
    ]);
    expect(events.filter((e) => e.type === "step-started").map((e) => (e.type === "step-started" ? e.step : ""))).toEqual(
      expect.arrayContaining(["combine", "total", "publish"]),
    );
    expect(events.some((e) => e.type === "step-started" && ["nums", "meta", "rows"].includes(e.step))).toBe(false);

    // Reused JSON outputs come back with their Dates and bigints.
    expect(seen.meta).toEqual({ when: WHEN, big: BIG, list: [1, "a", null], nested: { at: WHEN, small: 5n } });
    const meta = seen.meta as { when: unknown; big: unknown; nested: { at: unknown; small: unknown } };
    expect(meta.when).toBeInstanceOf(Date);
    expect(typeof meta.big).toBe("bigint");
    expect(meta.nested.at).toBeInstanceOf(Date);
    expect(typeof meta.nested.small).toBe("bigint");
    expect(seen.rows).toEqual([
      { id: 1, v: 10 },
      { id: 2, v: 20 },
    ]);
    // The reused SQL table is read from the first run's schema.
    expect(seen.numsCount).toBe(3);
    expect(seen.numsRows).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    // The params of the first run are reused, Date included.
    expect(seen.day).toEqual(new Date("2026-01-05T00:00:00.000Z"));
    expect(second.params).toEqual({ n: 2, day: new Date("2026-01-05T00:00:00.000Z") });

    expect(second.outputs.publish).toBe(30);
    const total = second.outputs.total as Table<{ s: number; c: number }>;
    expect(await total.rows()).toEqual([{ s: 30, c: 2 }]);
    const nums = second.outputs.nums as Table;
    expect(nums.name).toContain(first.id);

    const stored = await workspace.store.getRun(second.id);
    expect(stored).toMatchObject({ status: "succeeded", resumedFrom: first.id });
    expect(await workspace.store.getAttempts(second.id)).toHaveLength(3);
  });

  it("resuming a resumed run reuses what it reused and what it computed", async () => {
    const { p, state, calls } = makePipeline();
    const first = await runPipeline(p, { workspace: await open(), params: { n: 1, day: "2026-01-05" } });
    state.fail = false;
    const second = await runPipeline(p, { workspace: await open(), resume: first.id });
    const before = { ...calls };
    const third = await runPipeline(p, { workspace: await open(), resume: second.id });
    expect(third.status).toBe("succeeded");
    expect(calls).toEqual(before);
    expect(third.steps.every((s) => s.status === "reused")).toBe(true);
    expect(third.steps.map((s) => s.reusedFrom)).toEqual(Array(6).fill(second.id));
    expect(third.outputs.publish).toBe(30);
    expect(await (third.outputs.total as Table).rows()).toEqual([{ s: 30, c: 2 }]);
  });

  it("a step whose output cannot be stored (opaque) is rerun on resume, with its downstream", async () => {
    let built = 0;
    let fail = true;
    const p = pipeline("opaque", () => {
      const model = step("model", () => {
        built++;
        return new Map([["w", 1]]);
      });
      const plain = step("plain", () => 1);
      step("use", { inputs: { model, plain } }, ({ model, plain }) => {
        if (fail) throw new Error("no");
        return (model.get("w") ?? 0) + plain;
      });
    });
    const first = await runPipeline(p, { workspace: await open() });
    expect(first.steps.find((s) => s.name === "model")?.output).toEqual({ kind: "opaque", type: "Map" });
    fail = false;
    const second = await runPipeline(p, { workspace: await open(), resume: first.id });
    expect(built).toBe(2);
    expect(second.steps.map((s) => [s.name, s.status])).toEqual([
      ["model", "succeeded"],
      ["plain", "reused"],
      ["use", "succeeded"],
    ]);
    expect(second.outputs.use).toBe(2);
  });

  it("accepts a unique prefix of the run id", async () => {
    const { p, state, calls } = makePipeline();
    const first = await runPipeline(p, { workspace: await open(), params: { n: 1, day: "2026-01-05" } });
    const other = await runPipeline(p, { workspace: await open(), params: { n: 1, day: "2026-01-05" } });
    let length = 1;
    while (other.id.startsWith(first.id.slice(0, length))) length++;
    state.fail = false;
    const second = await runPipeline(p, { workspace: await open(), resume: first.id.slice(0, length) });
    expect(second.resumedFrom).toBe(first.id);
    expect(calls.meta).toBe(2);
  });

  it("given the same params again is fine; different params are RESUME_INVALID", async () => {
    const { p, state } = makePipeline();
    const first = await runPipeline(p, { workspace: await open(), params: { n: 1, day: "2026-01-05" } });
    state.fail = false;
    const changed = await rejection(runPipeline(p, { workspace: await open(), resume: first.id, params: { n: 2, day: "2026-01-05" } }));
    expect(changed.code).toBe("RESUME_INVALID");
    expect(changed.message).toContain(first.id);
    const same = await runPipeline(p, { workspace: await open(), resume: first.id, params: { n: 1, day: "2026-01-05" } });
    expect(same.status).toBe("succeeded");
  });

  it("resuming another pipeline's run is RESUME_INVALID and records nothing", async () => {
    const a = makePipeline("alpha");
    const b = makePipeline("beta");
    const workspace = await open();
    const first = await runPipeline(a.p, { workspace, params: { n: 1, day: "2026-01-05" } });
    const error = await rejection(runPipeline(b.p, { workspace, resume: first.id }));
    expect(error.code).toBe("RESUME_INVALID");
    expect(error.message).toContain('"alpha"');
    expect(error.message).toContain('"beta"');
    expect(await workspace.store.listRuns()).toHaveLength(1);
  });

  const runningRecord = (id: string, owner: string): RunRecord => ({
    id,
    pipeline: "resumable",
    status: "running",
    trigger: { kind: "test", id: "t" },
    params: { n: 1, day: "2026-01-05" },
    inputParams: { n: 1, day: "2026-01-05" },
    owner,
    resumedFrom: null,
    startedAt: 1,
    endedAt: null,
    error: null,
  });

  it("resuming a run that is still running is RESUME_INVALID", async () => {
    const { p } = makePipeline();
    const workspace = await open();
    await workspace.store.createRun(runningRecord("rrunning1", thisProcess), []);
    const error = await rejection(runPipeline(p, { workspace, resume: "rrunning" }));
    expect(error.code).toBe("RESUME_INVALID");
    expect(error.message).toContain("still running");
  });

  it("a run whose process died is settled as RUN_ABANDONED and can be resumed", async () => {
    const { p } = makePipeline();
    const workspace = await open();
    // A pid that has certainly ended: a child process we started and waited for.
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    await workspace.store.createRun(
      runningRecord("rdead1", `${hostname()}:${dead}`),
      p.steps.map((s) => s.name),
    );
    const result = await runPipeline(p, { workspace, resume: "rdead1" });
    expect(result.resumedFrom).toBe("rdead1");
    expect(await workspace.store.getRun("rdead1")).toMatchObject({ status: "failed", error: { code: "RUN_ABANDONED" } });
  });

  it("an unknown run id is RUN_NOT_FOUND", async () => {
    const { p } = makePipeline();
    const error = await rejection(runPipeline(p, { workspace: await open(), resume: "rdoesnotexist" }));
    expect(error.code).toBe("RUN_NOT_FOUND");
    expect(error.message).toContain("rdoesnotexist");
  });
});
