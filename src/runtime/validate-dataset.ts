import { StrataError } from "../errors/strata-error.js";
import type { DatasetRef } from "../pipeline/dataset.js";
import type { RejectedRecord } from "../storage/files/file-reader.js";
import type { ValidationReport } from "../storage/run-store.js";
import type { TableName } from "../storage/table-engine.js";
import { evaluateExpectations, type TableRef } from "../validation/evaluate-expectations.js";
import type { Expectation } from "../validation/expectations.js";
import { checkRecords, checkerOf, fileSourceOf } from "./raw-read.js";
import type { Workspace } from "./workspace.js";

export interface DatasetValidation {
  readonly reports: readonly ValidationReport[];
  /** Raw files: the first rejected records, to look at. */
  readonly examples: readonly RejectedRecord[];
  /** False when a record check or a `fail` expectation did not pass. */
  readonly passed: boolean;
}

function versionRef(engine: TableRef["engine"], dataset: string, version: number): TableRef {
  return { engine, table: { schema: engine.datasetSchema, table: `${dataset}__v${version}` } };
}

/**
 * `strata validate <dataset>`: runs a dataset's checks ad hoc and changes nothing. A raw files
 * dataset's records are read and checked (counts and reasons; nothing goes to the quarantine);
 * a table dataset's expectations run on its live version (the one before it serves as previous).
 * Reports are saved with no run id.
 */
export async function validateDataset(
  workspace: Workspace,
  ds: DatasetRef<unknown>,
  datasets: ReadonlyMap<string, DatasetRef<unknown>>,
  options: {
    readonly now?: () => number;
    readonly examples?: number;
    /** Expectations declared elsewhere on it (`expect()` on the steps that write it), checked too. */
    readonly expectations?: readonly Expectation[];
  } = {},
): Promise<DatasetValidation> {
  const now = options.now ?? Date.now;
  const storage = await workspace.storages.open(ds.options.storage);
  const own = ds.options.expectations ?? [];
  const expectations = [...own, ...(options.expectations ?? []).filter((e) => !own.some((o) => o.id === e.id))];
  const resolve = async (other: DatasetRef<unknown>): Promise<TableRef | null> => {
    const s = await workspace.storages.open((datasets.get(other.name) ?? other).options.storage);
    const live = await workspace.catalog.liveVersion(other.name);
    return s.tables && live ? versionRef(s.tables, other.name, live.version) : null;
  };
  const reports: ValidationReport[] = [];
  let examples: RejectedRecord[] = [];
  if (storage.files) {
    const { readRejects } = await import("../storage/files/file-reader.js");
    const engine = await workspace.engine();
    const schema = `validate_${process.pid}`;
    const target: TableName = { schema, table: `${ds.name}__clean` };
    const rejects: TableName = { schema, table: `${ds.name}__rejects` };
    try {
      const check = await checkRecords(
        engine,
        ds,
        fileSourceOf(ds, storage.files.folder),
        { target, rejects },
        new AbortController().signal,
      );
      examples = [
        ...(await readRejects(engine, rejects, options.examples ?? 5)),
        ...check.ruleRejects.map((r) => ({
          file: "",
          line: null,
          offset: null,
          record: null,
          raw: null,
          values: r.values as Record<string, string | null>,
          reasons: r.reasons,
        })),
      ].slice(0, options.examples ?? 5);
      const reasons = await check.reasons();
      const quarantined = check.rejected + check.ruleRejects.length;
      reports.push({
        runId: null,
        step: null,
        dataset: ds.name,
        version: null,
        kind: "records",
        checkerVersion: checkerOf(ds),
        counts: { read: check.read, clean: check.clean, quarantined },
        reasons,
        results: [],
        passed: quarantined === 0,
        at: now(),
      });
      if (expectations.length) {
        const results = await evaluateExpectations({
          target: { engine, table: target },
          expectations,
          previous: null,
          resolve,
          now: new Date(now()),
        });
        reports.push(expectationReport(ds.name, null, results, now()));
      }
    } finally {
      await engine.drop(target).catch(() => undefined);
      await engine.drop(rejects).catch(() => undefined);
    }
  } else {
    if (!storage.tables)
      throw new StrataError("DATASET_INVALID", `dataset "${ds.name}" is in a key-value storage: validate checks tables and raw files`, {
        details: { dataset: ds.name },
      });
    if (!expectations.length)
      throw new StrataError(
        "DATASET_INVALID",
        `dataset "${ds.name}" declares no expectations (add expectations: [...] to its dataset() options)`,
        {
          details: { dataset: ds.name },
        },
      );
    const versions = (await workspace.catalog.versions(ds.name)).filter((v) => v.status === "ready");
    const live = versions.find((v) => v.live);
    if (!live)
      throw new StrataError("DATASET_NOT_FOUND", `dataset "${ds.name}" has no live version yet: run the pipeline that writes it first`, {
        details: { dataset: ds.name },
      });
    const previous = [...versions].reverse().find((v) => v.version < live.version);
    const results = await evaluateExpectations({
      target: versionRef(storage.tables, ds.name, live.version),
      expectations,
      previous: previous ? versionRef(storage.tables, ds.name, previous.version) : null,
      resolve,
      now: new Date(now()),
    });
    reports.push(expectationReport(ds.name, live.version, results, now()));
  }
  for (const report of reports) await workspace.store.saveValidation(report);
  return { reports, examples, passed: reports.every((r) => r.passed) };
}

function expectationReport(dataset: string, version: number | null, results: ValidationReport["results"], at: number): ValidationReport {
  return {
    runId: null,
    step: null,
    dataset,
    version,
    kind: "expectations",
    checkerVersion: null,
    counts: null,
    reasons: [],
    results,
    passed: results.every((r) => r.passed || r.severity !== "fail"),
    at,
  };
}
