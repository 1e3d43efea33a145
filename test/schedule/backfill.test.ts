import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { TestClock } from "../../src/clock/clock.js";
import { isStrataError } from "../../src/errors/strata-error.js";
import { pipeline, type AnyPipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";
import { thisProcess } from "../../src/runtime/abandoned-runs.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { backfillDates, planBackfill, runBackfill, type BackfillRange } from "../../src/schedule/backfill.js";
import { cron } from "../../src/schedule/cron.js";
import { runRecord } from "../helpers/run-records.js";

let workspace: Workspace | undefined;
const open = (): Workspace => (workspace = openWorkspace(":memory:"));
afterEach(async () => {
  await workspace?.close();
  workspace = undefined;
});

const START = Date.UTC(2026, 1, 1);

/** `day` takes the date; the run fails on the days listed in `failing`. */
function daily(failing: Set<string> = new Set()) {
  return pipeline("daily", { params: z.object({ day: z.coerce.date(), region: z.string().default("eu") }) }, ({ params }) => {
    step("load", { inputs: { day: params.day, region: params.region } }, ({ day, region }) => {
      const iso = day.toISOString().slice(0, 10);
      if (failing.has(iso)) throw new Error(`no file for ${iso}`);
      return { day: iso, region };
    });
  });
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isStrataError(error)) return error.code;
    throw error;
  }
  throw new Error("expected an error");
}

