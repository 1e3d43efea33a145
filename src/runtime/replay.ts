import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StrataError } from "../errors/strata-error.js";
import type { DatasetRef } from "../pipeline/dataset.js";
import type { QuarantinedRecord, QuarantineFilter } from "../storage/quarantine-store.js";
import type { ValidationReport } from "../storage/run-store.js";
import { countReasons } from "../validation/reason-codes.js";
import type { TableEngine, TableName } from "../storage/table-engine.js";
import { schemaDifferences } from "../data/schema-check.js";
import { thisProcess } from "./abandoned-runs.js";
import { goLive, aliasOf, columnDefs, versionTable } from "./dataset-io.js";
import { newId } from "./ids.js";
import { checkRecords, checkerOf, fileSourceOf } from "./raw-read.js";
import type { Workspace } from "./workspace.js";

export interface ReplayOptions {
  /** Only rejects with this reason code. */
  readonly reason?: string;
  /** Re-check every reject not yet replayed, not only the annotated ones. */
  readonly all?: boolean;
  /** Re-check and report, change nothing. Considers every reject not yet replayed unless `annotatedOnly`. */
  readonly dryRun?: boolean;
  readonly annotatedOnly?: boolean;
  readonly now?: () => number;
}

export interface ReplayResult {
  readonly dataset: string;
  readonly target: string | null;
  /** The current checker's version, which decided. */
  readonly checkerVersion: string;
  readonly dryRun: boolean;
  readonly candidates: number;
  readonly passed: number;
  readonly stillFailing: number;
  /** By the reason each reject had: how many, and how many now pass. */
  readonly byReason: readonly { code: string; column: string | null; rule: string | null; count: number; nowPassing: number }[];
  /** Why the ones that still fail fail now. */
  readonly newReasons: ValidationReport["reasons"];
  /** The replay's run id (recorded in `strata runs`), and the target's new version; null on a dry run or when none passed. */
  readonly runId: string | null;
  readonly version: number | null;
  readonly passedIds: readonly number[];
  /** Of those that pass, how many are annotated: what a replay without `all` moves. */
  readonly annotatedPassing: number;
}

const QID = "__qid";

/** Formats a date or timestamp read back from a typed row (ISO text) in a strptime format, so the checker reads it as from a file. */
function formatDate(iso: string, format: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number, w = 2): string => String(n).padStart(w, "0");
  const parts: Record<string, string> = {
    Y: pad(d.getUTCFullYear(), 4),
    m: pad(d.getUTCMonth() + 1),
    d: pad(d.getUTCDate()),
    H: pad(d.getUTCHours()),
    M: pad(d.getUTCMinutes()),
    S: pad(d.getUTCSeconds()),
  };
  return format.replace(/%([YmdHMS%])/g, (_m, c: string) => (c === "%" ? "%" : (parts[c] ?? "")));
}

/** The text values to re-check: as read, with the annotation's fixes on top. Null when there are none to take. */
function valuesOf(ds: DatasetRef<unknown>, record: QuarantinedRecord): Record<string, unknown> | null {
  let values: Record<string, unknown> | null = record.values ? { ...record.values } : null;
  if (!values && record.raw !== null && (ds.options.format === "jsonl" || /\.jsonl?$/i.test(ds.options.path ?? ""))) {
    try {
      const parsed: unknown = JSON.parse(record.raw);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) values = parsed as Record<string, unknown>;
    } catch {
      // Still not JSON: it stays rejected.
    }
  }
  if (!values) return null;
  for (const [column, spec] of Object.entries(ds.columns)) {
    const v = values[column];
    if (spec.format && typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v))
      values[column] = formatDate(v, spec.format);
  }
  return { ...values, ...(record.fixes ?? {}) };
}

function reasonsNowPassing(records: readonly QuarantinedRecord[], passing: ReadonlySet<number>): ReplayResult["byReason"] {
  const groups = new Map<string, { code: string; column: string | null; rule: string | null; count: number; nowPassing: number }>();
  for (const r of records) {
    for (const reason of r.reasons) {
      const key = JSON.stringify([reason.code, reason.column, reason.rule ?? null]);
      const g = groups.get(key) ?? { code: reason.code, column: reason.column, rule: reason.rule ?? null, count: 0, nowPassing: 0 };
      g.count++;
      if (passing.has(r.id)) g.nowPassing++;
      groups.set(key, g);
    }
  }
  return [...groups.values()].sort((a, b) => b.count - a.count);
}

