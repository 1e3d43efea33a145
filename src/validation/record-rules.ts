import { createHash } from "node:crypto";
import { DagError } from "../errors/errors.js";

/**
 * Cross-field record rules of a dataset, checked at ingestion with the schema's own checks: a
 * record that breaks one goes to quarantine with reason RULE_FAILED and the rule's name.
 */
export type RecordRule =
  /** A SQL predicate over the record's typed columns, evaluated in the engine (vectorized). */
  | { readonly kind: "sql"; readonly name: string; readonly predicate: string; readonly message: string }
  /** A TypeScript predicate over the typed record; runs in JavaScript, row by row, on records the SQL checks passed. */
  | { readonly kind: "ts"; readonly name: string; readonly test: (record: Record<string, unknown>) => boolean; readonly message: string };

/** What happens to fields the schema does not name: the record is rejected, they are dropped, or kept in `_extra` (JSON). */
export type UnknownFields = "reject" | "drop" | "keep";

/** The JSON overflow column that `unknownFields: "keep"` adds. */
export const EXTRA_COLUMN = "_extra";

const NAME = /^[a-z_][a-z0-9_]*$/;

function checkName(name: string): void {
  if (!NAME.test(name))
    throw new DagError("DATASET_INVALID", `rule "${name}": a rule name must match ${NAME.source}`, { details: { rule: name } });
}

export const rule = {
  /** `rule.sql("paid_when_bought", "cds = 0 or amount > 0")`: rows where it is false or null are rejected. */
  sql(name: string, predicate: string, message?: string): RecordRule {
    checkName(name);
    return { kind: "sql", name, predicate, message: message ?? `breaks rule ${name}: ${predicate}` };
  },
  /** `rule.ts("plausible", (r) => r.amount < 10_000)`: a false result (or a throw) rejects the record. */
  ts<Row = Record<string, unknown>>(name: string, test: (record: Row) => boolean, message?: string): RecordRule {
    checkName(name);
    return { kind: "ts", name, test: test as (record: Record<string, unknown>) => boolean, message: message ?? `breaks rule ${name}` };
  },
};

/**
 * The checker's version: a hash of everything that decides whether a record passes (column specs,
 * rules with their code, the unknown-fields policy). Kept with each reject, so a replay knows
 * which rejects an older checker made.
 */
export function checkerVersion(parts: { columns: unknown; rules: readonly RecordRule[]; unknownFields: UnknownFields }): string {
  const rules = parts.rules.map((r) =>
    r.kind === "sql" ? r : { kind: r.kind, name: r.name, test: r.test.toString(), message: r.message },
  );
  return createHash("sha256")
    .update(JSON.stringify({ columns: parts.columns, rules, unknownFields: parts.unknownFields }))
    .digest("hex")
    .slice(0, 12);
}
