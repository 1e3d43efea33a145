import { Cron } from "croner";
import { systemClock, type Clock } from "../clock/clock.js";
import { ParamError } from "../errors/errors.js";
import { describeError, StrataError } from "../errors/strata-error.js";
import { validateParams } from "../pipeline/params.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import { settleAbandoned } from "../runtime/abandoned-runs.js";
import { runPipeline } from "../runtime/run-pipeline.js";
import type { Workspace } from "../runtime/workspace.js";
import type { ErrorInfo, RunRecord, RunStatus } from "../storage/run-store.js";
import type { CronSchedule } from "./cron.js";

/** At most this many dates in one backfill: a longer range is split by the caller. */
export const MAX_BACKFILL_DATES = 10_000;
/** Runs at once when the caller does not say. */
export const DEFAULT_PARALLEL = 2;
/** How many recent runs of the pipeline are read to find the dates already done. */
const HISTORY = 50_000;
const DAY_MS = 86_400_000;

/** One run per calendar day (`day`), or per fire time of the pipeline's cron schedule (`schedule`). */
export type BackfillBy = "day" | "schedule";

export interface BackfillRange {
  /** `YYYY-MM-DD`; by schedule also a time with its offset (`2026-01-05T06:00:00Z`). Inclusive. */
  readonly from: string;
  /** Same forms as `from`; inclusive (a day to its end). */
  readonly to: string;
  readonly by?: BackfillBy;
  /** By schedule, when the pipeline has several: the index of the one to follow. */
  readonly schedule?: number;
  /** The param that takes each date. Default: the pipeline's only date param (z.date(), z.coerce.date(), z.iso.date()). */
  readonly param?: string;
  /** Params of every run, beside the date (by schedule, over the schedule's own params). */
  readonly params?: Readonly<Record<string, unknown>>;
}

export interface BackfillDate {
  /** `2026-01-05` by day; the fire time, `2026-01-05T02:00:00.000Z`, by schedule. */
  readonly date: string;
  /** `backfill:<pipeline>@<date>`: how a later backfill finds this date's runs. */
  readonly triggerId: string;
  /** The run's params as given (validated when planned, and again by `runPipeline`). */
  readonly params: Record<string, unknown>;
}

export interface BackfillDates {
  readonly pipeline: string;
  readonly by: BackfillBy;
  readonly param: string;
  /** The schedule's zone by schedule; null by day (days are calendar dates). */
  readonly timezone: string | null;
  readonly dates: readonly BackfillDate[];
}

/** A date and what an earlier backfill did for it. */
export interface PlannedDate extends BackfillDate {
  /** The latest backfill run of this date, if any. */
  readonly previous: RunRecord | null;
  /** `run`; `done` when its latest backfill run succeeded; `running` when that run is still in progress. */
  readonly action: "run" | "done" | "running";
}

export interface BackfillPlan extends BackfillDates {
  readonly planned: readonly PlannedDate[];
  /** The dates to run now, in order. */
  readonly toRun: readonly PlannedDate[];
}

export interface BackfillResult {
  readonly date: BackfillDate;
  /** Null when the run could not be recorded (Strata's own store failed). */
  readonly runId: string | null;
  readonly status: RunStatus;
  readonly durationMs: number;
  readonly error: ErrorInfo | null;
}

export interface BackfillRunOptions {
  readonly workspace: Workspace;
  /** Runs at once (default 2); 1 for a pipeline whose overlap policy is not `allow`. */
  readonly parallel?: number;
  readonly clock?: Clock;
  /** Stops starting dates and cancels the runs in flight. */
  readonly signal?: AbortSignal;
  /** Steps at once within each run (default: the pipeline's). */
  readonly concurrency?: number;
  readonly interpreters?: Readonly<Record<string, string>>;
  readonly onStart?: (date: BackfillDate, runId: string) => void;
  /** Told of each run as it ends, in the order they end. */
  readonly onResult?: (result: BackfillResult) => void;
}

export interface BackfillOutcome {
  /** One per date started, in date order. */
  readonly results: readonly BackfillResult[];
  /** Dates not started because the signal aborted. */
  readonly notStarted: readonly BackfillDate[];
}

function invalid(message: string, details: Record<string, unknown> = {}): StrataError {
  return new StrataError("BACKFILL_INVALID", message, { details });
}

/** Checks a requested parallelism: a whole number >= 1. */
export function checkParallel(parallel: number): number {
  if (!Number.isInteger(parallel) || parallel < 1)
    throw invalid(`the number of runs at once (--parallel) is a whole number >= 1, got ${String(parallel)}`, { parallel });
  return parallel;
}

