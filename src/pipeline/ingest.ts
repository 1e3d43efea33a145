import { DagError } from "../errors/errors.js";
import { EXTRA_COLUMN } from "../validation/record-rules.js";
import type { DatasetRef } from "./dataset.js";
import type { StepRef } from "./refs.js";
import type { RetryOptions } from "./retry-policy.js";
import { INGEST_STEP, step } from "./step.js";
import type { Table } from "./table.js";

export interface IngestOptions<Row> {
  /** A raw files dataset: its schema, rules and unknown-fields policy are the checks. */
  readonly from: DatasetRef<unknown>;
  /** The clean table dataset: each run writes a new version of the records that pass. */
  readonly to: DatasetRef<Row>;
  readonly retries?: number | RetryOptions;
  readonly timeoutMs?: number;
  readonly description?: string;
}

/**
 * Declares an ingestion step: reads `from` (raw files) with its record checks, writes the records
 * that pass as a new version of `to`, and keeps every other one in the quarantine of `from`, with
 * its reasons, for `to`: `strata quarantine replay` moves them there once they pass.
 *
 * ```ts
 * const transactions = ingest("ingest", { from: rawTransactions, to: cleanTransactions });
 * ```
 */
export function ingest<Row>(name: string, options: IngestOptions<Row>): StepRef<Table<Row>> {
  const { from, to } = options;
  const fail = (message: string): never => {
    throw new DagError("DSL_INVALID_STEP", `ingest step "${name}": ${message}`, { details: { step: name, from: from.name, to: to.name } });
  };
  const expected = { ...from.columns };
  if (from.options.unknownFields === "keep" && !(EXTRA_COLUMN in to.columns))
    fail(`"${from.name}" keeps unknown fields: give "${to.name}" a column ${EXTRA_COLUMN}: t.json().nullable()`);
  const names = Object.keys(to.columns).filter((c) => c !== EXTRA_COLUMN || from.options.unknownFields !== "keep");
  const differ = [
    ...Object.keys(expected)
      .filter((c) => !names.includes(c))
      .map((c) => `"${c}" is missing from "${to.name}"`),
    ...names.filter((c) => !(c in expected)).map((c) => `"${c}" is not a column of "${from.name}"`),
    ...names
      .filter((c) => c in expected && expected[c]!.kind !== to.columns[c]!.kind)
      .map((c) => `"${c}" is ${expected[c]!.kind} in "${from.name}" but ${to.columns[c]!.kind} in "${to.name}"`),
  ];
  if (differ.length) fail(`the two schemas must have the same columns: ${differ.join("; ")}`);
  return step(
    name,
    {
      inputs: { raw: from },
      output: to,
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      description: options.description ?? `ingests ${from.name} into ${to.name}, rejects to quarantine`,
    },
    Object.assign(({ raw }: { raw: unknown }) => raw as Table<Row>, { [INGEST_STEP]: true }),
  );
}
