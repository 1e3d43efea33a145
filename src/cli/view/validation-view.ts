import type { QuarantinedRecord } from "../../storage/quarantine-store.js";
import type { ValidationReport } from "../../storage/run-store.js";
import type { ExpectationResult } from "../../validation/expectations.js";
import { formatTime, table } from "../format.js";

/**
 * How validation is shown to people: record counts and reasons of an ingestion, the results of a
 * suite of expectations, and quarantined records. Used by `strata run`, `strata runs show`,
 * `strata validate` and `strata quarantine`.
 */

type Reason = ValidationReport["reasons"][number];

/** The column or rule a reason is about ("" when it is about the whole record). */
export function reasonSubject(reason: { readonly column: string | null; readonly rule?: string | null | undefined }): string {
  return reason.column ?? reason.rule ?? "";
}

/** `TYPE_MISMATCH amount`, `RULE_FAILED no_test_customers`, `TOO_MANY_VALUES`. */
export function reasonLabel(reason: { readonly code: string; readonly column: string | null; readonly rule?: string | null }): string {
  const subject = reasonSubject(reason);
  return subject ? `${reason.code} ${subject}` : reason.code;
}

/** Where a record came from: `tx.csv:3`, or what the reader could tell of it. */
export function sourceOf(record: {
  readonly file: string | null;
  readonly line: number | null;
  readonly offset?: number | null;
  readonly record?: number | null;
}): string {
  const file = record.file || "";
  if (record.line !== null) return file ? `${file}:${record.line}` : `line ${record.line}`;
  if (record.record !== null && record.record !== undefined) return `${file || "record"} #${record.record}`.trim();
  if (record.offset !== null && record.offset !== undefined) return `${file} byte ${record.offset}`.trim();
  return file || "(no source line)";
}

const MAX_TEXT = 160;
const clip = (text: string): string => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text);

