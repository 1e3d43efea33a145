import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { projectEachTest } from "./helpers.js";

interface ValidateJson {
  dataset: string;
  passed: boolean;
  reports: {
    kind: string;
    dataset: string;
    version: number | null;
    counts: { read: number; clean: number; quarantined: number } | null;
    reasons: { code: string; column: string | null; rule: string | null; count: number }[];
    results: { id: string; severity: string; passed: boolean }[];
  }[];
  examples: { file: string; line: number | null }[];
}

// Each test runs several strata processes (about a second each, more on a busy machine).
const SLOW = { timeout: 120_000 };

const project = projectEachTest("validation");
const cli = project.cli;

describe("strata validate", () => {
  it("checks raw files without writing anything: counts, reasons, examples; exit 1 when records would be rejected", SLOW, async () => {
    const checked = await cli("validate", "raw_tx");
    expect(checked.code).toBe(1);
    expect(checked.stdout).toContain("raw_tx: read 10 · clean 4 · quarantined 6 (nothing is written)");
    expect(checked.stdout).toMatch(/reason\s+column \/ rule\s+count\n/);
    expect(checked.stdout).toMatch(/TYPE_MISMATCH\s+amount\s+1\n/);
    expect(checked.stdout).toMatch(/RULE_FAILED\s+no_test_customers\s+1\n/);
    expect(checked.stdout).toContain("first 5 of 6 rejects:");
    expect(checked.stdout).toMatch(/tx\.csv:3\s+TYPE_MISMATCH amount: column "amount": "twelve" is not a double\s+id=t2 customer=bob/);
    expect(checked.stdout).toMatch(/tx\.csv:7\s+TOO_MANY_VALUES: .*\s+t6,fay,2024-01-10,9,oops\n/);
    expect(checked.stdout).toContain("✗ raw_tx does not pass: 6 of 10 records would be quarantined");

    const asJson = await cli("validate", "raw_tx", "--json");
    expect(asJson.code).toBe(1);
    const report = JSON.parse(asJson.stdout) as ValidateJson;
    expect(report.passed).toBe(false);
    expect(report.reports.map((r) => [r.kind, r.counts])).toEqual([["records", { read: 10, clean: 4, quarantined: 6 }]]);
    expect(report.examples.map((e) => e.line)).toEqual([3, 4, 5, 6, 7]);

    // Nothing went to the quarantine, no version was written.
    expect(JSON.parse((await cli("quarantine", "list", "--json")).stdout)).toEqual([]);
    expect(JSON.parse((await cli("dataset", "versions", "tx", "--json")).stdout)).toEqual([]);

    // Good files pass: exit 0.
    const file = join(project.dir(), "data", "tx.csv");
    const good = readFileSync(file, "utf8")
      .split("\n")
      .filter((line, i) => i === 0 || ["t1,", "t7,", "t9,", "t10,"].some((id) => line.startsWith(id)))
      .join("\n");
    writeFileSync(file, `${good}\n`);
    const passing = await cli("validate", "raw_tx");
    expect(passing.code).toBe(0);
    expect(passing.stdout).toContain("raw_tx: read 4 · clean 4 · quarantined 0 (nothing is written)");
    expect(passing.stdout).toContain("✓ raw_tx passes its checks");
  });

  it("runs a table's expectations (its own and expect()'s) on the live version; exit 1 when one fails", SLOW, async () => {
    const before = await cli("validate", "tx");
    expect(before.code).toBe(2);
    expect(before.stderr).toContain('dataset "tx" has no live version yet');

    expect((await cli("run", "ingest_tx")).code).toBe(0);
    const ok = await cli("validate", "tx");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("tx v1: 3 expectations: 2 passed, 1 warned");
    expect(ok.stdout).toMatch(/✓\s+rowCount\s+fail\s+rowCount: 4 rows, expected in \[1, ∞\)\n/);
    expect(ok.stdout).toMatch(/✓\s+notNull:customer\s+fail\s+/);
    expect(ok.stdout).toMatch(/!\s+range:amount\s+warn\s+range:amount: 1 of 4 rows \(25 %\) are outside/);
    expect(ok.stdout).toContain("✓ tx passes its checks (1 warning)");

    // A stricter expectation than the live version meets.
    const datasets = join(project.dir(), "pipelines", "datasets.ts");
    writeFileSync(datasets, readFileSync(datasets, "utf8").replace("rowCount({ min: 1 })", "rowCount({ min: 10 })"));
    const failed = await cli("validate", "tx");
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/✗\s+rowCount\s+fail\s+rowCount: 4 rows, expected in \[10, ∞\)\n/);
    expect(failed.stdout).toContain("✗ tx does not pass: 1 expectation(s) failed on tx v1");
    const asJson = JSON.parse((await cli("validate", "tx", "--json")).stdout) as ValidateJson;
    expect(asJson.passed).toBe(false);
    expect(asJson.reports[0]!.results.map((r) => [r.id, r.passed])).toEqual([
      ["rowCount", false],
      ["notNull:customer", true],
      ["range:amount", false],
    ]);
  });

  it("names the declared datasets when the dataset is unknown (exit 2)", SLOW, async () => {
    const unknown = await cli("validate", "transactions");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      'DATASET_NOT_FOUND: no dataset "transactions" is declared by this project\'s pipelines (declared: raw_tx, tx)',
    );
    const asJson = await cli("validate", "transactions", "--json");
    expect(asJson.code).toBe(2);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ error: { code: "DATASET_NOT_FOUND", details: { declared: ["raw_tx", "tx"] } } });
  });
});
