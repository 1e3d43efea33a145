import { ValidationError } from "../errors/errors.js";
import { StrataError } from "../errors/strata-error.js";
import { isDataset, type DatasetRef } from "../pipeline/dataset.js";
import type { StepDefinition } from "../pipeline/step.js";
import type { NewReject } from "../storage/quarantine-store.js";
import type { ValidationReport } from "../storage/run-store.js";
import { evaluateExpectations, rowFailsSql, type TableRef } from "../validation/evaluate-expectations.js";
import type { Expectation, ExpectationResult } from "../validation/expectations.js";
import type { RunScope } from "./step-executor.js";

/** The live version of a dataset as a table (the one this run wrote, if it wrote one), or null. */
export async function liveTable(scope: RunScope, ds: DatasetRef<unknown>): Promise<TableRef | null> {
  const storage = await scope.storages.open(ds.options.storage);
  if (!storage.tables) return null;
  const version = scope.writtenVersions.get(ds.name) ?? (await scope.catalog.liveVersion(ds.name))?.version;
  if (version === undefined) return null;
  return { engine: storage.tables, table: { schema: storage.tables.datasetSchema, table: `${ds.name}__v${version}` } };
}

/**
 * Rows failing a `drop` expectation leave the table for the quarantine, one statement each
 * (DELETE ... RETURNING). Returns the result to report for each.
 */
async function dropRows(
  scope: RunScope,
  step: StepDefinition,
  target: TableRef,
  expectations: readonly Expectation[],
  dataset: string,
  signal: AbortSignal,
): Promise<ExpectationResult[]> {
  const results: ExpectationResult[] = [];
  for (const e of expectations) {
    const total = await target.engine.count(target.table);
    const reference = e.kind === "references" ? await liveTable(scope, e.dataset) : undefined;
    if (e.kind === "references" && !reference)
      throw new StrataError(
        "EXPECTATION_INVALID",
        `expectation ${e.id}: dataset "${e.dataset.name}" has no live version to check against`,
        {
          details: { expectation: e.id },
        },
      );
    if (e.kind === "references" && reference && reference.engine !== target.engine)
      throw new StrataError(
        "EXPECTATION_INVALID",
        `expectation ${e.id}: "${e.dataset.name}" lives in another engine than the table it checks`,
        {
          details: { expectation: e.id },
        },
      );
    const rows = await target.engine.query(
      {
        strings: [
          `delete from ${target.engine.qualifiedName(target.table)} where ${rowFailsSql(e, target.engine, reference ?? undefined)} returning *`,
        ],
        parts: [],
      },
      signal,
    );
    const message = `${e.id}: ${rows.length} of ${total} rows failed and were moved to the quarantine`;
    if (rows.length) {
      const records: NewReject[] = rows.map((values) => ({
        file: null,
        line: null,
        raw: null,
        values,
        reasons: [
          {
            code: "EXPECTATION_FAILED",
            column: "column" in e ? e.column : null,
            rule: e.id,
            value: null,
            message: e.description ?? message,
          },
        ],
      }));
      const store = await scope.quarantine();
      await store.append(
        { dataset, target: dataset, runId: scope.runId, step: step.name, checkerVersion: null, at: scope.clock.now() },
        records,
      );
    }
    const rate = total === 0 ? 0 : rows.length / total;
    results.push({
      id: e.id,
      kind: e.kind,
      severity: e.severity,
      passed: rate <= 1 - e.mostly,
      message,
      observed: { rows: total, failing: rows.length, dropped: rows.length, rate },
      failingRows: rows.length,
      examples: rows.slice(0, 5),
    });
  }
  return results;
}

/**
 * Checks a step's output against its expectations before it is published: `drop` ones first
 * (their rows go to the quarantine), then the rest. Saves the report; a failed `fail` expectation
 * throws EXPECTATION_FAILED (so a dataset's new version never goes live), a failed `warn` one is
 * logged. Returns the rows dropped.
 */
export async function checkOutput(
  scope: RunScope,
  step: StepDefinition,
  target: TableRef,
  options: { readonly version: number | null; readonly previous: TableRef | null; readonly signal: AbortSignal },
): Promise<number> {
  const expectations = step.expectations;
  if (!expectations.length) return 0;
  const dataset = step.dataset?.name ?? step.output;
  const dropped = await dropRows(
    scope,
    step,
    target,
    expectations.filter((e) => e.severity === "drop"),
    dataset,
    options.signal,
  );
  const evaluated = await evaluateExpectations({
    target,
    expectations: expectations.filter((e) => e.severity !== "drop"),
    previous: options.previous,
    resolve: (ds) => (isDataset(ds) ? liveTable(scope, ds) : Promise.resolve(null)),
    now: new Date(scope.clock.now()),
    signal: options.signal,
  });
  const results = [...dropped, ...evaluated];
  const failed = results.filter((r) => !r.passed && r.severity === "fail");
  const report: ValidationReport = {
    runId: scope.runId,
    step: step.name,
    dataset,
    version: options.version,
    kind: "expectations",
    checkerVersion: null,
    counts: null,
    reasons: [],
    results,
    passed: failed.length === 0,
    at: scope.clock.now(),
  };
  await scope.store.saveValidation(report);
  const log = scope.logger.forAttempt(step.name, 0);
  for (const r of results.filter((x) => !x.passed)) log.warn({ expectation: r.id, severity: r.severity, observed: r.observed }, r.message);
  if (failed.length) {
    throw new ValidationError(
      "EXPECTATION_FAILED",
      `${step.dataset ? `dataset "${dataset}": the new version is not published: ` : `output "${dataset}": `}${failed.map((r) => r.message).join("; ")}`,
      { details: { dataset, failed: failed.map((r) => ({ id: r.id, message: r.message, observed: r.observed })) } },
    );
  }
  return dropped.reduce((n, r) => n + (r.failingRows ?? 0), 0);
}