/** A value as read, on one line: text as is (quoted when it has spaces or is empty), null as ∅. */
function valueText(value: unknown): string {
  if (value === null || value === undefined) return "∅";
  if (typeof value === "string") return value === "" || /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** `id=t2 customer=bob amount=twelve`. */
export function valuesText(values: Readonly<Record<string, unknown>>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${valueText(v)}`)
    .join(" ");
}

/** What a reject held: its values as read, else the raw line. */
export function contentOf(record: { readonly values: Readonly<Record<string, unknown>> | null; readonly raw: string | null }): string {
  if (record.values) return clip(valuesText(record.values));
  if (record.raw !== null) return clip(record.raw);
  return "(nothing kept)";
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `read 6 · clean 4 · quarantined 2`. */
export function countsText(counts: NonNullable<ValidationReport["counts"]>): string {
  return `read ${counts.read} · clean ${counts.clean} · quarantined ${counts.quarantined}`;
}

const MAX_INLINE_REASONS = 6;

/** `TYPE_MISMATCH amount 1, OUT_OF_RANGE amount 1`. */
export function reasonsInline(reasons: readonly Reason[]): string {
  const shown = reasons.slice(0, MAX_INLINE_REASONS).map((r) => `${reasonLabel(r)} ${r.count}`);
  if (reasons.length > MAX_INLINE_REASONS) shown.push(`${reasons.length - MAX_INLINE_REASONS} more`);
  return shown.join(", ");
}

/** One line of a records report: counts, reasons and where to look. */
export function recordsLine(report: ValidationReport): string {
  const counts = report.counts ?? { read: 0, clean: 0, quarantined: 0 };
  const reasons = report.reasons.length ? ` (${reasonsInline(report.reasons)})` : "";
  const next = counts.quarantined > 0 ? ` → strata quarantine list ${report.dataset}` : "";
  const stopped = report.passed ? "" : " — too many rejects: the step failed";
  return `${report.dataset}: ${countsText(counts)}${reasons}${stopped}${next}`;
}

/** `✓` passed, `✗` failed (severity fail), `!` failed but only warned or dropped rows. */
export function expectationSymbol(result: Pick<ExpectationResult, "passed" | "severity">): string {
  return result.passed ? "✓" : result.severity === "fail" ? "✗" : "!";
}

/** `3 expectations: 2 passed, 1 warned`. */
export function expectationTally(results: readonly ExpectationResult[]): string {
  const failed = (severity: string): number => results.filter((r) => !r.passed && r.severity === severity).length;
  const parts = [
    `${results.filter((r) => r.passed).length} passed`,
    ...(failed("warn") ? [`${failed("warn")} warned`] : []),
    ...(failed("drop") ? [`${failed("drop")} dropped rows`] : []),
    ...(failed("fail") ? [`${failed("fail")} failed`] : []),
  ];
  return `${plural(results.length, "expectation")}: ${parts.join(", ")}`;
}

/** An expectation's message, starting with its id (the messages usually do). */
export function expectationMessage(result: ExpectationResult): string {
  return result.message.startsWith(result.id) ? result.message : `${result.id}: ${result.message}`;
}

/** `tx v2` (a dataset version) or the output's name. */
export function reportSubject(report: ValidationReport): string {
  return report.version === null ? report.dataset : `${report.dataset} v${report.version}`;
}

/** The lines of an expectations report: the tally, then one line per expectation that did not pass. */
export function expectationLines(report: ValidationReport, indent = ""): string[] {
  return [
    `${indent}${reportSubject(report)}: ${expectationTally(report.results)}`,
    ...report.results.filter((r) => !r.passed).map((r) => `${indent}  ${expectationSymbol(r)} ${expectationMessage(r)}`),
  ];
}

/** The "validation" section after a run's step table; empty when the run checked nothing. */
export function validationSection(reports: readonly ValidationReport[]): string[] {
  if (!reports.length) return [];
  const lines = ["validation:"];
  for (const report of reports) {
    if (report.kind === "records") lines.push(`  ${recordsLine(report)}`);
    else lines.push(...expectationLines(report, "  "));
  }
  return lines;
}

/** Reasons with their counts, as a table (`strata validate`, replay's new reasons). */
export function reasonTable(reasons: readonly Reason[]): string {
  return table(
    ["reason", "column / rule", "count"],
    reasons.map((r) => [r.code, reasonSubject(r), String(r.count)]),
  );
}

/** Every expectation of a suite: symbol, id, severity and what was found. */
export function expectationTable(results: readonly ExpectationResult[]): string {
  return table(
    ["", "expectation", "severity", "result"],
    results.map((r) => [expectationSymbol(r), r.id, r.severity, expectationMessage(r)]),
  );
}

/** The message of the reason of `record` that matches a group (code, column, rule), else its first. */
export function messageFor(
  record: QuarantinedRecord,
  group?: { readonly code: string; readonly column: string | null; readonly rule: string | null },
): string {
  const match = group
    ? record.reasons.find((r) => r.code === group.code && r.column === group.column && (r.rule ?? null) === group.rule)
    : undefined;
  return (match ?? record.reasons[0])?.message ?? "(no reason recorded)";
}

/** `amount=12 day=∅`. */
export function fixesText(fixes: Readonly<Record<string, string | null>> | null): string {
  return fixes && Object.keys(fixes).length ? valuesText(fixes) : "";
}

/** A quarantined record in full (`strata quarantine show`). */
export function recordDetails(record: QuarantinedRecord): string {
  const rows: string[][] = [
    ["dataset", record.target ? `${record.dataset} (replays into ${record.target})` : record.dataset],
    ["status", record.status + (record.annotatedAt !== null ? ` (annotated ${formatTime(record.annotatedAt)})` : "")],
    ["source", sourceOf(record) + (record.record !== null ? ` (record ${record.record} of the file)` : "")],
    [
      "quarantined",
      `${formatTime(record.at)}${record.runId ? ` by run ${record.runId}` : ""}${record.step ? ` (step ${record.step})` : ""}`,
    ],
  ];
  if (record.checkerVersion) rows.push(["checker", record.checkerVersion]);
  if (record.note !== null) rows.push(["note", record.note]);
  if (record.replayedRun !== null)
    rows.push([
      "replayed",
      `into ${record.target ?? "?"} v${record.replayedVersion ?? "?"} by run ${record.replayedRun}, ${formatTime(record.replayedAt)}`,
    ]);
  const out = [`record ${record.id}`, table(["field", "value"], rows).split("\n").slice(1).join("\n"), "", "reasons:"];
  out.push(...record.reasons.map((r) => `  ${reasonLabel(r)}: ${r.message}`));
  if (record.values) {
    const fixes = record.fixes ?? {};
    const hasFixes = Object.keys(fixes).length > 0;
    const columns = [...new Set([...Object.keys(record.values), ...Object.keys(fixes)])];
    out.push(
      "",
      table(
        hasFixes ? ["column", "value as read", "fix"] : ["column", "value as read"],
        columns.map((c) => {
          const read = c in record.values! ? valueText(record.values![c]) : "";
          return hasFixes ? [c, read, c in fixes ? valueText(fixes[c]) : ""] : [c, read];
        }),
      )
        .split("\n")
        .map((l) => `  ${l}`)
        .join("\n"),
    );
  } else if (record.fixes && Object.keys(record.fixes).length) out.push("", `fixes: ${fixesText(record.fixes)}`);
  if (record.raw !== null) out.push("", `raw: ${record.raw}`);
  return out.join("\n");
}