/** Runs at once for `pipeline`: the request, or 1 when its overlap policy (`skip`, `queue`) allows one run at a time. */
export function backfillParallelism(pipeline: AnyPipeline, requested: number): number {
  checkParallel(requested);
  return pipeline.overlap === "allow" ? requested : 1;
}

// ---- the date param -------------------------------------------------------------------------

interface FieldDef {
  readonly type?: string;
  readonly coerce?: boolean;
  readonly format?: string;
  readonly innerType?: { def?: FieldDef };
  readonly in?: { def?: FieldDef };
}

/** The def that reads the input, looking through .default(), .optional(), .nullable() and pipes. */
function baseDef(field: unknown): FieldDef | undefined {
  let def = (field as { def?: FieldDef } | undefined)?.def;
  while (def?.innerType?.def || def?.in?.def) def = def.innerType?.def ?? def.in?.def;
  return def;
}

function isDateField(def: FieldDef | undefined): boolean {
  return def?.type === "date" || (def?.type === "string" && (def.format === "date" || def.format === "datetime"));
}

function chooseParam(pipeline: AnyPipeline, wanted: string | undefined): { name: string; def: FieldDef | undefined } {
  const shape = (pipeline.params as { shape?: Record<string, unknown> } | undefined)?.shape;
  const names = shape ? Object.keys(shape) : [];
  if (wanted !== undefined) {
    if (!shape || !(wanted in shape))
      throw new ParamError(
        "PARAM_UNKNOWN",
        `pipeline "${pipeline.name}" has no param "${wanted}" to take the date (its params: ${names.join(", ") || "none"})`,
        { details: { pipeline: pipeline.name, unknown: [wanted], known: names } },
      );
    return { name: wanted, def: baseDef(shape[wanted]) };
  }
  const dated = names.filter((n) => isDateField(baseDef(shape![n])));
  if (dated.length === 1) return { name: dated[0]!, def: baseDef(shape![dated[0]!]) };
  const message = !names.length
    ? `pipeline "${pipeline.name}" has no params: a backfill passes each date to a param`
    : dated.length
      ? `pipeline "${pipeline.name}" has several date params (${dated.join(", ")}); name the one that takes the date: --param <name>`
      : `pipeline "${pipeline.name}" has no date param (z.date(), z.coerce.date(), z.iso.date()); name the one that takes the date: --param <name> (its params: ${names.join(", ")})`;
  throw invalid(message, { pipeline: pipeline.name, params: names, dateParams: dated });
}

/**
 * The value a run gets for a date: a Date for z.date(), the calendar date for a date string
 * (z.iso.date()), the ISO instant for a date-time string, and otherwise the day (`2026-01-05`) by
 * day or the fire time by schedule, which z.coerce.date() reads.
 */
function dateValue(def: FieldDef | undefined, instant: number, day: string, by: BackfillBy): unknown {
  if (def?.type === "date" && !def.coerce) return new Date(instant);
  if (def?.type === "string" && def.format === "date") return day;
  if (def?.type === "string" && def.format === "datetime") return new Date(instant).toISOString();
  return by === "day" ? day : new Date(instant).toISOString();
}

// ---- dates and zones ------------------------------------------------------------------------

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** `YYYY-MM-DD` as the UTC midnight of that calendar day, or undefined. */
function parseDay(text: string): number | undefined {
  const m = DAY.exec(text);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(t).toISOString().slice(0, 10) === text ? t : undefined;
}

function localParts(timezone: string, t: number): { day: string; wall: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    })
      .formatToParts(t)
      .map((p) => [p.type, p.value]),
  );
  const [y, mo, d] = [Number(parts.year), Number(parts.month), Number(parts.day)];
  return {
    day: `${parts.year}-${parts.month}-${parts.day}`,
    wall: Date.UTC(y, mo - 1, d, Number(parts.hour), Number(parts.minute), Number(parts.second)),
  };
}

/** The calendar date of an instant in a zone. */
function dayIn(timezone: string, t: number): string {
  return localParts(timezone, t).day;
}

/** The first instant of a calendar day (UTC midnight `day`) in a zone, daylight-saving changes included. */
function startOfDayIn(timezone: string, day: number): number {
  const offset = (t: number): number => localParts(timezone, t).wall - Math.floor(t / 1000) * 1000;
  let t = day - offset(day);
  t = day - offset(t);
  // A day whose midnight falls in a daylight-saving gap starts when the gap ends.
  const target = new Date(day).toISOString().slice(0, 10);
  while (dayIn(timezone, t) < target) t += 15 * 60_000;
  return t;
}

