import { describe, expect, it } from "vitest";
import { projectEachTest } from "./helpers.js";

interface Report {
  kind: "records" | "expectations";
  dataset: string;
  version: number | null;
  counts: { read: number; clean: number; quarantined: number } | null;
  reasons: { code: string; column: string | null; rule: string | null; count: number }[];
  results: { id: string; severity: string; passed: boolean; message: string }[];
}
interface RunJson {
  runId: string;
  status: string;
  validations: Report[];
}
interface QRecord {
  id: number;
  dataset: string;
  target: string | null;
  status: string;
  line: number | null;
  values: Record<string, string | null> | null;
  note: string | null;
  fixes: Record<string, string | null> | null;
  replayedRun: string | null;
  replayedVersion: number | null;
}
interface Version {
  version: number;
  rows: number | null;
  runId: string;
  step: string;
  live: boolean;
}

// Each test runs several strata processes (about a second each, more on a busy machine).
const SLOW = { timeout: 120_000 };

const project = projectEachTest("validation");
const cli = project.cli;
const json = async <T>(...args: string[]): Promise<T> => {
  const result = await cli(...args, "--json");
  expect(result.stderr).toBe("");
  return JSON.parse(result.stdout) as T;
};
const records = (...filters: string[]): Promise<{ total: number; records: QRecord[] }> =>
  json("quarantine", "list", "raw_tx", "--records", ...filters);
const versions = (dataset: string): Promise<Version[]> => json<Version[]>("dataset", "versions", dataset);

async function ingest(): Promise<RunJson> {
  const result = await cli("run", "ingest_tx", "--json");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as RunJson;
}

