import { ValidationError } from "../errors/errors.js";
import { StrataError } from "../errors/strata-error.js";
import type { DatasetRef } from "../pipeline/dataset.js";
import type { StepDefinition } from "../pipeline/step.js";
import { sqlType, type FileFormat, type FileSource } from "../storage/files/file-source.js";
import type { NewReject, QuarantineStamp, QuarantineStore } from "../storage/quarantine-store.js";
import type { ValidationReport } from "../storage/run-store.js";
import type { TableEngine, TableName } from "../storage/table-engine.js";
import { checkerVersion } from "../validation/record-rules.js";
import { countReasons } from "../validation/reason-codes.js";
import type { RunScope } from "./step-executor.js";
import { TableHandle } from "./table-handle.js";
import { applyTsRules, tsRules } from "./ts-rules.js";

/** A raw files dataset as the file reader takes it. */
export function fileSourceOf(ds: DatasetRef<unknown>, folder: string): FileSource {
  const path = ds.options.path;
  if (!path) {
    throw new StrataError(
      "DATASET_INVALID",
      `dataset "${ds.name}" (storage "${ds.options.storage}"): a dataset in a files storage needs \`path\` (a file or glob in the storage's folder)`,
      { details: { dataset: ds.name, storage: ds.options.storage } },
    );
  }
  const format: FileFormat = ds.options.format ?? (/\.parquet$/i.test(path) ? "parquet" : /\.jsonl?$/i.test(path) ? "jsonl" : "csv");
  const sqlRules = (ds.options.rules ?? []).flatMap((r) =>
    r.kind === "sql" ? [{ name: r.name, predicate: r.predicate, message: r.message }] : [],
  );
  return {
    storage: ds.options.storage,
    dataset: ds.name,
    folder,
    path,
    format,
    ...(ds.options.csv ? { csv: ds.options.csv } : {}),
    schema: ds.columns,
    ...(ds.options.unknownFields ? { unknownFields: ds.options.unknownFields } : {}),
    ...(sqlRules.length ? { rules: sqlRules } : {}),
  };
}

/** The version of a dataset's record checks: kept with each reject. */
export const checkerOf = (ds: DatasetRef<unknown>): string =>
  checkerVersion({ columns: ds.columns, rules: ds.options.rules ?? [], unknownFields: ds.options.unknownFields ?? "reject" });

/** The quarantine settings of a dataset, or null when a bad record fails the read. */
export function quarantineOf(ds: DatasetRef<unknown>): { maxRate: number } | null {
  const q = ds.options.quarantine;
  if (!q) return null;
  return { maxRate: typeof q === "object" ? (q.maxRate ?? 1) : 1 };
}

/** What checking a raw dataset's records gave: counts, TypeScript-rule rejects, and the reasons. */
export interface RecordCheck {
  readonly read: number;
  /** Records in `target` after the TypeScript rules. */
  readonly clean: number;
  /** Rejects in the `rejects` table (the reader's and the SQL checks'). */
  readonly rejected: number;
  readonly ruleRejects: readonly NewReject[];
  /** The reasons of every reject, counted (the rejects table as it is when called, and the rule rejects). */
  reasons(): Promise<ValidationReport["reasons"]>;
}

/**
 * Every check of a raw dataset's records, the one way ingestion, `strata validate` and replay run
 * them: the reader with the compiled SQL checks (passing records into `target`, the others into
 * `rejects`), then the TypeScript rules on `target`.
 */
export async function checkRecords(
  engine: TableEngine,
  ds: DatasetRef<unknown>,
  source: FileSource,
  tables: { readonly target: TableName; readonly rejects: TableName },
  signal: AbortSignal,
): Promise<RecordCheck> {
  const { ingestFiles } = await import("../storage/files/file-reader.js");
  const read = await ingestFiles(engine, source, tables, signal);
  const ruleRejects = await applyTsRules(engine, tables.target, tsRules(ds.options.rules), { signal });
  return {
    read: read.read,
    clean: read.rows - ruleRejects.length,
    rejected: read.rejected,
    ruleRejects,
    reasons: async () => countReasons([...(await reasonCounts(engine, tables.rejects)), ...ruleRejects.flatMap((r) => r.reasons)]),
  };
}

/** Reasons of a rejects table, counted: code, column, rule. */
async function reasonCounts(engine: TableEngine, rejects: TableName): Promise<ValidationReport["reasons"]> {
  const rows = await engine.query({
    strings: [
      `select r.code as code, r.column as "column", r.rule as rule, count(*) as n
       from (select unnest(from_json(reasons, '[{"code":"VARCHAR","column":"VARCHAR","rule":"VARCHAR"}]')) as r from ${engine.qualifiedName(rejects)})
       group by all order by n desc, code`,
    ],
    parts: [],
  });
  return rows.map((r) => ({
    code: String(r.code),
    column: r.column === null ? null : String(r.column),
    rule: r.rule === null ? null : String(r.rule),
    count: Number(r.n),
  }));
}

/**
 * Reads a raw files dataset for a run into a run table. Without quarantine the first bad record
 * fails the read, named by file, line and column. With quarantine, bad records go to the
 * quarantine with every reason (for the `ingest` step's output dataset, when an ingest step reads
 * it), the counts reconcile (read = clean + quarantined) and are saved as the run's validation
 * report; the read fails only past `maxRate`.
 */
