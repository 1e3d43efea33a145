import type { TableEngine, TableName } from "../storage/table-engine.js";
import type { NewReject } from "../storage/quarantine-store.js";
import type { RecordRule } from "../validation/record-rules.js";
import type { RejectReason } from "../validation/reason-codes.js";

type TsRule = Extract<RecordRule, { kind: "ts" }>;

/** The TypeScript rules among a dataset's rules (SQL ones are compiled into the reader's checks). */
export const tsRules = (rules: readonly RecordRule[] | undefined): TsRule[] => (rules ?? []).filter((r): r is TsRule => r.kind === "ts");

function broken(rule: TsRule, row: Record<string, unknown>): RejectReason | null {
  try {
    if (rule.test(row)) return null;
    return { code: "RULE_FAILED", column: null, rule: rule.name, value: null, message: rule.message };
  } catch (error) {
    return {
      code: "RULE_FAILED",
      column: null,
      rule: rule.name,
      value: null,
      message: `${rule.message} (the rule threw: ${(error as Error).message})`,
    };
  }
}

/**
 * Runs TypeScript record rules over a loaded table, row by row, and takes the rows that break
 * one out of it. A rule that throws counts as broken. Returns the rows taken out, with reasons.
 * `limit` stops at that many (a fail-fast read needs only the first).
 */
export async function applyTsRules(
  engine: TableEngine,
  table: TableName,
  rules: readonly TsRule[],
  options: { readonly limit?: number; readonly signal?: AbortSignal } = {},
): Promise<NewReject[]> {
  if (!rules.length) return [];
  const numbered = { schema: table.schema, table: `${table.table}__numbered` };
  const rejects: NewReject[] = [];
  const rowids: number[] = [];
  const signal = options.signal ?? new AbortController().signal;
  try {
    // rowid is stable until the table changes: it says which rows to delete after the scan.
    await engine.createTableAs(numbered, { strings: ["select rowid as __rowid, * from ", ""], parts: [{ table }] }, signal);
    scan: for await (const batch of engine.batches(numbered)) {
      const names = Object.keys(batch.columns).filter((n) => n !== "__rowid");
      for (let i = 0; i < batch.length; i++) {
        const row: Record<string, unknown> = {};
        for (const n of names) row[n] = batch.columns[n]![i];
        const reasons = rules.map((r) => broken(r, row)).filter((r): r is RejectReason => r !== null);
        if (!reasons.length) continue;
        rowids.push(Number(batch.columns.__rowid![i]));
        rejects.push({ file: null, line: null, values: row, raw: null, reasons });
        if (options.limit !== undefined && rejects.length >= options.limit) break scan;
      }
    }
  } finally {
    await engine.drop(numbered).catch(() => undefined);
  }
  for (let i = 0; i < rowids.length; i += 10_000) {
    const ids = rowids.slice(i, i + 10_000).join(", ");
    await engine.query({ strings: [`delete from ${engine.qualifiedName(table)} where rowid in (${ids})`], parts: [] }, signal);
  }
  return rejects;
}
