import { Cron } from "croner";
import { StrataError } from "../errors/strata-error.js";

/**
 * What a schedule does with the fire times it missed while the control plane was down:
 * - `latest` (default): one run, for the most recent missed time;
 * - `all`: one run per missed time, oldest first (at most 1,000);
 * - `none`: nothing; the next run is the next fire time.
 */
export type CatchUp = "latest" | "all" | "none";

export interface CronSchedule {
  readonly kind: "cron";
  /** Five fields (minute hour day month weekday), or six with seconds first. */
  readonly expression: string;
  /** An IANA time zone (`Europe/Paris`); UTC when left out. */
  readonly timezone: string;
  /** Params of every run it starts (validated like any other). */
  readonly params: Readonly<Record<string, unknown>>;
  readonly catchUp: CatchUp;
}

export interface CronOptions {
  timezone?: string;
  params?: Record<string, unknown>;
  catchUp?: CatchUp;
}

/** How many missed fire times `all` catches up at most. */
export const MAX_CATCH_UP = 1000;

function parse(schedule: Pick<CronSchedule, "expression" | "timezone">): Cron {
  return new Cron(schedule.expression, { timezone: schedule.timezone, paused: true });
}

/**
 * A cron schedule for a pipeline: `schedules: [cron("0 3 * * *", { timezone: "Europe/Paris" })]`.
 * The expression and time zone are checked here, when the pipeline is defined.
 */
export function cron(expression: string, options: CronOptions = {}): CronSchedule {
  const schedule: CronSchedule = {
    kind: "cron",
    expression,
    timezone: options.timezone ?? "UTC",
    params: options.params ?? {},
    catchUp: options.catchUp ?? "latest",
  };
  try {
    parse(schedule).nextRun(new Date(0));
    // croner accepts any string as a zone and falls back silently; Intl knows the real ones.
    new Intl.DateTimeFormat("en-US", { timeZone: schedule.timezone });
  } catch (error) {
    throw new StrataError("SCHEDULE_INVALID", `cron("${expression}", { timezone: "${schedule.timezone}" }): ${(error as Error).message}`, {
      details: { expression, timezone: schedule.timezone },
    });
  }
  if (!["latest", "all", "none"].includes(schedule.catchUp))
    throw new StrataError("SCHEDULE_INVALID", `cron("${expression}"): catchUp must be "latest", "all" or "none"`, {
      details: { expression, catchUp: schedule.catchUp },
    });
  return schedule;
}

/** The next fire time after `after`, or null when the expression never fires again. */
export function nextFireTime(schedule: CronSchedule, after: number): number | null {
  return parse(schedule).nextRun(new Date(after))?.getTime() ?? null;
}

/** The `n` latest fire times in (after, until], oldest first. */
function latestFireTimes(schedule: CronSchedule, after: number, until: number, n: number): number[] {
  // previousRuns looks strictly before its reference, and fire times are whole seconds.
  return parse(schedule)
    .previousRuns(n, new Date(until + 1))
    .map((d) => d.getTime())
    .filter((t) => t > after && t <= until)
    .reverse();
}

/**
 * The fire times to run now, for a schedule last looked at `after`. A time within `graceMs` of
 * `now` is on time and always runs; older ones were missed (the control plane was down, or the
 * machine asleep) and follow the schedule's catch-up policy.
 */
export function dueFireTimes(schedule: CronSchedule, after: number, now: number, graceMs = 60_000): number[] {
  const onTimeFrom = Math.max(after, now - graceMs);
  const onTime = latestFireTimes(schedule, onTimeFrom, now, MAX_CATCH_UP);
  if (schedule.catchUp === "none" || onTimeFrom === after) return onTime;
  if (schedule.catchUp === "latest") return onTime.length ? onTime : latestFireTimes(schedule, after, onTimeFrom, 1);
  return [...latestFireTimes(schedule, after, onTimeFrom, MAX_CATCH_UP - onTime.length), ...onTime];
}