export async function readRawDataset(scope: RunScope, step: StepDefinition, ds: DatasetRef<unknown>, folder: string): Promise<TableHandle> {
  const engine = await scope.engine();
  const target = { schema: scope.runId, table: `${ds.name}__raw` };
  scope.scratch.push({ engine, table: target });
  return new TableHandle(engine, target, await ingestRaw(scope, step, ds, folder, target, scope.signal));
}

/** Reads and checks a raw files dataset into `target`, a table of the warehouse engine; returns the clean rows. */
export async function ingestRaw(
  scope: RunScope,
  step: StepDefinition,
  ds: DatasetRef<unknown>,
  folder: string,
  target: TableName,
  signal: AbortSignal,
): Promise<number> {
  const { readFiles, readRejects } = await import("../storage/files/file-reader.js");
  const engine = await scope.engine();
  const source = fileSourceOf(ds, folder);
  const quarantine = quarantineOf(ds);
  const rules = tsRules(ds.options.rules);
  const checker = checkerOf(ds);
  // Raw files have no versions: the lineage says version 0.
  await scope.catalog.recordLineage([
    { runId: scope.runId, step: step.name, dataset: ds.name, version: 0, direction: "read", at: scope.clock.now() },
  ]);
  if (!quarantine) {
    const { rows } = await readFiles(engine, source, target, signal);
    const [first] = await applyTsRules(engine, target, rules, { limit: 1, signal });
    if (first) {
      throw new StrataError(
        "INGEST_RECORD_INVALID",
        `dataset "${ds.name}": a record ${first.reasons.map((r) => r.message).join("; ")}: ${JSON.stringify(first.values)}`,
        {
          details: { dataset: ds.name, record: first.values, reasons: first.reasons },
        },
      );
    }
    return rows;
  }
  const rejects = { schema: scope.runId, table: `${ds.name}__rejects` };
  scope.scratch.push({ engine, table: rejects });
  // Its tables are made before the big write: DDL right after one waits for it to be checkpointed.
  const store = await scope.quarantine();
  await store.open();
  const check = await checkRecords(engine, ds, source, { target, rejects }, signal);
  const { ruleRejects } = check;
  const stamp: QuarantineStamp = {
    dataset: ds.name,
    target: step.kind === "ingest" ? (step.dataset?.name ?? null) : null,
    runId: scope.runId,
    step: step.name,
    checkerVersion: checker,
    at: scope.clock.now(),
  };
  // Records an earlier replay fixed come back as they were replayed, not as new rejects.
  const restored = stamp.target !== null && step.dataset ? await restoreReplayed(scope, store, ds.name, step.dataset, rejects, target) : 0;
  const added = (await store.appendTable(stamp, rejects)) + (await store.append(stamp, ruleRejects));
  const quarantined = check.rejected - restored + ruleRejects.length;
  const clean = check.clean + restored;
  const reasons = await check.reasons();
  const rate = check.read === 0 ? 0 : quarantined / check.read;
  const passed = rate <= quarantine.maxRate;
  const report: ValidationReport = {
    runId: scope.runId,
    step: step.name,
    dataset: ds.name,
    version: null,
    kind: "records",
    checkerVersion: checker,
    counts: { read: check.read, clean, quarantined, newlyQuarantined: added, restored },
    reasons,
    results: [],
    passed,
    at: scope.clock.now(),
  };
  await scope.store.saveValidation(report);
  const log = scope.logger.forAttempt(step.name, 0);
  if (quarantined > 0) {
    const examples = await readRejects(engine, rejects, 3);
    log.warn(
      {
        dataset: ds.name,
        read: check.read,
        clean,
        quarantined,
        alreadyQuarantined: quarantined - added,
        restored,
        reasons,
        examples: examples.map((e) => ({ file: e.file, line: e.line, reasons: e.reasons.map((r) => r.message) })),
      },
      "records quarantined",
    );
  } else log.info({ dataset: ds.name, read: check.read, clean, quarantined }, "records checked");
  if (!passed) {
    const top = reasons
      .slice(0, 3)
      .map((r) => `${r.code}${r.column ? ` (${r.column})` : r.rule ? ` (${r.rule})` : ""} ${r.count}`)
      .join(", ");
    throw new ValidationError(
      "QUARANTINE_RATE_EXCEEDED",
      `dataset "${ds.name}": ${quarantined} of ${check.read} records rejected (${(rate * 100).toFixed(2)} %), more than the allowed ${(quarantine.maxRate * 100).toFixed(2)} %: ${top}. They are kept: strata quarantine list ${ds.name}`,
      { details: { dataset: ds.name, read: check.read, quarantined, maxRate: quarantine.maxRate } },
    );
  }
  return clean;
}

/** Puts back into `target` the records of this read that an earlier replay fixed; returns how many. */
async function restoreReplayed(
  scope: RunScope,
  store: QuarantineStore,
  dataset: string,
  to: DatasetRef<unknown>,
  rejects: TableName,
  target: TableName,
): Promise<number> {
  const engine = await scope.engine();
  const restored = { schema: scope.runId, table: `${dataset}__restored` };
  scope.scratch.push({ engine, table: restored });
  const types = Object.fromEntries(Object.entries(to.columns).map(([name, spec]) => [name, sqlType(spec)]));
  const count = await store.restoreReplayed(dataset, rejects, restored, types);
  if (count)
    await engine.query({
      strings: [`insert into ${engine.qualifiedName(target)} by name select * from ${engine.qualifiedName(restored)}`],
      parts: [],
    });
  return count;
}
