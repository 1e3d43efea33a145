import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { API_SCOPES, hashApiKey, type ApiScope } from "../../src/storage/api-key-store.js";
import type { LineageRecord } from "../../src/storage/catalog-store.js";
import type { MetadataStores } from "../../src/storage/metadata-stores.js";
import type { RunRecord, StepRecord, ValidationReport } from "../../src/storage/run-store.js";
import { runningRuns } from "../../src/storage/running-runs.js";
import { rejection } from "../helpers/errors.js";
import { runRecord as run } from "../helpers/run-records.js";

/** One test's metadata database: fresh for each test, and shared by every `open()` within it. */
export interface MetadataDatabase {
  /** Opens the stores on this test's database, as another process would: a connection (pool, file handle) of their own. */
  open(): MetadataStores;
  /** Removes the database once the test's stores are closed (a server's schema outlives the test). */
  remove?(): Promise<void>;
}

const pendingStep = (runId: string, step: string): StepRecord => ({
  runId,
  step,
  status: "running",
  attempts: 1,
  startedAt: 10,
  endedAt: null,
  error: null,
  output: null,
  reusedFrom: null,
});

const versionEntry = (dataset: string, runId: string | null = "r1", at = 100) => ({
  dataset,
  storage: "warehouse",
  runId,
  step: runId === null ? null : "write",
  partition: null,
  at,
});

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * The metadata contract (RunStore, CatalogStore, ModelRegistry, ApiKeyStore), run against every
 * technology that can hold a project's metadata. `database()` gives each test a fresh database;
 * the suite closes every store it opened, then removes the database.
 */