/** `count`: as people read it ("10,959", "more than 10,000"). */
function tooMany(count: string): StrataError {
  const max = MAX_BACKFILL_DATES.toLocaleString("en-US");
  return invalid(`the range holds ${count} dates; at most ${max} in one backfill: split it`, { max: MAX_BACKFILL_DATES });
}

function dayList(range: BackfillRange): number[] {
  const [from, to] = (["from", "to"] as const).map((key) => {
    const t = parseDay(range[key]);
    if (t === undefined) throw invalid(`--${key} "${range[key]}" is not a date (YYYY-MM-DD)`, { [key]: range[key] });
    return t;
  }) as [number, number];
  if (from > to) throw invalid(`--from ${range.from} is after --to ${range.to}`, { from: range.from, to: range.to });
  const count = (to - from) / DAY_MS + 1;
  if (count > MAX_BACKFILL_DATES) throw tooMany(count.toLocaleString("en-US"));
  return Array.from({ length: count }, (_, i) => from + i * DAY_MS);
}

function pickSchedule(pipeline: AnyPipeline, index: number | undefined): CronSchedule {
  const { schedules } = pipeline;
  const listed = schedules.map((s, i) => `${i}: "${s.expression}" (${s.timezone})`).join(", ");
  if (!schedules.length) throw invalid(`pipeline "${pipeline.name}" has no cron schedule; backfill it by day`, { pipeline: pipeline.name });
  if (index === undefined) {
    if (schedules.length === 1) return schedules[0]!;
    throw invalid(`pipeline "${pipeline.name}" has ${schedules.length} schedules (${listed}); choose one with --schedule <index>`, {
      pipeline: pipeline.name,
    });
  }
  const schedule = schedules[index];
  if (!schedule) throw invalid(`pipeline "${pipeline.name}" has no schedule ${index} (its schedules: ${listed})`, { schedule: index });
  return schedule;
}

/** Fire times in [from, to]: a day bound is the day's start (from) or end (to) in the schedule's zone. */
function fireTimes(schedule: CronSchedule, range: BackfillRange): number[] {
  const bound = (key: "from" | "to"): number => {
    const text = range[key];
    const day = parseDay(text);
    if (day !== undefined) return startOfDayIn(schedule.timezone, key === "from" ? day : day + DAY_MS);
    if (INSTANT.test(text) && Number.isFinite(Date.parse(text))) return Date.parse(text) + (key === "to" ? 1 : 0);
    throw invalid(`--${key} "${text}" is not a date (YYYY-MM-DD) or a time with its offset (2026-01-05T06:00:00Z)`, { [key]: text });
  };
  const start = bound("from");
  const end = bound("to"); // exclusive
  if (start >= end) throw invalid(`--from ${range.from} is after --to ${range.to}`, { from: range.from, to: range.to });
  const cron = new Cron(schedule.expression, { timezone: schedule.timezone, paused: true });
  const times: number[] = [];
  for (let t = cron.nextRun(new Date(start - 1))?.getTime(); t !== undefined && t < end; t = cron.nextRun(new Date(t))?.getTime()) {
    if (times.length === MAX_BACKFILL_DATES) throw tooMany(`more than ${MAX_BACKFILL_DATES.toLocaleString("en-US")}`);
    times.push(t);
  }
  return times;
}

/**
 * The dates of a backfill and the params of each run, with nothing read or run: one per calendar
 * day from `from` to `to` (by day), or one per fire time of the pipeline's cron schedule in that
 * range, in the schedule's time zone (by schedule). Throws BACKFILL_INVALID for a bad range (a
 * date that does not parse, from after to, more than 10,000 dates) or a date param it cannot choose,
 * and PARAM_UNKNOWN for a named param the pipeline does not have.
 */
