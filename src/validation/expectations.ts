import { DagError } from "../errors/errors.js";
import type { DatasetRef } from "../pipeline/dataset.js";

/**
 * Expectations: "a posteriori" tests on a dataset or a step's output table, run after the step
 * and before its output is published. Pure definitions; `evaluate-expectations.ts` compiles them
 * to SQL inside the table's engine.
 */

/**
 * What a failed expectation does:
 * - `warn`: reported, the run goes on;
 * - `drop`: the failing records (row-level expectations only) leave the output for the dataset's
 *   quarantine, with the expectation as their reason;
 * - `fail`: the step fails and its output is not published.
 */
export type Severity = "warn" | "drop" | "fail";

export interface ExpectationOptions {
  /** Default `fail`. */
  readonly severity?: Severity;
  /** Row-level expectations: the share of rows that must pass (0..1). Default 1. */
  readonly mostly?: number;
  /** Shown in reports; defaults to a sentence built from the expectation. */
  readonly description?: string;
}

interface Base {
  /** Stable id within a suite: `<kind>:<columns>` unless given; a dropped record's reason code names it. */
  readonly id: string;
  readonly severity: Severity;
  readonly mostly: number;
  readonly description: string | undefined;
}

export type Expectation = Base &
  (
    | {
        readonly kind: "rowCount";
        readonly min?: number;
        readonly max?: number;
        readonly vsPrevious?: { readonly min?: number; readonly max?: number };
      }
    | { readonly kind: "notNull"; readonly column: string }
    | { readonly kind: "nullRate"; readonly column: string; readonly max: number }
    | { readonly kind: "unique"; readonly columns: readonly string[] }
    | { readonly kind: "inSet"; readonly column: string; readonly values: readonly (string | number | boolean)[] }
    | { readonly kind: "range"; readonly column: string; readonly min?: number | string; readonly max?: number | string }
    | { readonly kind: "regex"; readonly column: string; readonly pattern: string }
    | { readonly kind: "freshness"; readonly column: string; readonly maxAgeMs: number }
    | {
        readonly kind: "references";
        readonly columns: readonly string[];
        readonly dataset: DatasetRef<unknown>;
        readonly refColumns: readonly string[];
      }
    | {
        readonly kind: "drift";
        readonly column: string;
        readonly method: "psi" | "ks";
        readonly threshold: number;
        /** Histogram bins for numeric columns (default 10 for PSI, 100 for KS). */
        readonly bins?: number;
      }
    | { readonly kind: "sql"; readonly name: string; readonly predicate: string }
  );

export type ExpectationKind = Expectation["kind"];

/** Row-level expectations judge each row alone: they can drop rows and take `mostly`. */
export const ROW_LEVEL: ReadonlySet<ExpectationKind> = new Set(["notNull", "inSet", "range", "regex", "references", "sql"]);

type Spec<K extends ExpectationKind> = Omit<Extract<Expectation, { kind: K }>, keyof Base>;

function make<K extends ExpectationKind>(spec: Spec<K> & { kind: K }, id: string, options: ExpectationOptions | undefined): Expectation {
  const severity = options?.severity ?? "fail";
  const mostly = options?.mostly ?? 1;
  const fail = (message: string): never => {
    throw new DagError("EXPECTATION_INVALID", `expectation ${id}: ${message}`, { details: { expectation: id } });
  };
  if (!["warn", "drop", "fail"].includes(severity)) fail(`severity must be warn, drop or fail, not ${JSON.stringify(severity)}`);
  if (severity === "drop" && !ROW_LEVEL.has(spec.kind))
    fail(`severity "drop" needs a row-level expectation (${[...ROW_LEVEL].join(", ")}); ${spec.kind} judges the whole table`);
  if (!(mostly > 0 && mostly <= 1)) fail(`mostly must be in (0, 1], not ${mostly}`);
  if (mostly < 1 && !ROW_LEVEL.has(spec.kind)) fail(`mostly applies to row-level expectations only`);
  return { ...spec, id, severity, mostly, description: options?.description } as Expectation;
}

const nonNegative = (value: number | undefined, what: string, id: string): void => {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0))
    throw new DagError("EXPECTATION_INVALID", `expectation ${id}: ${what} must be a number >= 0, not ${value}`, {
      details: { expectation: id },
    });
};

/**
 * Row count: absolute bounds, and/or bounds relative to the previous live version
 * (`vsPrevious: { min: 0.9 }` = at least 90 % of its rows). No previous version: the relative bound passes.
 */
export function rowCount(
  bounds: { min?: number; max?: number; vsPrevious?: { min?: number; max?: number } | number },
  options?: ExpectationOptions,
): Expectation {
  const id = "rowCount";
  nonNegative(bounds.min, "min", id);
  nonNegative(bounds.max, "max", id);
  const vs = typeof bounds.vsPrevious === "number" ? { min: bounds.vsPrevious } : bounds.vsPrevious;
  nonNegative(vs?.min, "vsPrevious.min", id);
  nonNegative(vs?.max, "vsPrevious.max", id);
  return make(
    {
      kind: "rowCount",
      ...(bounds.min !== undefined ? { min: bounds.min } : {}),
      ...(bounds.max !== undefined ? { max: bounds.max } : {}),
      ...(vs ? { vsPrevious: vs } : {}),
    },
    id,
    options,
  );
}

export const notNull = (column: string, options?: ExpectationOptions): Expectation =>
  make({ kind: "notNull", column }, `notNull:${column}`, options);

