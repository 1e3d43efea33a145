import { describe, expect, it } from "vitest";
import { cron, dueFireTimes, nextFireTime } from "../../src/schedule/cron.js";
import { rejection } from "../helpers/errors.js";

const at = (iso: string): number => Date.parse(iso);
const iso = (times: number[]): string[] => times.map((t) => new Date(t).toISOString());

describe("cron schedules", () => {
  it("fire in their time zone, across a daylight-saving change", () => {
    const daily = cron("0 3 * * *", { timezone: "Europe/Paris" });
    expect(new Date(nextFireTime(daily, at("2026-03-27T12:00:00Z"))!).toISOString()).toBe("2026-03-28T02:00:00.000Z");
    // Paris moves to UTC+2 on 29 March: 03:00 local is 01:00 UTC from then on.
    expect(new Date(nextFireTime(daily, at("2026-03-28T12:00:00Z"))!).toISOString()).toBe("2026-03-29T01:00:00.000Z");
  });

  it("run what is due on time whatever the catch-up policy", () => {
    for (const catchUp of ["latest", "all", "none"] as const) {
      const hourly = cron("0 * * * *", { catchUp });
      expect(iso(dueFireTimes(hourly, at("2026-01-01T04:59:59Z"), at("2026-01-01T05:00:00.004Z")))).toEqual(["2026-01-01T05:00:00.000Z"]);
      expect(dueFireTimes(hourly, at("2026-01-01T05:00:00.004Z"), at("2026-01-01T05:30:00Z"))).toEqual([]);
    }
  });

  it("catch up the fire times missed while down: the latest, all of them, or none", () => {
    const down = at("2026-01-01T01:30:00Z");
    const back = at("2026-01-01T05:20:00Z"); // 02:00, 03:00, 04:00 and 05:00 were missed
    expect(iso(dueFireTimes(cron("0 * * * *", { catchUp: "latest" }), down, back))).toEqual(["2026-01-01T05:00:00.000Z"]);
    expect(iso(dueFireTimes(cron("0 * * * *", { catchUp: "all" }), down, back))).toEqual([
      "2026-01-01T02:00:00.000Z",
      "2026-01-01T03:00:00.000Z",
      "2026-01-01T04:00:00.000Z",
      "2026-01-01T05:00:00.000Z",
    ]);
    expect(dueFireTimes(cron("0 * * * *", { catchUp: "none" }), down, back)).toEqual([]);
    // A week down with a schedule every second: bounded, and quick.
    expect(dueFireTimes(cron("* * * * * *", { catchUp: "all" }), down, down + 7 * 86_400_000)).toHaveLength(1000);
  });

  it("refuses a bad expression, time zone or policy when the pipeline is defined", async () => {
    for (const make of [
      () => cron("61 * * * *"),
      () => cron("0 3 * *"),
      () => cron("0 3 * * *", { timezone: "Mars/Olympus" }),
      () => cron("0 3 * * *", { catchUp: "some" as never }),
    ])
      expect((await rejection((async () => make())())).code).toBe("SCHEDULE_INVALID");
  });
});