/**
 * Re-checks quarantined records of a raw files dataset with its current checker (schema, rules,
 * unknown-fields policy) and, unless it is a dry run, appends the ones that now pass to the clean
 * dataset an `ingest` step wrote them for, as a new version (live rows + replayed rows), recorded
 * as a run. Replayed records stay in the quarantine, marked with that run and version.
 *
 * Each record is re-read as a JSON line of its values as read (with the annotation's fixes on
 * top); a record that could not be split into values stays rejected unless it is a JSON line.
 */
export async function replayQuarantine(
  workspace: Workspace,
  ds: DatasetRef<unknown>,
  datasets: ReadonlyMap<string, DatasetRef<unknown>>,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const now = options.now ?? Date.now;
  const dryRun = options.dryRun ?? false;
  const store = await workspace.quarantine();
  const status: QuarantineFilter["status"] = dryRun
    ? options.annotatedOnly
      ? "annotated"
      : "unreplayed"
    : options.all
      ? "unreplayed"
      : "annotated";
  const candidates = await store.list(ds.name, { status, ...(options.reason ? { reason: options.reason } : {}) });
  const storage = await workspace.storages.open(ds.options.storage);
  if (!storage.files)
    throw new StrataError(
      "DATASET_INVALID",
      `dataset "${ds.name}" is not a raw files dataset: only records rejected at ingestion can be replayed`,
      {
        details: { dataset: ds.name },
      },
    );
  const checker = checkerOf(ds);
  const targetName = candidates.find((c) => c.target !== null)?.target ?? null;
  const empty = (): ReplayResult => ({
    dataset: ds.name,
    target: targetName,
    checkerVersion: checker,
    dryRun,
    candidates: 0,
    passed: 0,
    stillFailing: 0,
    byReason: [],
    newReasons: [],
    runId: null,
    version: null,
    passedIds: [],
    annotatedPassing: 0,
  });
  if (!candidates.length) return empty();
  const target = targetName === null ? undefined : datasets.get(targetName);
  if (!dryRun && (targetName === null || !target))
    throw new StrataError(
      "QUARANTINE_NO_TARGET",
      targetName === null
        ? `the rejects of "${ds.name}" were not read by an ingest step, so there is no clean dataset to replay them into (use --dry-run to re-check them)`
        : `the clean dataset "${targetName}" the rejects of "${ds.name}" were ingested for is not declared in this project`,
      { details: { dataset: ds.name, target: targetName } },
    );

  const engine = await workspace.engine();
  const dir = mkdtempSync(join(tmpdir(), "strata-replay-"));
  const scratchSchema = `replay_${process.pid}`;
  const clean: TableName = { schema: scratchSchema, table: `${ds.name}__clean` };
  const rejects: TableName = { schema: scratchSchema, table: `${ds.name}__rejects` };
  try {
    const lines: string[] = [];
    // A record that could not be split into values is not re-read: it keeps its reasons.
    const unsplit: QuarantinedRecord[] = [];
    for (const record of candidates) {
      const values = valuesOf(ds, record);
      if (values) lines.push(JSON.stringify({ ...values, [QID]: record.id }));
      else unsplit.push(record);
    }
    writeFileSync(join(dir, "replay.jsonl"), lines.length ? `${lines.join("\n")}\n` : "");
    const { csv: _csv, ...options } = ds.options;
    const base = fileSourceOf({ ...ds, options: { ...options, path: "replay.jsonl", format: "jsonl" } }, dir);
    const source = { ...base, schema: { ...ds.columns, [QID]: { kind: "bigint" as const, nullable: false } } };
    const check = await checkRecords(engine, ds, source, { target: clean, rejects }, new AbortController().signal);
    const passedIds = (
      await engine.query({ strings: [`select ${QID} as id from ${engine.qualifiedName(clean)} order by 1`], parts: [] })
    ).map((r) => Number(r.id));
    const passing = new Set(passedIds);
    const newReasons = countReasons([...(await check.reasons()), ...unsplit.flatMap((f) => f.reasons)]);
    const result: Omit<ReplayResult, "runId" | "version"> = {
      dataset: ds.name,
      target: targetName,
      checkerVersion: checker,
      dryRun,
      candidates: candidates.length,
      passed: passing.size,
      stillFailing: candidates.length - passing.size,
      byReason: reasonsNowPassing(candidates, passing),
      newReasons,
      passedIds,
      annotatedPassing: candidates.filter((c) => c.status === "annotated" && passing.has(c.id)).length,
    };
    if (dryRun || passing.size === 0) return { ...result, runId: null, version: null };
    const written = await appendVersion(workspace, target!, engine, clean, ds.name, now);
    await store.markReplayed(
      passedIds,
      { runId: written.runId, version: written.version, at: now() },
      { table: clean, id: QID, columns: Object.keys(target!.columns) },
    );
    await workspace.store.saveValidation({
      runId: written.runId,
      step: "replay",
      dataset: ds.name,
      version: written.version,
      kind: "records",
      checkerVersion: checker,
      counts: { read: candidates.length, clean: passing.size, quarantined: candidates.length - passing.size },
      reasons: result.newReasons,
      results: [],
      passed: true,
      at: now(),
    });
    return { ...result, runId: written.runId, version: written.version };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await engine.drop(clean).catch(() => undefined);
    await engine.drop(rejects).catch(() => undefined);
  }
}

