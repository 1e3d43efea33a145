import type { RunRecord, StepRecord, StoredOutput, ValidationReport } from "../../storage/run-store.js";
import { formatDuration, formatTime, statusSymbol, table } from "../format.js";

/** A step's output as shown to people and in `--json`: small JSON inline, tables by name and size. */
export function previewOutput(output: StoredOutput | null): unknown {
  if (!output) return null;
  switch (output.kind) {
    case "none":
      return null;
    case "json":
      return output.json.length <= 4096 ? (JSON.parse(output.json) as unknown) : { kind: "json", bytes: output.json.length };
    case "table":
      return { table: output.table, rows: output.rows };
    case "opaque":
      return { kind: "opaque", type: output.type };
  }
}

function describeOutput(output: StoredOutput | null): string {
  if (!output || output.kind === "none") return "";
  if (output.kind === "table") return `table ${output.table} (${output.rows} rows)`;
  if (output.kind === "opaque") return `(${output.type}, not kept)`;
  return output.json.length > 60 ? `${output.json.slice(0, 57)}...` : output.json;
}

const duration = (s: StepRecord): number | null => (s.startedAt !== null && s.endedAt !== null ? s.endedAt - s.startedAt : null);

/**
 * The machine-readable summary of a run (`strata run --json`, `strata runs show --json`), with its
 * validation reports: record counts of each ingestion and the results of each suite of expectations.
 */
export function runJson(
  run: RunRecord,
  steps: readonly StepRecord[],
  validations: readonly ValidationReport[] = [],
): Record<string, unknown> {
  return {
    runId: run.id,
    pipeline: run.pipeline,
    status: run.status,
    trigger: run.trigger,
    params: run.params,
    resumedFrom: run.resumedFrom,
    startedAt: new Date(run.startedAt).toISOString(),
    endedAt: run.endedAt === null ? null : new Date(run.endedAt).toISOString(),
    durationMs: run.endedAt === null ? null : run.endedAt - run.startedAt,
    error: run.error,
    steps: steps.map((s) => ({
      name: s.step,
      status: s.status,
      attempts: s.attempts,
      startedAt: s.startedAt === null ? null : new Date(s.startedAt).toISOString(),
      endedAt: s.endedAt === null ? null : new Date(s.endedAt).toISOString(),
      durationMs: duration(s),
      error: s.error,
      reusedFrom: s.reusedFrom,
      output: previewOutput(s.output),
    })),
    validations,
  };
}

/** The per-step table people read after a run and in `strata runs show`. */
export function stepTable(steps: readonly StepRecord[]): string {
  return table(
    ["", "step", "status", "attempts", "time", "output / error"],
    steps.map((s) => [
      statusSymbol(s.status),
      s.step,
      s.status,
      String(s.attempts),
      formatDuration(duration(s)),
      // First line only: engine errors run over several lines and would break the table.
      s.error && s.status !== "succeeded"
        ? `${s.error.code}: ${s.error.message.split("\n")[0]}`
        : s.reusedFrom
          ? `reused from ${s.reusedFrom}`
          : describeOutput(s.output),
    ]),
  );
}

export function runHeadline(run: RunRecord, steps: readonly StepRecord[]): string {
  const counts = new Map<string, number>();
  for (const s of steps) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  const tally = [...counts].map(([status, n]) => `${n} ${status}`).join(", ");
  const took = run.endedAt === null ? "still running" : `in ${formatDuration(run.endedAt - run.startedAt)}`;
  return `${statusSymbol(run.status)} run ${run.id} of ${run.pipeline} ${run.status} ${took} (${steps.length} steps: ${tally})`;
}

export function runDetails(run: RunRecord): string {
  return table(
    ["field", "value"],
    [
      ["run", run.id],
      ["pipeline", run.pipeline],
      ["status", run.status],
      ["trigger", `${run.trigger.kind} ${run.trigger.id}`],
      ["params", JSON.stringify(run.params)],
      ["started", formatTime(run.startedAt)],
      ["ended", formatTime(run.endedAt)],
      ...(run.resumedFrom ? [["resumed from", run.resumedFrom]] : []),
      ...(run.error ? [["error", `${run.error.code}: ${run.error.message}`]] : []),
    ],
  );
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const cell = (v: unknown): string => (typeof v === "string" ? v : (JSON.stringify(v) ?? ""));

/**
 * A final step's result, indented under its name: a list of flat records (a top-N, say) as a
 * table, a record as one `key: value` line per field, anything else as JSON.
 */
export function resultSection(step: string, value: unknown): string[] {
  let body: string[];
  if (Array.isArray(value) && value.length > 0 && value.length <= 50 && value.every(isPlainObject)) {
    const headers = [...new Set(value.flatMap((r) => Object.keys(r)))];
    body = table(
      headers,
      value.map((r) => headers.map((h) => cell(r[h]))),
    ).split("\n");
  } else if (isPlainObject(value)) {
    body = Object.entries(value).map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
  } else {
    body = [JSON.stringify(value)];
  }
  return [`${step}:`, ...body.map((l) => `  ${l}`)];
}