export function backfillDates(pipeline: AnyPipeline, range: BackfillRange): BackfillDates {
  const by = range.by ?? "day";
  if (by !== "day" && by !== "schedule") throw invalid(`backfill by "${String(by)}"? by "day" or "schedule"`, { by });
  const { name: param, def } = chooseParam(pipeline, range.param);
  if (range.params && param in range.params)
    throw invalid(`"${param}" takes each date of the backfill; it cannot be given a fixed value too`, { param });
  const key = (date: string): string => `backfill:${pipeline.name}@${date}`;
  if (by === "day") {
    const dates = dayList(range).map((t) => {
      const day = new Date(t).toISOString().slice(0, 10);
      return { date: day, triggerId: key(day), params: { ...range.params, [param]: dateValue(def, t, day, by) } };
    });
    return { pipeline: pipeline.name, by, param, timezone: null, dates };
  }
  const schedule = pickSchedule(pipeline, range.schedule);
  const dates = fireTimes(schedule, range).map((t) => {
    const at = new Date(t).toISOString();
    const value = dateValue(def, t, dayIn(schedule.timezone, t), by);
    return { date: at, triggerId: key(at), params: { ...schedule.params, ...range.params, [param]: value } };
  });
  return { pipeline: pipeline.name, by, param, timezone: schedule.timezone, dates };
}

/** The latest backfill run of each date of `pipeline` (by trigger id), among its recent runs. */
async function latestBackfillRuns(workspace: Workspace, pipeline: string): Promise<Map<string, RunRecord>> {
  const latest = new Map<string, RunRecord>();
  for (const run of await workspace.store.listRuns({ pipeline, limit: HISTORY })) {
    const seen = latest.get(run.trigger.id);
    if (run.trigger.kind === "backfill" && (!seen || run.startedAt > seen.startedAt)) latest.set(run.trigger.id, run);
  }
  return latest;
}

/**
 * The dates of a backfill (see `backfillDates`), each run's params checked against the pipeline
 * (ParamError before anything runs), and what earlier backfills did: a date whose latest backfill
 * run succeeded is `done` and not run again unless `force`; one whose run is still in progress
 * (its process alive) is `running`. A run left `running` by a process that died is settled first.
 */
export async function planBackfill(
  pipeline: AnyPipeline,
  workspace: Workspace,
  range: BackfillRange & { readonly force?: boolean },
  clock: Clock = systemClock,
): Promise<BackfillPlan> {
  const dates = backfillDates(pipeline, range);
  for (const date of dates.dates) validateParams(pipeline, date.params);
  const latest = await latestBackfillRuns(workspace, pipeline.name);
  const planned: PlannedDate[] = [];
  for (const date of dates.dates) {
    const found = latest.get(date.triggerId);
    const previous = found ? await settleAbandoned(workspace, found, clock.now()) : null;
    const action =
      range.force || !previous ? "run" : previous.status === "succeeded" ? "done" : previous.status === "running" ? "running" : "run";
    planned.push({ ...date, previous, action });
  }
  return { ...dates, planned, toRun: planned.filter((d) => d.action === "run") };
}

/**
 * Runs the dates in order, at most `parallel` at once (1 for a pipeline whose overlap policy is
 * not `allow`), each with `runPipeline` on the workspace, trigger kind `backfill`. A date that
 * fails does not stop the others. Aborting the signal cancels the runs in flight and starts no more.
 */
export async function runBackfill(
  pipeline: AnyPipeline,
  dates: readonly BackfillDate[],
  options: BackfillRunOptions,
): Promise<BackfillOutcome> {
  const width = backfillParallelism(pipeline, options.parallel ?? DEFAULT_PARALLEL);
  const clock = options.clock ?? systemClock;
  const results = new Map<BackfillDate, BackfillResult>();
  let next = 0;

  const runOne = async (date: BackfillDate): Promise<BackfillResult> => {
    const startedAt = clock.now();
    let runId: string | null = null;
    try {
      const result = await runPipeline(pipeline, {
        params: date.params,
        workspace: options.workspace,
        trigger: { kind: "backfill", id: date.triggerId },
        clock,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
        ...(options.interpreters ? { interpreters: options.interpreters } : {}),
        onEvent: (event) => {
          if (event.type !== "run-started") return;
          runId = event.run.id;
          options.onStart?.(date, event.run.id);
        },
      });
      return { date, runId: result.id, status: result.status, durationMs: result.durationMs, error: result.error };
    } catch (error) {
      // Params were checked when planned; what lands here is Strata's own failure (a store write).
      const { code, message } = describeError(error);
      return { date, runId, status: "failed", durationMs: clock.now() - startedAt, error: { code, message } };
    }
  };

  const worker = async (): Promise<void> => {
    while (next < dates.length && !options.signal?.aborted) {
      const date = dates[next++]!;
      const result = await runOne(date);
      results.set(date, result);
      options.onResult?.(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, dates.length) }, worker));
  return {
    results: dates.flatMap((d) => results.get(d) ?? []),
    notStarted: dates.filter((d) => !results.has(d)),
  };
}