/** At most `max` (0..1) of the column's values are null. */
export function nullRate(column: string, max: number, options?: ExpectationOptions): Expectation {
  const id = `nullRate:${column}`;
  if (!(max >= 0 && max <= 1))
    throw new DagError("EXPECTATION_INVALID", `expectation ${id}: max must be in [0, 1], not ${max}`, { details: { expectation: id } });
  return make({ kind: "nullRate", column, max }, id, options);
}

/** No two rows share the value (one column) or the combination (several: a compound key). */
export function unique(columns: string | readonly string[], options?: ExpectationOptions): Expectation {
  const list = typeof columns === "string" ? [columns] : [...columns];
  return make({ kind: "unique", columns: list }, `unique:${list.join("+")}`, options);
}

export const inSet = (column: string, values: readonly (string | number | boolean)[], options?: ExpectationOptions): Expectation =>
  make({ kind: "inSet", column, values }, `inSet:${column}`, options);

/** Values within [min, max] (either may be left out); numbers, or dates/timestamps as ISO text. */
export const range = (
  column: string,
  bounds: { min?: number | string; max?: number | string },
  options?: ExpectationOptions,
): Expectation =>
  make(
    {
      kind: "range",
      column,
      ...(bounds.min !== undefined ? { min: bounds.min } : {}),
      ...(bounds.max !== undefined ? { max: bounds.max } : {}),
    },
    `range:${column}`,
    options,
  );

/** Every non-null value matches the pattern in full. */
export const regex = (column: string, pattern: RegExp | string, options?: ExpectationOptions): Expectation =>
  make({ kind: "regex", column, pattern: typeof pattern === "string" ? pattern : pattern.source }, `regex:${column}`, options);

/** The newest value of a date/timestamp column is at most `maxAge` old ("36h", "2d", "90m", or ms). */
export function freshness(column: string, maxAge: string | number, options?: ExpectationOptions): Expectation {
  const id = `freshness:${column}`;
  const ms = typeof maxAge === "number" ? maxAge : durationMs(maxAge);
  if (!(ms !== undefined && ms > 0))
    throw new DagError(
      "EXPECTATION_INVALID",
      `expectation ${id}: maxAge must be like "36h", "2d", "90m" or a number of ms, not ${JSON.stringify(maxAge)}`,
      {
        details: { expectation: id },
      },
    );
  return make({ kind: "freshness", column, maxAgeMs: ms }, id, options);
}

function durationMs(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }[m[2] as "ms" | "s" | "m" | "h" | "d" | "w"];
  return Number(m[1]) * unit;
}

/** Every (non-null) key of this table exists in `dataset`'s live version (a foreign key). Same engine only. */
export function references(
  columns: string | readonly string[],
  dataset: DatasetRef<unknown>,
  refColumns?: string | readonly string[],
  options?: ExpectationOptions,
): Expectation {
  const list = typeof columns === "string" ? [columns] : [...columns];
  const refs = refColumns === undefined ? list : typeof refColumns === "string" ? [refColumns] : [...refColumns];
  const id = `references:${list.join("+")}`;
  if (refs.length !== list.length)
    throw new DagError("EXPECTATION_INVALID", `expectation ${id}: ${list.length} columns against ${refs.length} referenced columns`, {
      details: { expectation: id },
    });
  return make({ kind: "references", columns: list, dataset, refColumns: refs }, id, options);
}

/**
 * The column's distribution has not moved too far from the previous live version: PSI (population
 * stability index; 0.1 is a small shift, 0.25 a large one) or Kolmogorov-Smirnov (the largest gap
 * between the two cumulative distributions, 0..1). No previous version: passes.
 */
export function drift(
  column: string,
  options: ExpectationOptions & { method?: "psi" | "ks"; threshold?: number; bins?: number } = {},
): Expectation {
  const method = options.method ?? "psi";
  const threshold = options.threshold ?? (method === "psi" ? 0.25 : 0.1);
  const id = `drift:${column}`;
  if (!(threshold > 0))
    throw new DagError("EXPECTATION_INVALID", `expectation ${id}: threshold must be > 0`, { details: { expectation: id } });
  if (options.bins !== undefined && !(Number.isInteger(options.bins) && options.bins >= 2 && options.bins <= 1000))
    throw new DagError("EXPECTATION_INVALID", `expectation ${id}: bins must be a whole number in [2, 1000]`, {
      details: { expectation: id },
    });
  return make({ kind: "drift", column, method, threshold, ...(options.bins !== undefined ? { bins: options.bins } : {}) }, id, options);
}

/** A row-level rule written as a SQL predicate over the table's columns: rows where it is not true fail. */
export const satisfies = (name: string, predicate: string, options?: ExpectationOptions): Expectation =>
  make({ kind: "sql", name, predicate }, `sql:${name}`, options);

/** The outcome of one expectation on one table. */
export interface ExpectationResult {
  readonly id: string;
  readonly kind: ExpectationKind;
  readonly severity: Severity;
  readonly passed: boolean;
  /** One line a person reads: what was expected and what was found. */
  readonly message: string;
  /** What was measured: counts, rates, the statistic... */
  readonly observed: Readonly<Record<string, number | string | null>>;
  /** Row-level: rows that fail it. */
  readonly failingRows?: number;
  /** Up to 5 failing values or keys, for the report. */
  readonly examples?: readonly unknown[];
}
