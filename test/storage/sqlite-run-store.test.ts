import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rejection } from "../helpers/errors.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";
import { isStrataError } from "../../src/errors/strata-error.js";
import type { RunRecord, StepRecord } from "../../src/storage/run-store.js";
import { SqliteRunStore } from "../../src/storage/sqlite/run-store.js";

const tempDir = tempDirEachTest("strata-store-");
const stores = closeEachTest<SqliteRunStore>();
const openStore = (path = ":memory:"): SqliteRunStore => stores.track(new SqliteRunStore(path));

function run(id: string, overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    id,
    pipeline: "daily",
    status: "running",
    trigger: { kind: "manual", id: `t-${id}` },
    params: { day: "2026-01-01", n: 3 },
    inputParams: { day: "2026-01-01", n: "3" },
    owner: "host:1",
    resumedFrom: null,
    startedAt: 1000,
    endedAt: null,
    error: null,
    ...overrides,
  };
}

describe("SqliteRunStore", () => {
  it("records a run with its steps pending and finishes it", async () => {
    const store = openStore();
    await store.createRun(run("r100"), ["extract", "load"]);
    expect(await store.getRun("r100")).toEqual(run("r100"));
    expect((await store.getSteps("r100")).map((s) => [s.step, s.status, s.attempts, s.output])).toEqual([
      ["extract", "pending", 0, null],
      ["load", "pending", 0, null],
    ]);
    await store.finishRun("r100", "failed", 2000, { code: "STEP_FAILED", message: "boom" });
    expect(await store.getRun("r100")).toMatchObject({ status: "failed", endedAt: 2000, error: { code: "STEP_FAILED", message: "boom" } });
  });

  it("saves attempts and step states, updating an attempt in place", async () => {
    const store = openStore();
    await store.createRun(run("r1"), ["a"]);
    const step: StepRecord = {
      runId: "r1",
      step: "a",
      status: "running",
      attempts: 1,
      startedAt: 10,
      endedAt: null,
      error: null,
      output: null,
      reusedFrom: null,
    };
    await store.saveAttempt({ runId: "r1", step: "a", attempt: 1, status: "running", startedAt: 10, endedAt: null, error: null }, step);
    await store.saveAttempt(
      {
        runId: "r1",
        step: "a",
        attempt: 1,
        status: "failed",
        startedAt: 10,
        endedAt: 11,
        error: { code: "STEP_TIMEOUT", message: "slow", retryable: true },
      },
      { ...step, status: "retrying", error: { code: "STEP_TIMEOUT", message: "slow" } },
    );
    await store.saveAttempt(
      { runId: "r1", step: "a", attempt: 2, status: "succeeded", startedAt: 20, endedAt: 25, error: null },
      { ...step, status: "succeeded", attempts: 2, endedAt: 25, output: { kind: "json", json: '{"x":1}' } },
    );
    expect(await store.getAttempts("r1")).toEqual([
      {
        runId: "r1",
        step: "a",
        attempt: 1,
        status: "failed",
        startedAt: 10,
        endedAt: 11,
        error: { code: "STEP_TIMEOUT", message: "slow", retryable: true },
      },
      { runId: "r1", step: "a", attempt: 2, status: "succeeded", startedAt: 20, endedAt: 25, error: null },
    ]);
    expect(await store.getSteps("r1")).toEqual([
      { ...step, status: "succeeded", attempts: 2, endedAt: 25, output: { kind: "json", json: '{"x":1}' } },
    ]);
  });

  it("getRun takes a unique prefix; an ambiguous one is RUN_AMBIGUOUS_ID and an unknown one RUN_NOT_FOUND", async () => {
    const store = openStore();
    await store.createRun(run("r01abc"), []);
    await store.createRun(run("r01abd"), []);
    await store.createRun(run("r02xyz"), []);
    expect((await store.getRun("r02")).id).toBe("r02xyz");
    expect((await store.getRun("r01abd")).id).toBe("r01abd");
    expect((await store.getRun("r01abc")).id).toBe("r01abc");

    const ambiguous = await rejection(store.getRun("r01"));
    expect(ambiguous.code).toBe("RUN_AMBIGUOUS_ID");
    expect(ambiguous.message).toContain('"r01"');
    const missing = await rejection(store.getRun("r03"));
    expect(missing.code).toBe("RUN_NOT_FOUND");
    expect(missing.message).toContain('"r03"');
  });

  it("a prefix is matched literally: % and _ are not wildcards", async () => {
    const store = openStore();
    await store.createRun(run("r_1"), []);
    await store.createRun(run("rx2"), []);
    expect((await store.getRun("r_")).id).toBe("r_1");
    expect((await rejection(store.getRun("%"))).code).toBe("RUN_NOT_FOUND");
    expect((await rejection(store.getRun("r%2"))).code).toBe("RUN_NOT_FOUND");
  });

  it("an exact id wins over being the prefix of another id", async () => {
    const store = openStore();
    await store.createRun(run("r5"), []);
    await store.createRun(run("r55"), []);
    expect((await store.getRun("r5")).id).toBe("r5");
  });

  it("listRuns filters by pipeline and status, newest id first, with a limit", async () => {
    const store = openStore();
    await store.createRun(run("r1", { pipeline: "daily" }), []);
    await store.createRun(run("r2", { pipeline: "hourly" }), []);
    await store.createRun(run("r3", { pipeline: "daily" }), []);
    await store.createRun(run("r4", { pipeline: "daily" }), []);
    await store.finishRun("r1", "succeeded", 5, null);
    await store.finishRun("r3", "failed", 5, { code: "STEP_FAILED", message: "x" });
    await store.finishRun("r4", "succeeded", 5, null);

    const ids = (runs: RunRecord[]): string[] => runs.map((r) => r.id);
    expect(ids(await store.listRuns())).toEqual(["r4", "r3", "r2", "r1"]);
    expect(ids(await store.listRuns({ pipeline: "daily" }))).toEqual(["r4", "r3", "r1"]);
    expect(ids(await store.listRuns({ status: "succeeded" }))).toEqual(["r4", "r1"]);
    expect(ids(await store.listRuns({ pipeline: "daily", status: "failed" }))).toEqual(["r3"]);
    expect(ids(await store.listRuns({ status: "running" }))).toEqual(["r2"]);
    expect(ids(await store.listRuns({ limit: 2 }))).toEqual(["r4", "r3"]);
    expect(ids(await store.listRuns({ pipeline: "daily", limit: 1 }))).toEqual(["r4"]);
    expect(await store.listRuns({ pipeline: "none" })).toEqual([]);
  });

  it("listRuns returns 20 runs unless told otherwise", async () => {
    const store = openStore();
    for (let i = 10; i < 35; i++) await store.createRun(run(`r${i}`), []);
    expect(await store.listRuns()).toHaveLength(20);
    expect(await store.listRuns({ limit: 100 })).toHaveLength(25);
  });

  it("keeps logs in order and filters them by step", async () => {
    const store = openStore();
    await store.createRun(run("r1"), ["a", "b"]);
    await store.appendLogs([
      { runId: "r1", step: null, attempt: null, time: 1, level: 30, line: '{"msg":"run started"}' },
      { runId: "r1", step: "a", attempt: 1, time: 2, level: 30, line: '{"msg":"a1"}' },
      { runId: "r1", step: "b", attempt: 1, time: 3, level: 50, line: '{"msg":"b1"}' },
    ]);
    await store.appendLogs([]);
    await store.appendLogs([{ runId: "r1", step: "a", attempt: 2, time: 4, level: 30, line: '{"msg":"a2"}' }]);
    expect((await store.getLogs("r1")).map((l) => l.line)).toEqual([
      '{"msg":"run started"}',
      '{"msg":"a1"}',
      '{"msg":"b1"}',
      '{"msg":"a2"}',
    ]);
    expect(await store.getLogs("r1", { step: "a" })).toEqual([
      { runId: "r1", step: "a", attempt: 1, time: 2, level: 30, line: '{"msg":"a1"}' },
      { runId: "r1", step: "a", attempt: 2, time: 4, level: 30, line: '{"msg":"a2"}' },
    ]);
    expect(await store.getLogs("other")).toEqual([]);
  });

  it("keeps everything across a reopen of the file", async () => {
    const path = join(tempDir(), "nested", "metadata.sqlite");
    const first = new SqliteRunStore(path);
    await first.createRun(run("r1", { resumedFrom: "r0", params: { day: "2026-01-01", list: [1, 2] } }), ["a"]);
    await first.saveStep({
      runId: "r1",
      step: "a",
      status: "reused",
      attempts: 0,
      startedAt: null,
      endedAt: null,
      error: null,
      output: { kind: "table", table: "r0.a", rows: 3 },
      reusedFrom: "r0",
    });
    await first.appendLogs([{ runId: "r1", step: "a", attempt: 1, time: 1, level: 30, line: "{}" }]);
    await first.finishRun("r1", "succeeded", 99, null);
    await first.close();

    const second = openStore(path);
    expect(await second.getRun("r1")).toMatchObject({
      status: "succeeded",
      endedAt: 99,
      resumedFrom: "r0",
      params: { day: "2026-01-01", list: [1, 2] },
    });
    expect(await second.getSteps("r1")).toMatchObject([
      { step: "a", status: "reused", output: { kind: "table", table: "r0.a", rows: 3 }, reusedFrom: "r0" },
    ]);
    expect(await second.getLogs("r1")).toHaveLength(1);
    await second.createRun(run("r2"), []);
    expect((await second.listRuns()).map((r) => r.id)).toEqual(["r2", "r1"]);
  });

  it("a duplicate run id is STORE_FAILED", async () => {
    const store = openStore();
    await store.createRun(run("r1"), []);
    const error = await rejection(store.createRun(run("r1"), []));
    expect(error.code).toBe("STORE_FAILED");
    expect(error.message).toContain("create run");
  });

  it("a path that cannot be opened is STORE_FAILED naming the path", () => {
    const path = join(tempDir(), "file-not-dir");
    stores.track(new SqliteRunStore(path));
    let thrown: unknown;
    try {
      new SqliteRunStore(join(path, "metadata.sqlite"));
    } catch (error) {
      thrown = error;
    }
    expect(isStrataError(thrown) && thrown.code).toBe("STORE_FAILED");
    expect((thrown as Error).message).toContain(path);
  });
});