/** The reject of line 3, "twelve" as amount. */
async function twelve(): Promise<QRecord> {
  const found = (await records("--reason", "TYPE_MISMATCH")).records.filter((r) => r.values?.amount === "twelve");
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe("validation after a run", () => {
  it("prints record counts that reconcile, the reasons and failed expectations; runs show repeats them", SLOW, async () => {
    const run = await cli("run", "ingest_tx");
    expect(run.code).toBe(0);
    const counts = /raw_tx: read (\d+) · clean (\d+) · quarantined (\d+) \((.*)\) → strata quarantine list raw_tx/.exec(run.stdout);
    expect(counts).not.toBeNull();
    const [read, clean, quarantined] = [counts![1], counts![2], counts![3]].map(Number);
    expect([read, clean, quarantined]).toEqual([10, 4, 6]);
    expect(read).toBe(clean! + quarantined!);
    const reasons = counts![4]!.split(", ").sort();
    expect(reasons).toEqual([
      "MISSING_VALUE id 1",
      "OUT_OF_RANGE amount 1",
      "RULE_FAILED no_test_customers 1",
      "TOO_MANY_VALUES 1",
      "TYPE_MISMATCH amount 1",
      "TYPE_MISMATCH day 1",
    ]);
    expect(run.stdout).toContain("tx v1: 3 expectations: 2 passed, 1 warned\n    ! range:amount: 1 of 4 rows (25 %) are outside");
    // The section comes after the step table.
    expect(run.stdout.indexOf("validation:")).toBeGreaterThan(run.stdout.indexOf("ingest  succeeded"));

    // What was counted is what was written and what was kept.
    expect((await versions("tx")).map((v) => [v.version, v.rows])).toEqual([[1, clean]]);
    expect((await records()).total).toBe(quarantined);

    const runId = /details: strata runs show (\S+)/.exec(run.stdout)![1]!;
    const shown = await cli("runs", "show", runId);
    expect(shown.stdout).toContain("validation:\n  raw_tx: read 10 · clean 4 · quarantined 6 (");
    expect(shown.stdout).toContain("tx v1: 3 expectations: 2 passed, 1 warned");
    const shownJson = await json<RunJson>("runs", "show", runId);
    expect(shownJson.validations.map((v) => [v.kind, v.dataset, v.version, v.counts])).toEqual([
      ["records", "raw_tx", null, { read: 10, clean: 4, quarantined: 6, newlyQuarantined: 6, restored: 0 }],
      ["expectations", "tx", 1, null],
    ]);
    expect(shownJson.validations[1]!.results.map((r) => [r.id, r.severity, r.passed])).toEqual([
      ["rowCount", "fail", true],
      ["notNull:customer", "fail", true],
      ["range:amount", "warn", false],
    ]);
  });

  it("includes the reports in `run --json` as validations", SLOW, async () => {
    const run = await ingest();
    expect(run.validations[0]).toMatchObject({ kind: "records", dataset: "raw_tx", counts: { read: 10, clean: 4, quarantined: 6 } });
    expect(run.validations[0]!.reasons.find((r) => r.code === "RULE_FAILED")).toEqual({
      code: "RULE_FAILED",
      column: null,
      rule: "no_test_customers",
      count: 1,
    });
  });
});

describe("strata quarantine list", () => {
  it(
    "shows datasets by status, then one dataset's rejects grouped by reason with examples; filters by reason and status",
    SLOW,
    async () => {
      expect((await cli("quarantine", "list")).stdout).toContain("the quarantine is empty");
      await ingest();

      const overview = await cli("quarantine", "list");
      expect(overview.code).toBe(0);
      expect(overview.stdout).toMatch(/dataset\s+into\s+total\s+new\s+annotated\s+replayed\nraw_tx\s+tx\s+6\s+6\s+0\s+0\n/);

      const grouped = await cli("quarantine", "list", "raw_tx");
      expect(grouped.code).toBe(0);
      expect(grouped.stdout).toContain("raw_tx: 6 quarantined records (6 new); those that pass a replay go into tx");
      for (const row of [
        /TYPE_MISMATCH\s+amount\s+1\s+\d+\n/,
        /TYPE_MISMATCH\s+day\s+1\s+\d+\n/,
        /OUT_OF_RANGE\s+amount\s+1\s+\d+\n/,
        /MISSING_VALUE\s+id\s+1\s+\d+\n/,
        /TOO_MANY_VALUES\s+1\s+\d+\n/,
        /RULE_FAILED\s+no_test_customers\s+1\s+\d+\n/,
      ])
        expect(grouped.stdout).toMatch(row);
      // Each group with an example: id, where, message, and the values as read (or the raw line).
      expect(grouped.stdout).toMatch(
        /TYPE_MISMATCH amount \(1\):\n {2}#\d+ {2}tx\.csv:3 {2}new {2}column "amount": "twelve" is not a double\n {6}id=t2 customer=bob day=2024-01-06 amount=twelve\n/,
      );
      expect(grouped.stdout).toMatch(/TOO_MANY_VALUES \(1\):\n {2}#\d+ {2}tx\.csv:7 {2}new {2}.*\n {6}t6,fay,2024-01-10,9,oops\n/);
      expect(grouped.stdout).toMatch(/MISSING_VALUE id \(1\):\n.*\n {6}id=∅ customer=dan/);

      const byReason = await cli("quarantine", "list", "raw_tx", "--reason", "type_mismatch");
      expect(byReason.code).toBe(0);
      expect(byReason.stdout).toContain("2 quarantined records with reason TYPE_MISMATCH");
      expect(byReason.stdout).toContain('"twelve" is not a double');
      expect(byReason.stdout).toContain('"2024/01/09" is not a date');
      expect(byReason.stdout).not.toContain("OUT_OF_RANGE");
      const groups = await json<{ counts: { total: number }; groups: { code: string; column: string | null; examples: QRecord[] }[] }>(
        "quarantine",
        "list",
        "raw_tx",
        "--reason",
        "OUT_OF_RANGE",
      );
      expect(groups.counts.total).toBe(1);
      expect(groups.groups.map((g) => [g.code, g.column, g.examples.map((e) => e.line)])).toEqual([["OUT_OF_RANGE", "amount", [4]]]);

      const listed = await cli("quarantine", "list", "raw_tx", "--records", "--limit", "2");
      expect(listed.stdout).toMatch(/id\s+status\s+where\s+reasons\s+note\n\d+\s+new\s+tx\.csv:3\s+TYPE_MISMATCH amount\n/);
      expect(listed.stdout).toContain("2 of 6 shown (--limit for more)");
      expect((await records("--status", "annotated")).total).toBe(0);
      expect((await records("--status", "new")).total).toBe(6);
      expect((await cli("quarantine", "list", "raw_tx", "--status", "annotated")).stdout).toContain(
        "no quarantined records for raw_tx with status annotated",
      );
    },
  );
});

describe("annotate and replay", () => {
  it("a fixed reject passes a dry run without changing anything, then a replay moves it into a new version", SLOW, async () => {
    await ingest();
    const bad = await twelve();
    expect(bad).toMatchObject({ status: "new", target: "tx", line: 3 });

    const annotated = await cli("quarantine", "annotate", String(bad.id), "--note", "twelve dollars, in words", "--fix", "amount=12");
    expect(annotated.code).toBe(0);
    expect(annotated.stdout).toContain(`annotated 1 record (#${bad.id}): note "twelve dollars, in words", fix amount=12`);
    const shown = await cli("quarantine", "show", String(bad.id));
    expect(shown.stdout).toContain("status       annotated");
    expect(shown.stdout).toMatch(/amount\s+twelve\s+12\n/);
    expect(shown.stdout).toContain("note         twelve dollars, in words");

    const dry = await cli("quarantine", "replay", "raw_tx", "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("dry run: nothing was changed");
    // A dry run tries the checker on every reject not yet replayed, and says which a replay would move.
    expect(dry.stdout).toContain("rejects not yet replayed: 6 · would pass: 1 · still failing: 5");
    expect(dry.stdout).toContain("1 of the 1 that would pass is annotated");
    expect(dry.stdout).toMatch(/TYPE_MISMATCH\s+amount\s+1\s+1\n/);
    // Nothing moved: the record is still there, annotated, and tx has one version.
    expect((await cli("quarantine", "list", "raw_tx", "--reason", "TYPE_MISMATCH")).stdout).toMatch(
      new RegExp(`#${bad.id} {2}tx\\.csv:3 {2}annotated`),
    );
    expect((await twelve()).status).toBe("annotated");
    expect((await versions("tx")).map((v) => v.version)).toEqual([1]);

    // Every reject not yet replayed, re-checked: only the fixed one passes; the others say why they still fail.
    const all = await json<{ candidates: number; passed: number; newReasons: { code: string }[] }>(
      "quarantine",
      "replay",
      "raw_tx",
      "--all",
      "--dry-run",
    );
    expect([all.candidates, all.passed]).toEqual([6, 1]);
    expect(all.newReasons.map((r) => r.code).sort()).toEqual([
      "MISSING_VALUE",
      "OUT_OF_RANGE",
      "RULE_FAILED",
      "TOO_MANY_VALUES",
      "TYPE_MISMATCH",
    ]);

    const replay = await cli("quarantine", "replay", "raw_tx");
    expect(replay.code).toBe(0);
    expect(replay.stdout).not.toContain("dry run");
    const moved = /replayed 1 record into tx: version (\d+) is live \(run (\S+)\)/.exec(replay.stdout);
    expect(moved).not.toBeNull();
    expect(moved![1]).toBe("2");
    const after = await versions("tx");
    expect(after.map((v) => [v.version, v.rows, v.live])).toEqual([
      [1, 4, false],
      [2, 5, true],
    ]);
    expect(after[1]).toMatchObject({ runId: moved![2], step: "replay" });
    expect((await json<QRecord[]>("quarantine", "show", String(bad.id)))[0]).toMatchObject({
      status: "replayed",
      replayedRun: moved![2],
      replayedVersion: 2,
      fixes: { amount: "12" },
    });
    expect((await cli("quarantine", "list")).stdout).toMatch(/raw_tx\s+tx\s+6\s+5\s+0\s+1\n/);
    // The replay is a recorded run, with its own records report.
    const replayRun = await json<RunJson>("runs", "show", moved![2]!);
    expect(replayRun.validations).toMatchObject([{ kind: "records", dataset: "raw_tx", counts: { read: 1, clean: 1, quarantined: 0 } }]);

    // Nothing left to replay.
    const again = await cli("quarantine", "replay", "raw_tx");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("no annotated rejects of raw_tx to replay");
    expect((await versions("tx")).length).toBe(2);
  });

  it("a fix with column= sets null, fixes add up, and a replay of a record that still fails writes nothing", SLOW, async () => {
    await ingest();
    const bad = await twelve();
    expect((await cli("quarantine", "annotate", String(bad.id), "--fix", "amount=oops")).code).toBe(0);
    expect((await cli("quarantine", "annotate", String(bad.id), "--note", "unknown customer", "--fix", "customer=")).code).toBe(0);
    expect((await json<QRecord[]>("quarantine", "show", String(bad.id)))[0]).toMatchObject({
      note: "unknown customer",
      fixes: { amount: "oops", customer: null },
    });
    const replay = await cli("quarantine", "replay", "raw_tx");
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain("annotated rejects: 1 · now passing: 0 · still failing: 1");
    expect(replay.stdout).toMatch(/still failing, because:\n.*\n.*MISSING_VALUE\s+customer\s+1\n/);
    expect(replay.stdout).toContain("no record passes: nothing was written");
    expect((await versions("tx")).map((v) => v.version)).toEqual([1]);
    expect((await twelve()).status).toBe("annotated");
  });
});

describe("bad input to strata quarantine", () => {
  it("exits 2 and changes nothing: bad --fix, a column the dataset lacks, an unknown reason, unknown ids", SLOW, async () => {
    await ingest();
    const bad = await twelve();
    const id = String(bad.id);

    const syntax = await cli("quarantine", "annotate", id, "--fix", "amount");
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toContain('expected column=value (column= for null), got "amount"');

    const unknownColumn = await cli("quarantine", "annotate", id, "--note", "x", "--fix", "amout=12");
    expect(unknownColumn.code).toBe(2);
    expect(unknownColumn.stderr).toContain('"amout" is not a column of raw_tx (columns: id, customer, day, amount)');
    const unknownJson = await cli("quarantine", "annotate", id, "--fix", "amout=12", "--json");
    expect(unknownJson.code).toBe(2);
    expect(JSON.parse(unknownJson.stdout)).toMatchObject({ error: { code: "USAGE", details: { field: "amout", dataset: "raw_tx" } } });

    const nothing = await cli("quarantine", "annotate", id);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain("give --note, --fix or both");

    for (const command of [
      ["list", "raw_tx"],
      ["replay", "raw_tx"],
    ]) {
      const reason = await cli("quarantine", ...command, "--reason", "TYPO");
      expect(reason.code).toBe(2);
      expect(reason.stderr).toContain('unknown reason code "TYPO"; the codes: MALFORMED_RECORD,');
      expect(reason.stderr).toContain("TYPE_MISMATCH, MISSING_VALUE");
    }

    const missing = await cli("quarantine", "annotate", id, "9999", "--note", "x");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("QUARANTINE_NOT_FOUND: no quarantined record with id 9999");
    expect((await cli("quarantine", "show", "9999")).code).toBe(2);
    expect((await cli("quarantine", "show", "abc")).code).toBe(2);

    const noDataset = await cli("quarantine", "replay", "nope");
    expect(noDataset.code).toBe(2);
    expect(noDataset.stderr).toContain(
      'DATASET_NOT_FOUND: no dataset "nope" is declared by this project\'s pipelines (declared: raw_tx, tx)',
    );
    expect((await cli("quarantine", "list", "nope")).code).toBe(2);

    // None of the refused commands annotated anything.
    expect(await twelve()).toMatchObject({ status: "new", note: null, fixes: null });
  });
});