/**
 * A new version of `target`: its live rows plus `rows` (a table in `from`, columns by name),
 * checked against the schema and made live atomically, recorded as a run of "quarantine-replay".
 */
async function appendVersion(
  workspace: Workspace,
  target: DatasetRef<unknown>,
  from: TableEngine,
  rows: TableName,
  source: string,
  now: () => number,
): Promise<{ runId: string; version: number }> {
  const storage = await workspace.storages.open(target.options.storage);
  const engine = storage.tables;
  if (!engine) throw new StrataError("DATASET_INVALID", `dataset "${target.name}" is not a table dataset: replay appends to tables only`);
  const runId = newId("r", now());
  await workspace.store.createRun(
    {
      id: runId,
      pipeline: "quarantine-replay",
      status: "running",
      trigger: { kind: "manual", id: `replay:${source}` },
      params: { dataset: source, into: target.name },
      inputParams: { dataset: source, into: target.name },
      owner: thisProcess,
      resumedFrom: null,
      startedAt: now(),
      endedAt: null,
      error: null,
    },
    ["replay"],
  );
  const startedAt = now();
  const settle = async (status: "succeeded" | "failed", error: { code: string; message: string } | null): Promise<void> => {
    const at = now();
    await workspace.store.saveStep({
      runId,
      step: "replay",
      status,
      attempts: 1,
      startedAt,
      endedAt: at,
      error,
      output: null,
      reusedFrom: null,
    });
    await workspace.store.finishRun(runId, status, at, error);
  };
  const version = await workspace.catalog.beginVersion({
    dataset: target.name,
    storage: storage.definition.name,
    runId,
    step: "replay",
    partition: null,
    at: now(),
  });
  const table = versionTable(engine, target.name, version);
  const signal = new AbortController().signal;
  const columns = Object.keys(target.columns)
    .map((c) => `"${c.replace(/"/g, '""')}"`)
    .join(", ");
  // The new version is the live one plus the replayed rows: no other writer may flip meanwhile.
  const hold = await workspace.catalog.holdDataset(target.name);
  try {
    let incoming = rows;
    if (engine !== from) {
      // Another engine: the replayed rows travel through JavaScript (there are few).
      incoming = { schema: engine.datasetSchema, table: `${target.name}__v${version}_replayed` };
      await engine.createTableFromRows(incoming, await from.readRows(rows), columnDefs(target.columns));
    }
    const live = await engine.aliasTarget(aliasOf(engine, target.name));
    const count = await engine.createTableAs(
      table,
      live
        ? { strings: [`select ${columns} from `, ` union all select ${columns} from `, ""], parts: [{ table: live }, { table: incoming }] }
        : { strings: [`select ${columns} from `, ""], parts: [{ table: incoming }] },
      signal,
    );
    if (incoming !== rows) await engine.drop(incoming);
    const problems = schemaDifferences(await engine.describe(table), target.columns);
    if (problems.length)
      throw new StrataError(
        "SCHEMA_MISMATCH",
        `dataset "${target.name}": the replayed version does not match its schema: ${problems.join("; ")}`,
        {
          details: { dataset: target.name, problems },
        },
      );
    await workspace.catalog.finishVersion(target.name, version, count, now());
    await goLive(workspace.catalog, hold, storage, target.name, version, now());
    await workspace.catalog.recordLineage([
      { runId, step: "replay", dataset: source, version: 0, direction: "read", at: now() },
      { runId, step: "replay", dataset: target.name, version, direction: "write", at: now() },
    ]);
    await settle("succeeded", null);
    return { runId, version };
  } catch (error) {
    await workspace.catalog.failVersion(target.name, version, (error as Error).message, now()).catch(() => undefined);
    await engine.drop(table).catch(() => undefined);
    await settle("failed", { code: "STEP_FAILED", message: (error as Error).message }).catch(() => undefined);
    throw error;
  } finally {
    await hold.release();
  }
}