describe("the dates of a backfill", () => {
  it("by day: every calendar day from --from to --to, the date passed to the pipeline's date param", () => {
    const { dates, param, by } = backfillDates(daily(), { from: "2028-02-27", to: "2028-03-01", params: { region: "us" } });
    expect([param, by]).toEqual(["day", "day"]);
    expect(dates.map((d) => d.date)).toEqual(["2028-02-27", "2028-02-28", "2028-02-29", "2028-03-01"]);
    expect(dates[0]).toEqual({ date: "2028-02-27", triggerId: "backfill:daily@2028-02-27", params: { region: "us", day: "2028-02-27" } });
    expect(backfillDates(daily(), { from: "2026-01-01", to: "2026-01-01" }).dates).toHaveLength(1);
  });

  it("passes each param kind the value it reads: a Date to z.date(), the calendar date to z.iso.date()", () => {
    const asDate = pipeline("as-date", { params: z.object({ on: z.date().optional(), n: z.number().default(1) }) }, () => {
      step("s", () => 1);
    });
    expect(backfillDates(asDate, { from: "2026-01-02", to: "2026-01-02" }).dates[0]!.params).toEqual({ on: new Date("2026-01-02") });
    const asText = pipeline("as-text", { params: z.object({ on: z.iso.date() }) }, () => {
      step("s", () => 1);
    });
    expect(backfillDates(asText, { from: "2026-01-02", to: "2026-01-02" }).dates[0]!.params).toEqual({ on: "2026-01-02" });
    // A param of another type takes the date when named.
    const named = pipeline("named", { params: z.object({ label: z.string(), other: z.number() }) }, () => {
      step("s", () => 1);
    });
    expect(backfillDates(named, { from: "2026-01-02", to: "2026-01-02", param: "label", params: { other: 1 } }).dates[0]!.params).toEqual({
      other: 1,
      label: "2026-01-02",
    });
  });

  it("by schedule: the fire times in the range, in the schedule's zone, across a daylight-saving change, with its params", () => {
    const report = pipeline(
      "report",
      {
        params: z.object({ asOf: z.coerce.date(), region: z.string() }),
        schedules: [cron("0 6 * * *", { timezone: "Europe/Paris", params: { region: "eu" } })],
      },
      () => {
        step("s", () => 1);
      },
    );
    const plan = backfillDates(report, { from: "2026-03-28", to: "2026-03-30", by: "schedule" });
    expect(plan.timezone).toBe("Europe/Paris");
    // 06:00 in Paris: 05:00Z in winter time, 04:00Z from Sunday the 29th.
    expect(plan.dates.map((d) => d.date)).toEqual(["2026-03-28T05:00:00.000Z", "2026-03-29T04:00:00.000Z", "2026-03-30T04:00:00.000Z"]);
    expect(plan.dates[1]).toEqual({
      date: "2026-03-29T04:00:00.000Z",
      triggerId: "backfill:report@2026-03-29T04:00:00.000Z",
      params: { region: "eu", asOf: "2026-03-29T04:00:00.000Z" },
    });
    // Given params win over the schedule's.
    expect(
      backfillDates(report, { from: "2026-03-28", to: "2026-03-28", by: "schedule", params: { region: "us" } }).dates[0]!.params,
    ).toEqual({
      region: "us",
      asOf: "2026-03-28T05:00:00.000Z",
    });
  });

  it("by schedule: a day of --from/--to is that whole day in the schedule's zone; a time with an offset is that instant", () => {
    // 22:00 in New York is 03:00Z the next day.
    const evening = pipeline(
      "evening",
      { params: z.object({ on: z.iso.date() }), schedules: [cron("0 22 * * *", { timezone: "America/New_York" })] },
      () => {
        step("s", () => 1);
      },
    );
    const oneDay = backfillDates(evening, { from: "2026-01-05", to: "2026-01-05", by: "schedule" }).dates;
    expect(oneDay.map((d) => [d.date, d.params.on])).toEqual([["2026-01-06T03:00:00.000Z", "2026-01-05"]]);
    const instants = backfillDates(evening, { from: "2026-01-05T00:00:00Z", to: "2026-01-06T03:00:00Z", by: "schedule" }).dates;
    expect(instants.map((d) => d.date)).toEqual(["2026-01-05T03:00:00.000Z", "2026-01-06T03:00:00.000Z"]);
    const offsets = backfillDates(evening, { from: "2026-01-05T22:00:00-05:00", to: "2026-01-05T22:00:00-05:00", by: "schedule" }).dates;
    expect(offsets.map((d) => d.date)).toEqual(["2026-01-06T03:00:00.000Z"]);
  });

  it("refuses bad input with a stable code before anything runs", () => {
    const p = daily();
    const bad = (range: BackfillRange, target: AnyPipeline = p) => codeOf(() => backfillDates(target, range));
    expect(bad({ from: "2026-01-05", to: "2026-01-01" })).toBe("BACKFILL_INVALID"); // from after to
    expect(bad({ from: "2026-02-30", to: "2026-03-01" })).toBe("BACKFILL_INVALID"); // no such day
    expect(bad({ from: "yesterday", to: "2026-03-01" })).toBe("BACKFILL_INVALID");
    expect(bad({ from: "2026-01-01T00:00:00Z", to: "2026-01-02" })).toBe("BACKFILL_INVALID"); // by day: days only
    expect(bad({ from: "2000-01-01", to: "2030-01-01" })).toBe("BACKFILL_INVALID"); // more than 10,000 dates
    expect(bad({ from: "2026-01-01", to: "2026-01-02", by: "schedule" })).toBe("BACKFILL_INVALID"); // no schedule
    expect(bad({ from: "2026-01-01", to: "2026-01-02", param: "nope" })).toBe("PARAM_UNKNOWN");
    expect(bad({ from: "2026-01-01", to: "2026-01-02", params: { day: "2026-01-01" } })).toBe("BACKFILL_INVALID");
    const minutely = pipeline("minutely", { params: z.object({ at: z.coerce.date() }), schedules: [cron("* * * * *")] }, () => {
      step("s", () => 1);
    });
    expect(bad({ from: "2026-01-01", to: "2026-01-31", by: "schedule" }, minutely)).toBe("BACKFILL_INVALID"); // 44,640 fire times
    const two = pipeline("two", { params: z.object({ start: z.coerce.date(), end: z.coerce.date() }) }, () => {
      step("s", () => 1);
    });
    expect(() => backfillDates(two, { from: "2026-01-01", to: "2026-01-02" })).toThrow(/several date params \(start, end\)/);
    expect(backfillDates(two, { from: "2026-01-01", to: "2026-01-01", param: "end", params: { start: "2025-12-01" } }).dates).toHaveLength(
      1,
    );
    const none = pipeline("none", () => {
      step("s", () => 1);
    });
    expect(bad({ from: "2026-01-01", to: "2026-01-02" }, none)).toBe("BACKFILL_INVALID");
  });

  it("checks every run's params when planning: a bad fixed param is PARAM_INVALID, and nothing is recorded", async () => {
    const workspace = open();
    const strict = pipeline("strict", { params: z.object({ day: z.coerce.date(), n: z.number().int() }) }, () => {
      step("s", () => 1);
    });
    const error = await planBackfill(strict, workspace, { from: "2026-01-01", to: "2026-01-03" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "PARAM_INVALID" });
    expect(await workspace.store.listRuns()).toEqual([]);
  });
});