export function metadataStoreSuite(name: string, database: () => MetadataDatabase): void {
  describe(`metadata store conformance: ${name}`, () => {
    let current: MetadataDatabase | undefined;
    const opened: MetadataStores[] = [];
    beforeEach(() => {
      current = database();
    });
    afterEach(async () => {
      for (const stores of opened.splice(0)) await stores.close();
      await current?.remove?.();
    });
    const open = (): MetadataStores => {
      const stores = current!.open();
      opened.push(stores);
      return stores;
    };

    describe("RunStore", () => {
      it("records a run with its steps pending and finishes it", async () => {
        const { runs } = open();
        await runs.createRun(run("r100"), ["extract", "load"]);
        expect(await runs.getRun("r100")).toEqual(run("r100"));
        expect((await runs.getSteps("r100")).map((s) => [s.step, s.status, s.attempts, s.output])).toEqual([
          ["extract", "pending", 0, null],
          ["load", "pending", 0, null],
        ]);
        expect(await runs.finishRun("r100", "failed", 2000, { code: "STEP_FAILED", message: "boom" })).toBe(true);
        expect(await runs.getRun("r100")).toMatchObject({
          status: "failed",
          endedAt: 2000,
          error: { code: "STEP_FAILED", message: "boom" },
        });
      });

      it("ends a run once: a later end, or one made at the same time, is told so and changes nothing", async () => {
        const { runs } = open();
        await runs.createRun(run("r1"), []);
        await runs.createRun(run("r2"), []);
        expect(await runs.finishRun("r1", "succeeded", 10, null)).toBe(true);
        expect(await runs.finishRun("r1", "failed", 20, { code: "STEP_FAILED", message: "late" })).toBe(false);
        expect(await runs.getRun("r1")).toMatchObject({ status: "succeeded", endedAt: 10, error: null });
        const together = await Promise.all([
          runs.finishRun("r2", "cancelled", 30, { code: "RUN_CANCELLED", message: "the run was cancelled" }),
          runs.finishRun("r2", "succeeded", 31, null),
          runs.finishRun("r2", "failed", 32, { code: "STEP_FAILED", message: "x" }),
        ]);
        expect(together).toEqual([true, false, false]);
        expect(await runs.getRun("r2")).toMatchObject({ status: "cancelled", endedAt: 30 });
      });

      it("keeps a run's hooks due until they are moved: one claim wins, and a cleared run is due no more", async () => {
        const { runs } = open();
        for (const id of ["h1", "h2", "h3", "h4"]) await runs.createRun(run(id), []);
        expect(await runs.finishRun("h1", "failed", 10, { code: "STEP_FAILED", message: "x" }, { hooksDueAt: 500 })).toBe(true);
        expect(await runs.finishRun("h2", "succeeded", 11, null, { hooksDueAt: 100 })).toBe(true);
        expect(await runs.finishRun("h3", "succeeded", 12, null)).toBe(true); // no hooks
        // A second end changes nothing, its due time included.
        expect(await runs.finishRun("h2", "failed", 13, { code: "STEP_FAILED", message: "late" }, { hooksDueAt: 50 })).toBe(false);
        expect(await runs.dueHooks(99, 10)).toEqual([]);
        expect((await runs.dueHooks(500, 10)).map((d) => [d.run.id, d.run.status, d.dueAt])).toEqual([
          ["h2", "succeeded", 100],
          ["h1", "failed", 500],
        ]);
        expect((await runs.dueHooks(500, 1)).map((d) => d.run.id)).toEqual(["h2"]);
        // Two sweeps claim h1 at once: one gets it. A move from a time it no longer has fails.
        const claims = await Promise.all([runs.moveHooks("h1", 500, 9000), runs.moveHooks("h1", 500, 9001)]);
        expect(claims.filter(Boolean)).toHaveLength(1);
        const claimedUntil = claims[0] ? 9000 : 9001;
        expect(await runs.moveHooks("h1", 500, null)).toBe(false);
        expect((await runs.dueHooks(1000, 10)).map((d) => d.run.id)).toEqual(["h2"]);
        expect(await runs.moveHooks("h1", claimedUntil, null)).toBe(true);
        expect(await runs.moveHooks("h2", 100, null)).toBe(true);
        expect(await runs.moveHooks("h4", 100, null)).toBe(false); // running, nothing due
        expect(await runs.dueHooks(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      });

      it("refuses an attempt's start once its run has ended, and still records an attempt's end", async () => {
        const { runs } = open();
        for (const id of ["live", "over"]) await runs.createRun(run(id), ["s"]);
        expect(await runs.finishRun("over", "failed", 20, { code: "QUEUE_UNAVAILABLE", message: "redis went away" })).toBe(true);
        const start = (runId: string) =>
          runs.saveAttempt(
            { runId, step: "s", attempt: 1, status: "running", startedAt: 30, endedAt: null, error: null },
            pendingStep(runId, "s"),
          );
        // Together, as a worker's concurrent steps write them (one statement on a store that batches).
        expect(await Promise.all([start("live"), start("over")])).toEqual([true, false]);
        expect((await runs.getAttempts("over")).length).toBe(0);
        expect((await runs.getSteps("over"))[0]!.status).toBe("pending");
        expect((await runs.getAttempts("live")).map((a) => a.status)).toEqual(["running"]);
        // An end is recorded whatever the run's state: a cancel ends the run before its steps stop.
        const lost = { code: "WORKER_LOST", message: "gone", retryable: true };
        const ended = await runs.saveAttempt(
          { runId: "over", step: "s", attempt: 1, status: "failed", startedAt: 30, endedAt: 40, error: lost },
          { ...pendingStep("over", "s"), status: "failed", endedAt: 40, error: lost },
        );
        expect(ended).toBe(true);
        expect((await runs.getAttempts("over")).map((a) => a.status)).toEqual(["failed"]);
      });

      it("writes a whole attempt that opens itself (its start was never recorded) only while its run is running", async () => {
        const { runs } = open();
        for (const id of ["live", "over"]) await runs.createRun(run(id), ["s"]);
        expect(await runs.finishRun("over", "cancelled", 20, null)).toBe(true);
        const whole = (runId: string) =>
          runs.saveAttempt(
            { runId, step: "s", attempt: 1, status: "succeeded", startedAt: 30, endedAt: 31, error: null },
            { ...pendingStep(runId, "s"), status: "succeeded", attempts: 1, startedAt: 30, endedAt: 31 },
            true,
          );
        expect(await Promise.all([whole("live"), whole("over")])).toEqual([true, false]);
        expect((await runs.getAttempts("over")).length).toBe(0);
        expect((await runs.getSteps("over"))[0]!.status).toBe("pending");
        expect((await runs.getAttempts("live")).map((a) => [a.status, a.startedAt, a.endedAt])).toEqual([["succeeded", 30, 31]]);
        expect((await runs.getSteps("live"))[0]).toMatchObject({ status: "succeeded", attempts: 1 });
      });

      it("keeps params as given, in their order, and what a resume needs", async () => {
        const { runs } = open();
        const params = { z: "last key first", day: "2026-01-01", list: [1, 2.5, null], nested: { b: true, a: "é😀\u0000" } };
        await runs.createRun(
          run("r2", { params, inputParams: { z: "1" }, resumedFrom: "r1", trigger: { kind: "cron", id: "0 3 * * *" } }),
          ["a"],
        );
        await runs.saveStep({
          ...pendingStep("r2", "a"),
          status: "reused",
          attempts: 0,
          startedAt: null,
          output: { kind: "table", table: "r1.a", rows: 3 },
          reusedFrom: "r1",
        });
        const stored = await runs.getRun("r2");
        expect(stored).toEqual(
          run("r2", { params, inputParams: { z: "1" }, resumedFrom: "r1", trigger: { kind: "cron", id: "0 3 * * *" } }),
        );
        expect(Object.keys(stored.params)).toEqual(["z", "day", "list", "nested"]);
        expect(await runs.getSteps("r2")).toMatchObject([
          { step: "a", status: "reused", output: { kind: "table", table: "r1.a", rows: 3 }, reusedFrom: "r1" },
        ]);
      });

      it("saves attempts and step states, updating an attempt in place", async () => {
        const { runs } = open();
        await runs.createRun(run("r1"), ["a"]);
        const step = pendingStep("r1", "a");
        await runs.saveAttempt({ runId: "r1", step: "a", attempt: 1, status: "running", startedAt: 10, endedAt: null, error: null }, step);
        await runs.saveAttempt(
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
        await runs.saveAttempt(
          { runId: "r1", step: "a", attempt: 2, status: "succeeded", startedAt: 20, endedAt: 25, error: null },
          { ...step, status: "succeeded", attempts: 2, endedAt: 25, output: { kind: "json", json: '{"x":1}' } },
        );
        expect(await runs.getAttempts("r1")).toEqual([
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
        expect(await runs.getSteps("r1")).toEqual([
          { ...step, status: "succeeded", attempts: 2, endedAt: 25, output: { kind: "json", json: '{"x":1}' } },
        ]);
      });

      it("getRun takes a unique prefix; an ambiguous one is RUN_AMBIGUOUS_ID and an unknown one RUN_NOT_FOUND", async () => {
        const { runs } = open();
        await runs.createRun(run("r01abc"), []);
        await runs.createRun(run("r01abd"), []);
        await runs.createRun(run("r02xyz"), []);
        expect((await runs.getRun("r02")).id).toBe("r02xyz");
        expect((await runs.getRun("r01abd")).id).toBe("r01abd");
        expect((await runs.getRun("r01abc")).id).toBe("r01abc");

        const ambiguous = await rejection(runs.getRun("r01"));
        expect(ambiguous.code).toBe("RUN_AMBIGUOUS_ID");
        expect(ambiguous.status).toBe(400);
        expect(ambiguous.message).toBe(`"r01" is the start of several run ids (r01abd, r01abc); give more of it`);
        expect(ambiguous.details).toEqual({ runId: "r01", matches: ["r01abd", "r01abc"] });
        const missing = await rejection(runs.getRun("r03"));
        expect(missing.code).toBe("RUN_NOT_FOUND");
        expect(missing.status).toBe(404);
        expect(missing.message).toBe(`no run has the id "r03" (see: strata runs list)`);
      });

      it("an ambiguous prefix names five matches at most, newest first", async () => {
        const { runs } = open();
        for (let i = 1; i <= 7; i++) await runs.createRun(run(`r0${i}`), []);
        const error = await rejection(runs.getRun("r0"));
        expect(error.message).toBe(`"r0" is the start of several run ids (r07, r06, r05, r04, r03, ...); give more of it`);
      });

      it("a prefix is matched literally: % and _ are not wildcards", async () => {
        const { runs } = open();
        await runs.createRun(run("r_1"), []);
        await runs.createRun(run("rx2"), []);
        expect((await runs.getRun("r_")).id).toBe("r_1");
        expect((await rejection(runs.getRun("%"))).code).toBe("RUN_NOT_FOUND");
        expect((await rejection(runs.getRun("r%2"))).code).toBe("RUN_NOT_FOUND");
      });

      it("an exact id wins over being the prefix of another id", async () => {
        const { runs } = open();
        await runs.createRun(run("r5"), []);
        await runs.createRun(run("r55"), []);
        expect((await runs.getRun("r5")).id).toBe("r5");
      });

      it("listRuns filters by pipeline and status, newest id first, with a limit", async () => {
        const { runs } = open();
        await runs.createRun(run("r1", { pipeline: "daily" }), []);
        await runs.createRun(run("r2", { pipeline: "hourly" }), []);
        await runs.createRun(run("r3", { pipeline: "daily" }), []);
        await runs.createRun(run("r4", { pipeline: "daily" }), []);
        await runs.finishRun("r1", "succeeded", 5, null);
        await runs.finishRun("r3", "failed", 5, { code: "STEP_FAILED", message: "x" });
        await runs.finishRun("r4", "succeeded", 5, null);

        const ids = (list: RunRecord[]): string[] => list.map((r) => r.id);
        expect(ids(await runs.listRuns())).toEqual(["r4", "r3", "r2", "r1"]);
        expect(ids(await runs.listRuns({ pipeline: "daily" }))).toEqual(["r4", "r3", "r1"]);
        expect(ids(await runs.listRuns({ status: "succeeded" }))).toEqual(["r4", "r1"]);
        expect(ids(await runs.listRuns({ pipeline: "daily", status: "failed" }))).toEqual(["r3"]);
        expect(ids(await runs.listRuns({ status: "running" }))).toEqual(["r2"]);
        expect(ids(await runs.listRuns({ limit: 2 }))).toEqual(["r4", "r3"]);
        expect(ids(await runs.listRuns({ pipeline: "daily", limit: 1 }))).toEqual(["r4"]);
        expect(await runs.listRuns({ pipeline: "none" })).toEqual([]);
      });

      it("listRuns pages with before: each page starts after the last id of the one before, filters kept", async () => {
        const { runs } = open();
        for (let i = 10; i < 17; i++) await runs.createRun(run(`r${i}`, { pipeline: i % 2 ? "odd" : "even" }), []);
        await runs.finishRun("r13", "succeeded", 5, null);
        const ids = (list: RunRecord[]): string[] => list.map((r) => r.id);
        expect(ids(await runs.listRuns({ limit: 3, before: "r16" }))).toEqual(["r15", "r14", "r13"]);
        expect(ids(await runs.listRuns({ limit: 3, before: "r13" }))).toEqual(["r12", "r11", "r10"]);
        expect(await runs.listRuns({ before: "r10" })).toEqual([]);
        // Not an id of a run: still a place in the order.
        expect(ids(await runs.listRuns({ before: "r135" }))).toEqual(["r13", "r12", "r11", "r10"]);
        expect(ids(await runs.listRuns({ pipeline: "odd", status: "running", before: "r16" }))).toEqual(["r15", "r11"]);
      });

      it("runningRuns reads every running run, newest first, however many pages they fill", async () => {
        const { runs } = open();
        for (let i = 10; i < 17; i++) await runs.createRun(run(`r${i}`), []);
        for (const id of ["r11", "r14"]) await runs.finishRun(id, "succeeded", 5, null);
        const seen: string[] = [];
        for await (const r of runningRuns(runs, 2)) seen.push(r.id);
        expect(seen).toEqual(["r16", "r15", "r13", "r12", "r10"]);
        const all: string[] = [];
        for await (const r of runningRuns(runs)) all.push(r.id);
        expect(all).toEqual(seen);
      });

      it("orders ids by their bytes, whatever the database's locale", async () => {
        const { runs } = open();
        for (const id of ["rb", "rB", "r_", "ra", "rZ"]) await runs.createRun(run(id), []);
        expect((await runs.listRuns()).map((r) => r.id)).toEqual(["rb", "ra", "r_", "rZ", "rB"]);
      });

      it("listRuns returns 20 runs unless told otherwise", async () => {
        const { runs } = open();
        for (let i = 10; i < 35; i++) await runs.createRun(run(`r${i}`), []);
        expect(await runs.listRuns()).toHaveLength(20);
        expect(await runs.listRuns({ limit: 100 })).toHaveLength(25);
      });

      it("attempts, log lines and runs' ends written at once by many callers all land, each where it belongs", async () => {
        const { runs } = open();
        const ids = range(1, 6).map((i) => `r${i}`);
        for (const id of ids) await runs.createRun(run(id), ["a"]);
        await Promise.all(
          ids.flatMap((id, i) => [
            runs.saveAttempt(
              { runId: id, step: "a", attempt: 1, status: "succeeded", startedAt: 10, endedAt: 20 + i, error: null },
              { ...pendingStep(id, "a"), status: "succeeded", attempts: 1, startedAt: 10, endedAt: 20 + i },
            ),
            runs.appendLogs([
              { runId: id, step: "a", attempt: 1, time: 1, level: 30, line: `{"msg":"${id} 1"}` },
              { runId: id, step: "a", attempt: 1, time: 2, level: 30, line: `{"msg":"${id} 2"}` },
            ]),
            runs.finishRun(id, i % 2 ? "failed" : "succeeded", 30 + i, i % 2 ? { code: "STEP_FAILED", message: `no ${i}` } : null),
          ]),
        );
        for (const [i, id] of ids.entries()) {
          expect(await runs.getRun(id)).toMatchObject({
            status: i % 2 ? "failed" : "succeeded",
            endedAt: 30 + i,
            error: i % 2 ? { code: "STEP_FAILED", message: `no ${i}` } : null,
          });
          expect(await runs.getSteps(id)).toMatchObject([{ status: "succeeded", attempts: 1, endedAt: 20 + i }]);
          expect((await runs.getAttempts(id)).map((a) => a.endedAt)).toEqual([20 + i]);
          expect((await runs.getLogs(id)).map((l) => l.line)).toEqual([`{"msg":"${id} 1"}`, `{"msg":"${id} 2"}`]);
        }
      });

      it("writes the last attempt's end with the run's end, or neither once the run has ended", async () => {
        const { runs } = open();
        const end = (runId: string, at: number) => ({
          attempt: { runId, step: "a", attempt: 1, status: "succeeded" as const, startedAt: 10, endedAt: at, error: null },
          step: { ...pendingStep(runId, "a"), status: "succeeded" as const, endedAt: at },
          opens: true,
        });
        await runs.createRun(run("r1"), ["a"]);
        await runs.createRun(run("r2"), ["a"]);
        const line = (runId: string, msg: string) => ({ runId, step: "a", attempt: 1, time: 5, level: 30, line: `{"msg":"${msg}"}` });
        await runs.appendLogs([line("r1", "step started")]);
        // r2 is ended first (a cancel, say): its step's late end opens nothing, and ends nothing.
        expect(await runs.finishRun("r2", "cancelled", 15, { code: "RUN_CANCELLED", message: "the run was cancelled" })).toBe(true);
        const ended = await Promise.all([
          runs.finishRun("r1", "succeeded", 20, null, { attempt: end("r1", 20), lines: [line("r1", "run finished")] }),
          runs.finishRun("r2", "succeeded", 21, null, { attempt: end("r2", 21), lines: [line("r2", "run finished")] }),
        ]);
        expect(ended).toEqual([true, false]);
        expect(await runs.getRun("r1")).toMatchObject({ status: "succeeded", endedAt: 20 });
        expect(await runs.getSteps("r1")).toMatchObject([{ status: "succeeded", attempts: 1, endedAt: 20 }]);
        expect(await runs.getAttempts("r1")).toMatchObject([{ attempt: 1, status: "succeeded", endedAt: 20 }]);
        expect((await runs.getLogs("r1")).map((l) => l.line)).toEqual(['{"msg":"step started"}', '{"msg":"run finished"}']);
        expect(await runs.getRun("r2")).toMatchObject({ status: "cancelled", endedAt: 15 });
        expect(await runs.getSteps("r2")).toMatchObject([{ status: "pending", attempts: 0 }]);
        expect(await runs.getAttempts("r2")).toEqual([]);
        expect(await runs.getLogs("r2")).toEqual([]);
      });

      it("writes a last attempt's later record even when the run had ended, and never splits an end from its attempt", async () => {
        const { runs } = open();
        const end = (runId: string, opens: boolean, startedAt: number | null = 10) => ({
          attempt: { runId, step: "a", attempt: 1, status: "failed" as const, startedAt: startedAt as number, endedAt: 20, error: null },
          step: { ...pendingStep(runId, "a"), status: "failed" as const, endedAt: 20 },
          opens,
        });
        for (const id of ["r1", "r2", "r3"]) await runs.createRun(run(id), ["a"]);
        // r1's attempt was opened (its start recorded) before a cancel ended the run: its end is kept.
        await runs.saveAttempt({ ...end("r1", true).attempt, status: "running", endedAt: null }, pendingStep("r1", "a"), true);
        expect(await runs.finishRun("r1", "cancelled", 15, { code: "RUN_CANCELLED", message: "the run was cancelled" })).toBe(true);
        expect(await runs.finishRun("r1", "failed", 20, null, { attempt: end("r1", false) })).toBe(false);
        expect(await runs.getAttempts("r1")).toMatchObject([{ status: "failed", endedAt: 20 }]);
        expect(await runs.getRun("r1")).toMatchObject({ status: "cancelled", endedAt: 15 });
        // An attempt that cannot be written (no start time) keeps its end from being written too,
        // while an end in the same batch is written (on Postgres, the batch is written again item by item).
        const [bad, good] = await Promise.allSettled([
          runs.finishRun("r2", "failed", 20, null, { attempt: end("r2", true, null) }),
          runs.finishRun("r3", "failed", 20, null, { attempt: end("r3", true) }),
        ]);
        expect(bad.status).toBe("rejected");
        expect(good).toEqual({ status: "fulfilled", value: true });
        expect((await runs.getRun("r2")).status).toBe("running");
        expect(await runs.getAttempts("r2")).toEqual([]);
        expect(await runs.getAttempts("r3")).toMatchObject([{ status: "failed" }]);
      });

      it("keeps the order of lines appended and an end's lines sent in the same turn", async () => {
        const { runs } = open();
        await runs.createRun(run("r1"), ["a"]);
        const line = (msg: string) => ({ runId: "r1", step: null, attempt: null, time: 5, level: 30, line: `{"msg":"${msg}"}` });
        const appended = runs.appendLogs([line("step started"), line("step succeeded")]);
        expect(await runs.finishRun("r1", "succeeded", 10, null, { lines: [line("run finished")] })).toBe(true);
        await appended;
        expect((await runs.getLogs("r1")).map((l) => l.line)).toEqual([
          '{"msg":"step started"}',
          '{"msg":"step succeeded"}',
          '{"msg":"run finished"}',
        ]);
      });

      it("writes an end's lines only with the end that ends the run, after the lines before it", async () => {
        const { runs } = open();
        await runs.createRun(run("r1"), ["a"]);
        const line = (msg: string) => ({ runId: "r1", step: null, attempt: null, time: 5, level: 30, line: `{"msg":"${msg}"}` });
        await runs.appendLogs([line("before")]);
        // Two callers end the run at once (on Postgres, in one statement): one wins, and only its line is kept.
        const ended = await Promise.all([
          runs.finishRun("r1", "succeeded", 10, null, { lines: [line("finished by the first")] }),
          runs.finishRun("r1", "failed", 11, { code: "STEP_FAILED", message: "late" }, { lines: [line("finished by the second")] }),
        ]);
        expect(ended).toEqual([true, false]);
        expect(await runs.finishRun("r1", "failed", 12, null, { lines: [line("finished again")] })).toBe(false);
        await runs.appendLogs([line("after")]);
        expect((await runs.getLogs("r1")).map((l) => l.line)).toEqual([
          '{"msg":"before"}',
          '{"msg":"finished by the first"}',
          '{"msg":"after"}',
        ]);
        expect((await runs.getRun("r1")).status).toBe("succeeded");
      });

      it("keeps logs in order and filters them by step", async () => {
        const { runs } = open();
        await runs.createRun(run("r1"), ["a", "b"]);
        await runs.appendLogs([
          { runId: "r1", step: null, attempt: null, time: 1, level: 30, line: '{"msg":"run started"}' },
          { runId: "r1", step: "a", attempt: 1, time: 2, level: 30, line: '{"msg":"a1"}' },
          { runId: "r1", step: "b", attempt: 1, time: 3, level: 50, line: '{"msg":"b1"}' },
        ]);
        await runs.appendLogs([]);
        await runs.appendLogs([{ runId: "r1", step: "a", attempt: 2, time: 4, level: 30, line: '{"msg":"a2"}' }]);
        expect((await runs.getLogs("r1")).map((l) => l.line)).toEqual([
          '{"msg":"run started"}',
          '{"msg":"a1"}',
          '{"msg":"b1"}',
          '{"msg":"a2"}',
        ]);
        expect(await runs.getLogs("r1", { step: "a" })).toEqual([
          { runId: "r1", step: "a", attempt: 1, time: 2, level: 30, line: '{"msg":"a1"}' },
          { runId: "r1", step: "a", attempt: 2, time: 4, level: 30, line: '{"msg":"a2"}' },
        ]);
        expect(await runs.getLogs("other")).toEqual([]);
      });

      it("keeps every character of log lines and error messages, and a line break in a line as JSON writes one", async () => {
        const { runs } = open();
        await runs.createRun(run("r1"), ["a"]);
        const awkward = `say "hi", {a} \\ NULL ü 🚀\nnext line`;
        const error = { code: "STEP_FAILED", message: awkward };
        await runs.saveAttempt(
          { runId: "r1", step: "a", attempt: 1, status: "failed", startedAt: 1, endedAt: 2, error: { ...error, retryable: false } },
          { ...pendingStep("r1", "a"), status: "failed", attempts: 1, startedAt: 1, endedAt: 2, error },
        );
        const line = (text: string) => ({ runId: "r1", step: "a", attempt: 1, time: 3, level: 50, line: text });
        await runs.appendLogs([line(JSON.stringify({ msg: awkward })), line(""), line("NULL"), line('{"msg":"a\nb"}')]);
        await runs.finishRun("r1", "failed", 4, error);
        expect((await runs.getRun("r1")).error).toEqual(error);
        expect((await runs.getSteps("r1"))[0]!.error).toEqual(error);
        expect((await runs.getAttempts("r1"))[0]!.error).toEqual({ ...error, retryable: false });
        expect((await runs.getLogs("r1")).map((l) => l.line)).toEqual([JSON.stringify({ msg: awkward }), "", "NULL", '{"msg":"a\\nb"}']);
        await runs.appendLogs([line("")]); // an empty line alone is a line too
        expect(await runs.getLogs("r1")).toHaveLength(5);
        // Text that an array literal could take for something else: a null, an empty element.
        for (const [id, message] of [
          ["r2", "NULL"],
          ["r3", ""],
        ] as const) {
          await runs.createRun(run(id), ["a"]);
          await runs.finishRun(id, "failed", 5, { code: "STEP_FAILED", message });
          expect((await runs.getRun(id)).error).toEqual({ code: "STEP_FAILED", message });
        }
      });

      it("keeps a big batch of log lines in order, with times in milliseconds", async () => {
        const { runs } = open();
        await runs.createRun(run("r1"), ["a"]);
        const at = Date.UTC(2026, 0, 1);
        const lines = Array.from({ length: 2_000 }, (_, i) => ({
          runId: "r1",
          step: "a",
          attempt: 1,
          time: at + i,
          level: 30,
          line: `{"i":${i}}`,
        }));
        await runs.appendLogs(lines);
        expect(await runs.getLogs("r1")).toEqual(lines);
      });

      it("keeps validation reports of a run in the order they were saved", async () => {
        const { runs } = open();
        const report = (dataset: string, passed: boolean, at: number): ValidationReport => ({
          runId: "r1",
          step: "ingest",
          dataset,
          version: 2,
          kind: "records",
          checkerVersion: "c1",
          counts: { read: 10, clean: 8, quarantined: 2, newlyQuarantined: 1, restored: 0 },
          reasons: [{ code: "NOT_A_NUMBER", column: "amount", rule: null, count: 2 }],
          results: [],
          passed,
          at,
        });
        await runs.saveValidation(report("tx", true, 5));
        await runs.saveValidation(report("customers", false, 3));
        await runs.saveValidation({ ...report("other", true, 1), runId: "r2" });
        expect(await runs.getValidations("r1")).toEqual([report("tx", true, 5), report("customers", false, 3)]);
        expect(await runs.getValidations("none")).toEqual([]);
      });

      it("a duplicate run id is STORE_FAILED naming the operation, and leaves the first run as it was", async () => {
        const { runs } = open();
        await runs.createRun(run("r1"), ["a"]);
        const error = await rejection(runs.createRun(run("r1", { pipeline: "other" }), ["a", "b"]));
        expect(error.code).toBe("STORE_FAILED");
        expect(error.retryable).toBe(true);
        expect(error.message).toContain("create run");
        expect((await runs.getRun("r1")).pipeline).toBe("daily");
        expect((await runs.getSteps("r1")).map((s) => s.step)).toEqual(["a"]);
      });

      it("a NUL character in an error message does not fail the write", async () => {
        const { runs } = open();
        await runs.createRun(run("r1"), []);
        await runs.finishRun("r1", "failed", 5, { code: "STEP_FAILED", message: "bad\u0000byte" });
        expect((await runs.getRun("r1")).error?.message).toMatch(/^bad.byte$/u);
      });

      it("another connection sees what one wrote", async () => {
        const first = open();
        const second = open();
        await first.runs.createRun(run("r1"), ["a"]);
        await second.runs.finishRun("r1", "succeeded", 9, null);
        expect(await first.runs.getRun("r1")).toMatchObject({ status: "succeeded", endedAt: 9 });
        expect((await second.runs.listRuns()).map((r) => r.id)).toEqual(["r1"]);
      });
    });

    describe("CatalogStore", () => {
      it("holds a dataset's write lock against other connections until it is let go; other datasets stay free", async () => {
        const [a, b] = [open(), open()];
        const first = await a.catalog.holdDataset("scores");
        let second = false;
        const waiting = b.catalog.holdDataset("scores").then((hold) => ((second = true), hold));
        const other = await b.catalog.holdDataset("orders");
        await new Promise((done) => setTimeout(done, 150));
        expect(second).toBe(false);
        expect(() => first.ensure()).not.toThrow();
        await first.release();
        const next = await waiting;
        expect(second).toBe(true);
        await Promise.all([next.release(), other.release()]);
        await (await a.catalog.holdDataset("scores")).release(); // free again
      });

      it("stops waiting for a dataset's write lock when the signal aborts, with its reason, and takes nothing", async () => {
        const [a, b] = [open(), open()];
        const first = await a.catalog.holdDataset("scores");
        const stopped = new AbortController();
        const waiting = b.catalog.holdDataset("scores", stopped.signal);
        await new Promise((done) => setTimeout(done, 100));
        const reason = new Error("the step timed out");
        stopped.abort(reason);
        await expect(waiting).rejects.toBe(reason);
        await expect(b.catalog.holdDataset("orders", stopped.signal)).rejects.toBe(reason); // aborted before: no wait at all
        await first.release();
        // The stopped wait holds nothing: the lock is free for the next writer at once.
        const next = await Promise.race([
          b.catalog.holdDataset("scores"),
          new Promise<never>((_, fail) => setTimeout(() => fail(new Error("the lock was not free")), 5000)),
        ]);
        await next.release();
      });

      it("keeps storages added at run time, by name; a taken name is STORAGE_EXISTS", async () => {
        const { catalog } = open();
        expect(await catalog.listStorages()).toEqual([]);
        const serving = { name: "serving", technology: "redis", format: "kv", options: { urlEnv: "REDIS_URL", prefix: "s:" } } as const;
        const lake = { name: "lake", technology: "files", format: "files", options: { path: "data/raw" } } as const;
        await catalog.addStorage(serving, 1);
        await catalog.addStorage(lake, 2);
        expect(await catalog.listStorages()).toEqual([lake, serving]);

        const taken = await rejection(catalog.addStorage({ ...lake, options: { path: "elsewhere" } }, 3));
        expect(taken.code).toBe("STORAGE_EXISTS");
        expect(taken.message).toBe(`a storage named "lake" exists already`);
        expect(taken.details).toEqual({ storage: "lake" });
        expect(await catalog.listStorages()).toEqual([lake, serving]);

        expect(await catalog.removeStorage("lake")).toBe(true);
        expect(await catalog.removeStorage("lake")).toBe(false);
        expect(await catalog.listStorages()).toEqual([serving]);
      });

      it("numbers each dataset's versions from 1 and records how each ended", async () => {
        const { catalog } = open();
        expect(await catalog.beginVersion(versionEntry("scores", "r1", 100))).toBe(1);
        expect(await catalog.beginVersion({ ...versionEntry("scores", "r2", 200), partition: "2026-01-02" })).toBe(2);
        expect(await catalog.beginVersion(versionEntry("other", null, 300))).toBe(1);
        expect(await catalog.beginVersion(versionEntry("scores", "r2", 400))).toBe(3);
        await catalog.finishVersion("scores", 1, 5_000_000_000, 150);
        await catalog.failVersion("scores", 2, "SCHEMA_MISMATCH: column x is missing", 250);
        await catalog.finishVersion("scores", 3, 7, 450);
        await catalog.markDropped("scores", 1);

        expect(await catalog.versions("scores")).toEqual([
          {
            dataset: "scores",
            version: 1,
            storage: "warehouse",
            status: "dropped",
            rows: 5_000_000_000,
            runId: "r1",
            step: "write",
            partition: null,
            createdAt: 100,
            finishedAt: 150,
            error: null,
            live: false,
          },
          {
            dataset: "scores",
            version: 2,
            storage: "warehouse",
            status: "failed",
            rows: null,
            runId: "r2",
            step: "write",
            partition: "2026-01-02",
            createdAt: 200,
            finishedAt: 250,
            error: "SCHEMA_MISMATCH: column x is missing",
            live: false,
          },
          {
            dataset: "scores",
            version: 3,
            storage: "warehouse",
            status: "ready",
            rows: 7,
            runId: "r2",
            step: "write",
            partition: null,
            createdAt: 400,
            finishedAt: 450,
            error: null,
            live: false,
          },
        ]);
        expect(await catalog.versions("none")).toEqual([]);
        expect(await catalog.datasets()).toEqual(["other", "scores"]);
        expect((await catalog.versionsOfRun("r2")).map((v) => [v.dataset, v.version])).toEqual([
          ["scores", 2],
          ["scores", 3],
        ]);
        expect((await catalog.versionsOfRun("r1")).map((v) => [v.dataset, v.version, v.status])).toEqual([["scores", 1, "dropped"]]);
      });

      it("points one version of a dataset live at a time, and moves the pointer back for a rollback", async () => {
        const { catalog } = open();
        expect(await catalog.liveVersion("scores")).toBeNull();
        for (let i = 0; i < 3; i++) {
          const v = await catalog.beginVersion(versionEntry("scores"));
          await catalog.finishVersion("scores", v, 10 + v, 100 + v);
        }
        await catalog.setLive("scores", 3, 500);
        expect(await catalog.liveVersion("scores")).toMatchObject({ dataset: "scores", version: 3, rows: 13, status: "ready", live: true });
        expect((await catalog.versions("scores")).map((v) => v.live)).toEqual([false, false, true]);
        await catalog.setLive("scores", 2, 600);
        expect((await catalog.liveVersion("scores"))?.version).toBe(2);
        expect((await catalog.versions("scores")).map((v) => v.live)).toEqual([false, true, false]);
        expect(await catalog.liveVersion("other")).toBeNull();
      });

      it("records lineage by run, in the order it happened", async () => {
        const { catalog } = open();
        const records: LineageRecord[] = [
          { runId: "r1", step: "load", dataset: "tx", version: 4, direction: "read", at: 10 },
          { runId: "r1", step: "score", dataset: "scores", version: 2, direction: "write", at: 20 },
          { runId: "r1", step: "load", dataset: "customers", version: 1, direction: "read", at: 10 },
          { runId: "r2", step: "load", dataset: "tx", version: 4, direction: "read", at: 15 },
        ];
        await catalog.recordLineage(records);
        await catalog.recordLineage([]);
        expect(await catalog.lineageOfRun("r1")).toEqual([records[2], records[0], records[1]]);
        expect(await catalog.lineageOfRun("r2")).toEqual([records[3]]);
        expect(await catalog.lineageOfRun("r3")).toEqual([]);
      });

      it("two connections allocating versions of one dataset at once never get the same number", async () => {
        const a = open();
        const b = open();
        const allocate = (stores: MetadataStores, n: number): Promise<number[]> =>
          Promise.all(Array.from({ length: n }, (_, i) => stores.catalog.beginVersion(versionEntry("contended", `r${i}`))));
        const [fromA, fromB] = await Promise.all([allocate(a, 25), allocate(b, 25)]);
        expect([...fromA, ...fromB].sort((x, y) => x - y)).toEqual(range(1, 50));
        expect((await a.catalog.versions("contended")).map((v) => v.version)).toEqual(range(1, 50));
      });
    });

    describe("ModelRegistry", () => {
      const entry = (name: string, at: number) => ({
        name,
        algorithm: "bg-nbd",
        params: { r: 0.243, alpha: 4.414 },
        metrics: { mae: 0.8 },
        artifact: { format: "strata.cltv-model", fits: [1, 2] },
        runId: "r1",
        step: "fit",
        at,
      });

      it("registers numbered versions with their params, metrics, lineage and artifact", async () => {
        const { models } = open();
        const first = await models.register(entry("customer-value", 100));
        expect(first).toEqual({
          name: "customer-value",
          version: 1,
          algorithm: "bg-nbd",
          params: { r: 0.243, alpha: 4.414 },
          metrics: { mae: 0.8 },
          runId: "r1",
          step: "fit",
          createdAt: 100,
          artifact: { format: "strata.cltv-model", fits: [1, 2] },
          aliases: [],
        });
        const bare = await models.register({
          name: "customer-value",
          algorithm: "pareto-nbd",
          params: {},
          runId: null,
          step: null,
          at: 200,
        });
        expect(bare).toMatchObject({ version: 2, metrics: {}, artifact: null, runId: null, step: null, aliases: [] });
        expect((await models.register(entry("churn", 300))).version).toBe(1);
        expect((await models.versions("customer-value")).map((v) => [v.version, v.algorithm])).toEqual([
          [1, "bg-nbd"],
          [2, "pareto-nbd"],
        ]);
        expect(await models.versions("none")).toEqual([]);
        expect(await models.names()).toEqual(["churn", "customer-value"]);
      });

      it("points aliases at versions, moving an alias from one version to another", async () => {
        const { models } = open();
        await models.register(entry("m", 1));
        await models.register(entry("m", 2));
        await models.setAlias("m", "live", 1, 10);
        await models.setAlias("m", "candidate", 2, 11);
        await models.setAlias("m", "best", 2, 12);
        expect((await models.get("m", "live")).version).toBe(1);
        expect((await models.get("m", 2)).aliases).toEqual(["best", "candidate"]);
        await models.setAlias("m", "live", 2, 13);
        expect(await models.get("m", "live")).toMatchObject({ version: 2, aliases: ["best", "candidate", "live"] });
        expect((await models.versions("m")).map((v) => v.aliases)).toEqual([[], ["best", "candidate", "live"]]);
      });

      it("MODEL_NOT_FOUND names the versions there are; an alias cannot point at a missing version", async () => {
        const { models } = open();
        const none = await rejection(models.get("nope", 1));
        expect(none.code).toBe("MODEL_NOT_FOUND");
        expect(none.status).toBe(404);
        expect(none.message).toBe('no model named "nope" is registered');
        await models.register(entry("m", 1));
        await models.register(entry("m", 2));
        const alias = await rejection(models.get("m", "live"));
        expect(alias.message).toBe('model "m" has no version or alias "live" (versions: 1, 2)');
        expect(alias.details).toEqual({ name: "m", version: "live" });
        expect((await rejection(models.get("m", 3))).message).toBe('model "m" has no version or alias 3 (versions: 1, 2)');
        expect((await rejection(models.get("m", 1.5))).code).toBe("MODEL_NOT_FOUND");
        expect((await rejection(models.setAlias("m", "live", 7, 5))).code).toBe("MODEL_NOT_FOUND");
        expect((await rejection(models.get("m", "live"))).code).toBe("MODEL_NOT_FOUND");
      });

      it("two connections registering one model at once get distinct versions", async () => {
        const a = open();
        const b = open();
        const register = (stores: MetadataStores, n: number) =>
          Promise.all(Array.from({ length: n }, (_, i) => stores.models.register(entry("shared", i))));
        const [fromA, fromB] = await Promise.all([register(a, 10), register(b, 10)]);
        expect([...fromA, ...fromB].map((v) => v.version).sort((x, y) => x - y)).toEqual(range(1, 20));
      });
    });

    describe("ApiKeyStore", () => {
      const validScopes = API_SCOPES.join(", ");

      it("creates a strata_ key, returns it once, and lists its record", async () => {
        const { apiKeys } = open();
        const { key, record } = await apiKeys.create("  checkout-app ", ["invoke"], 1000);
        expect(key).toMatch(/^strata_[A-Za-z0-9_-]{43}$/);
        expect(record).toEqual({
          id: expect.stringMatching(/^k/),
          name: "checkout-app",
          scopes: ["invoke"],
          createdAt: 1000,
          revokedAt: null,
          hint: key.slice(0, 12),
        });
        const second = await apiKeys.create("other", ["manage", "invoke", "manage"], 2000);
        expect(second.key).not.toBe(key);
        expect(second.record.scopes).toEqual(["invoke", "manage"]);
        expect(await apiKeys.list()).toEqual([record, second.record]);
      });

      it("activeByHash maps the hash of every key not revoked to its record", async () => {
        const { apiKeys } = open();
        const a = await apiKeys.create("a", ["invoke"], 1);
        const b = await apiKeys.create("b", ["invoke", "manage"], 2);
        expect(await apiKeys.activeByHash()).toEqual(
          new Map([
            [hashApiKey(a.key), a.record],
            [hashApiKey(b.key), b.record],
          ]),
        );
        await apiKeys.revoke("a", 3);
        expect([...(await apiKeys.activeByHash()).keys()]).toEqual([hashApiKey(b.key)]);
      });

      it("refuses a name taken by a key not revoked, and accepts it again once that key is revoked", async () => {
        const { apiKeys } = open();
        const first = await apiKeys.create("ops", ["manage"], 1);
        const error = await rejection(apiKeys.create("ops", ["invoke"], 2));
        expect(error.code).toBe("API_KEY_INVALID");
        expect(error.status).toBe(400);
        expect(error.message).toBe(`an API key named "ops" already exists (${first.record.id}): revoke it first or choose another name`);
        await apiKeys.revoke(first.record.id, 3);
        const again = await apiKeys.create("ops", ["invoke"], 4);
        expect(again.record.id).not.toBe(first.record.id);
        expect((await apiKeys.list()).map((k) => [k.name, k.revokedAt])).toEqual([
          ["ops", 3],
          ["ops", null],
        ]);
      });

      it("refuses an unknown scope, no scope, and an empty name, naming the valid scopes", async () => {
        const { apiKeys } = open();
        const unknown = await rejection(apiKeys.create("x", ["invoke", "admin" as ApiScope], 1));
        expect(unknown.code).toBe("API_KEY_INVALID");
        expect(unknown.message).toBe(`unknown scope "admin" (valid scopes: ${validScopes})`);
        expect(unknown.details).toMatchObject({ validScopes: [...API_SCOPES] });
        const none = await rejection(apiKeys.create("x", [], 1));
        expect(none.message).toBe(`an API key needs at least one scope (valid scopes: ${validScopes})`);
        const noName = await rejection(apiKeys.create("  ", ["invoke"], 1));
        expect(noName.message).toBe(`an API key needs a name (valid scopes: ${validScopes})`);
        expect(await apiKeys.list()).toEqual([]);
      });

      it("revokes by id and by name and returns the record; revoking again changes nothing", async () => {
        const { apiKeys } = open();
        const a = await apiKeys.create("a", ["invoke"], 1);
        const b = await apiKeys.create("b", ["invoke"], 2);
        expect(await apiKeys.revoke(a.record.id, 10)).toEqual({ ...a.record, revokedAt: 10 });
        expect(await apiKeys.revoke(" b ", 11)).toEqual({ ...b.record, revokedAt: 11 });
        expect(await apiKeys.revoke("b", 12)).toEqual({ ...b.record, revokedAt: 11 });
        expect((await apiKeys.list()).map((k) => k.revokedAt)).toEqual([10, 11]);
        expect((await apiKeys.activeByHash()).size).toBe(0);
      });

      it("by name, revokes the key not revoked, else returns the last one revoked", async () => {
        const { apiKeys } = open();
        const old = await apiKeys.create("ops", ["invoke"], 1);
        await apiKeys.revoke(old.record.id, 2);
        const current = await apiKeys.create("ops", ["invoke"], 3);
        expect((await apiKeys.revoke("ops", 4)).id).toBe(current.record.id);
        expect(await apiKeys.revoke("ops", 5)).toEqual({ ...current.record, revokedAt: 4 });
      });

      it("revoking an unknown id or name is API_KEY_NOT_FOUND", async () => {
        const { apiKeys } = open();
        await apiKeys.create("a", ["invoke"], 1);
        const error = await rejection(apiKeys.revoke("nope", 2));
        expect(error.code).toBe("API_KEY_NOT_FOUND");
        expect(error.status).toBe(404);
        expect(error.message).toBe(`no API key has the id or name "nope" (see: strata keys list)`);
        expect((await apiKeys.list())[0]!.revokedAt).toBeNull();
      });

      it("two connections creating keys of one name at once: one gets it, the other is told", async () => {
        const a = open();
        const b = open();
        const results = await Promise.allSettled([a.apiKeys.create("race", ["invoke"], 1), b.apiKeys.create("race", ["invoke"], 1)]);
        expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
        const refused = results.find((r) => r.status === "rejected");
        expect((refused?.reason as { code?: string } | undefined)?.code).toBe("API_KEY_INVALID");
        expect((await a.apiKeys.list()).map((k) => k.name)).toEqual(["race"]);
      });
    });
  });
}
