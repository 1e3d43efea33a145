/**
 * Why a record was rejected: stable codes, kept with every quarantined record and grouped on by
 * `strata quarantine list`. Never renamed (old rejects keep theirs); docs/validation.md lists them.
 */
export const REASON_CODES = {
  /** The reader could not split the record into fields: a JSON line that is not an object, broken quoting. */
  MALFORMED_RECORD: "the record cannot be read as a record of the format",
  INVALID_ENCODING: "the record's bytes are not valid in the file's encoding",
  LINE_TOO_LONG: "the record is longer than the reader's line limit",
  TOO_FEW_VALUES: "the record has fewer values than the columns",
  TOO_MANY_VALUES: "the record has more values than the columns",
  UNTERMINATED_QUOTE: "a quoted value is never closed",
  TYPE_MISMATCH: "the value does not convert to the column's type",
  MISSING_VALUE: "the value is missing in a column that is not nullable",
  NOT_IN_SET: "the value is not one of the column's allowed values",
  OUT_OF_RANGE: "the value is below the column's min or above its max",
  PATTERN_MISMATCH: "the value does not match the column's pattern",
  TOO_LONG: "the value is longer than the column's maxLength",
  TOO_SHORT: "the value is shorter than the column's minLength",
  UNKNOWN_FIELD: "the record has a field the schema does not declare",
  RULE_FAILED: "the record breaks a cross-field rule of the dataset",
  EXPECTATION_FAILED: "the record failed a row-level expectation with severity drop",
} as const;

export type ReasonCode = keyof typeof REASON_CODES;

/** One reason a record was rejected. */
export interface RejectReason {
  readonly code: ReasonCode;
  /** The column (or JSON path) at fault; null for the whole record. */
  readonly column: string | null;
  /** The rule or expectation broken, for RULE_FAILED and EXPECTATION_FAILED. */
  readonly rule?: string | null;
  /** The value as read (text), when one column is at fault. */
  readonly value?: string | null;
  readonly message: string;
}

/** How many rejects had each reason (code, column, rule). */
export interface ReasonCount {
  readonly code: string;
  readonly column: string | null;
  readonly rule: string | null;
  readonly count: number;
}

/** Counts reasons, or adds them to earlier counts; most frequent first. */
export function countReasons(
  reasons: Iterable<{
    readonly code: string;
    readonly column: string | null;
    readonly rule?: string | null | undefined;
    readonly count?: number;
  }>,
): ReasonCount[] {
  const groups = new Map<string, { code: string; column: string | null; rule: string | null; count: number }>();
  for (const r of reasons) {
    const key = JSON.stringify([r.code, r.column, r.rule ?? null]);
    const group = groups.get(key) ?? { code: r.code, column: r.column, rule: r.rule ?? null, count: 0 };
    group.count += r.count ?? 1;
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
}