describe("running a backfill", () => {
  it("runs at most `parallel` dates at once, each with trigger kind backfill and its date's trigger id", async () => {
    const workspace = open();
    let active = 0;
    let most = 0;
    const counted = pipeline("counted", { params: z.object({ day: z.coerce.date() }) }, ({ params }) => {
      step("work", { inputs: { day: params.day } }, async ({ day }) => {
        most = Math.max(most, ++active);
        await new Promise((resolve) => setTimeout(resolve, 25));
        active--;
        return day.toISOString();
      });
    });
    const plan = await planBackfill(counted, workspace, { from: "2026-01-01", to: "2026-01-08" });
    const ended: string[] = [];
    const { results, notStarted } = await runBackfill(counted, plan.toRun, {
      workspace,
      parallel: 3,
      onResult: (r) => ended.push(r.date.date),
    });
    expect(most).toBe(3);
    expect([results.length, notStarted.length, ended.length]).toEqual([8, 0, 8]);
    expect(results.every((r) => r.status === "succeeded")).toBe(true);
    expect(results.map((r) => r.date.date)).toEqual(plan.dates.map((d) => d.date)); // in date order
    const runs = await workspace.store.listRuns({ pipeline: "counted", limit: 100 });
    expect(runs.map((r) => r.trigger.id).sort()).toEqual(plan.dates.map((d) => `backfill:counted@${d.date}`));
    expect(new Set(runs.map((r) => r.trigger.kind))).toEqual(new Set(["backfill"]));
    expect(runs.find((r) => r.trigger.id === "backfill:counted@2026-01-03")?.inputParams).toEqual({ day: "2026-01-03" });

    // A pipeline that runs one at a time (overlap: queue) is backfilled one date at a time.
    most = 0;
    const queued = pipeline("queued", { overlap: "queue", params: z.object({ day: z.coerce.date() }) }, ({ params }) => {
      step("work", { inputs: { day: params.day } }, async () => {
        most = Math.max(most, ++active);
        await new Promise((resolve) => setTimeout(resolve, 10));
        active--;
        return 1;
      });
    });
    const one = await planBackfill(queued, workspace, { from: "2026-01-01", to: "2026-01-04" });
    await runBackfill(queued, one.toRun, { workspace, parallel: 4 });
    expect(most).toBe(1);
  });

  it("goes on past a failing date; a second backfill runs only the dates not yet succeeded, and --force reruns them all", async () => {
    const workspace = open();
    const clock = new TestClock(START);
    const failing = new Set(["2026-01-02"]);
    const p = daily(failing);
    const range = { from: "2026-01-01", to: "2026-01-04" };
    const first = await planBackfill(p, workspace, range, clock);
    expect(first.toRun).toHaveLength(4);
    const { results } = await runBackfill(p, first.toRun, { workspace, clock, parallel: 2 });
    expect(results.map((r) => [r.date.date, r.status])).toEqual([
      ["2026-01-01", "succeeded"],
      ["2026-01-02", "failed"],
      ["2026-01-03", "succeeded"],
      ["2026-01-04", "succeeded"],
    ]);
    expect(results[1]!.error).toMatchObject({ code: "STEP_FAILED" });
    expect(results[1]!.error!.message).toContain("no file for 2026-01-02");

    clock.advance(60_000);
    failing.clear();
    const second = await planBackfill(p, workspace, range, clock);
    expect(second.planned.map((d) => d.action)).toEqual(["done", "run", "done", "done"]);
    expect(second.planned[0]!.previous?.id).toBe(results[0]!.runId);
    expect(second.toRun.map((d) => d.date)).toEqual(["2026-01-02"]);
    const rerun = await runBackfill(p, second.toRun, { workspace, clock });
    expect(rerun.results.map((r) => r.status)).toEqual(["succeeded"]);

    clock.advance(60_000);
    expect((await planBackfill(p, workspace, range, clock)).toRun).toEqual([]);
    const forced = await planBackfill(p, workspace, { ...range, force: true }, clock);
    expect(forced.toRun.map((d) => d.date)).toEqual(["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]);
    // Only backfill runs count: a manual run of the pipeline does not mark a date done.
    await runPipeline(p, { workspace, clock, params: { day: "2026-01-05" } });
    const other = await planBackfill(p, workspace, { from: "2026-01-05", to: "2026-01-05" }, clock);
    expect(other.toRun).toHaveLength(1);
  });

  it("skips a date whose backfill run is in progress in a live process, and settles one whose process died", async () => {
    const workspace = open();
    const clock = new TestClock(START);
    const p = daily();
    const trigger = (day: string) => ({ kind: "backfill" as const, id: `backfill:daily@${day}` });
    await workspace.store.createRun(runRecord("r-live", { trigger: trigger("2026-01-01"), owner: thisProcess }), ["load"]);
    const deadPid = 2 ** 22 + 12_345; // above Linux's pid_max default: no such process
    await workspace.store.createRun(
      runRecord("r-dead", { trigger: trigger("2026-01-02"), owner: `${thisProcess.split(":")[0]}:${deadPid}` }),
      ["load"],
    );
    const plan = await planBackfill(p, workspace, { from: "2026-01-01", to: "2026-01-02" }, clock);
    expect(plan.planned.map((d) => [d.date, d.action, d.previous?.id])).toEqual([
      ["2026-01-01", "running", "r-live"],
      ["2026-01-02", "run", "r-dead"],
    ]);
    expect((await workspace.store.getRun("r-dead")).error).toMatchObject({ code: "RUN_ABANDONED" });
  });

  it("stops starting dates once the signal aborts; the rest are reported as not started", async () => {
    const workspace = open();
    const p = daily();
    const plan = await planBackfill(p, workspace, { from: "2026-01-01", to: "2026-01-05" });
    const stop = new AbortController();
    const outcome = await runBackfill(p, plan.toRun, { workspace, parallel: 1, signal: stop.signal, onResult: () => stop.abort() });
    expect(outcome.results.map((r) => [r.date.date, r.status])).toEqual([["2026-01-01", "succeeded"]]);
    expect(outcome.notStarted.map((d) => d.date)).toEqual(["2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"]);
  });

  it("refuses a parallelism below 1", async () => {
    const workspace = open();
    const p = daily();
    const plan = await planBackfill(p, workspace, { from: "2026-01-01", to: "2026-01-01" });
    await expect(runBackfill(p, plan.toRun, { workspace, parallel: 0 })).rejects.toMatchObject({ code: "BACKFILL_INVALID" });
    await expect(runBackfill(p, plan.toRun, { workspace, parallel: 1.5 })).rejects.toMatchObject({ code: "BACKFILL_INVALID" });
    expect(await workspace.store.listRuns()).toEqual([]);
  });
});
