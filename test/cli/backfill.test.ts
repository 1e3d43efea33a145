import { describe, expect, it } from "vitest";
import { projectEachTest, strata } from "./helpers.js";

const { cli } = projectEachTest("backfill");

interface BackfillJson {
  status: string;
  parallel: number;
  results: { date: string; triggerId: string; status: string; runId: string; error: { code: string } | null }[];
  skipped: { date: string; reason: string; runId: string }[];
}

describe("strata backfill", () => {
  it("runs one date per day, reports each as it ends, goes on past a failure, and reruns only what did not succeed", async () => {
    const dry = await cli("backfill", "daily-sales", "--from", "2026-01-01", "--to", "2026-01-04", "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("backfill daily-sales: 4 dates by day from 2026-01-01 to 2026-01-04, param day, 2 at once (dry run");
    expect(dry.stdout).toMatch(/2026-01-03 {2}run {5}\{"day":"2026-01-03"\}/);
    expect(JSON.parse((await cli("runs", "list", "--json")).stdout)).toEqual([]);

    const first = await cli("backfill", "daily-sales", "--from", "2026-01-01", "--to", "2026-01-04", "--param", "failOn=2026-01-03");
    expect(first.code).toBe(1);
    const progress = first.stdout.split("\n").filter((l) => /^\[\d\/4\]/.test(l));
    expect(progress).toHaveLength(4);
    expect(progress.find((l) => l.includes("2026-01-03"))).toMatch(
      /✖ {2}2026-01-03 {2}failed {5}r\w+ {2}\S+ {2}STEP_FAILED: .*no sales file for 2026-01-03/,
    );
    expect(first.stdout).toContain("4 dates: 3 succeeded, 1 failed");
    expect(first.stdout).toMatch(/failed: 2026-01-03 \(r\w+\)/);

    const second = await cli("backfill", "daily-sales", "--from", "2026-01-01", "--to", "2026-01-04", "--json");
    expect(second.code).toBe(0);
    const rerun = JSON.parse(second.stdout) as BackfillJson;
    expect(rerun.results.map((r) => [r.date, r.status, r.triggerId])).toEqual([
      ["2026-01-03", "succeeded", "backfill:daily-sales@2026-01-03"],
    ]);
    expect(rerun.skipped.map((s) => [s.date, s.reason])).toEqual([
      ["2026-01-01", "done"],
      ["2026-01-02", "done"],
      ["2026-01-04", "done"],
    ]);

    const again = await cli("backfill", "daily-sales", "--from", "2026-01-01", "--to", "2026-01-04");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("4 already succeeded, skipped (--force reruns them)");
    expect(again.stdout).toContain("nothing to run");

    const forced = JSON.parse(
      (await cli("backfill", "daily-sales", "--from", "2026-01-01", "--to", "2026-01-04", "--force", "--json")).stdout,
    ) as BackfillJson;
    expect(forced.results.map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    const runs = JSON.parse((await cli("runs", "list", "--json", "--limit", "50")).stdout) as { trigger: { kind: string } }[];
    expect(runs).toHaveLength(9);
    expect(new Set(runs.map((r) => r.trigger.kind))).toEqual(new Set(["backfill"]));
  });

  it("by schedule: one run per fire time in the schedule's zone, with the schedule's params unless given", async () => {
    const result = await cli(
      "backfill",
      "report",
      "--from",
      "2026-03-28",
      "--to",
      "2026-03-29",
      "--by",
      "schedule",
      "--param",
      "region=us",
      "--json",
    );
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as BackfillJson;
    expect(json.results.map((r) => r.triggerId)).toEqual([
      "backfill:report@2026-03-28T05:00:00.000Z",
      "backfill:report@2026-03-29T04:00:00.000Z",
    ]);
    const show = JSON.parse((await cli("runs", "show", json.results[1]!.runId, "--json")).stdout) as { params: unknown };
    expect(show.params).toEqual({ asOf: "2026-03-29T04:00:00.000Z", region: "us" });
  });

  it("refuses bad input with exit 2 and a code, running nothing", async () => {
    const cases: [string[], string][] = [
      [["daily-sales", "--from", "2026-01-05", "--to", "2026-01-01"], "BACKFILL_INVALID: --from 2026-01-05 is after --to 2026-01-01"],
      [["daily-sales", "--from", "2026-02-30", "--to", "2026-03-01"], 'BACKFILL_INVALID: --from "2026-02-30" is not a date'],
      [["daily-sales", "--from", "2000-01-01", "--to", "2030-01-01"], "BACKFILL_INVALID: the range holds 10,959 dates; at most 10,000"],
      [["daily-sales", "--from", "2026-01-01", "--to", "2026-01-02", "--parallel", "0"], "BACKFILL_INVALID: the number of runs at once"],
      [
        ["daily-sales", "--from", "2026-01-01", "--to", "2026-01-02", "--param", "nope"],
        'PARAM_UNKNOWN: pipeline "daily-sales" has no param "nope"',
      ],
      [
        ["window", "--from", "2026-01-01", "--to", "2026-01-02"],
        'BACKFILL_INVALID: pipeline "window" has several date params (start, end)',
      ],
    ];
    for (const [args, message] of cases) {
      const result = await cli("backfill", ...args);
      expect([result.code, result.stderr.trim()], args.join(" ")).toEqual([2, expect.stringContaining(message)]);
    }
    expect(JSON.parse((await cli("runs", "list", "--json")).stdout)).toEqual([]);
    const help = await strata(["backfill", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("strata backfill daily-sales --from 2026-01-01 --to 2026-01-31 --dry-run");
  });
});
