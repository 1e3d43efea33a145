import { StrataError, isStrataError } from "../errors/strata-error.js";
import type { DatasetRef } from "../pipeline/dataset.js";
import type { SqlLiteral } from "../pipeline/sql.js";
import type { ResolvedQuery, TableEngine, TableName } from "../storage/table-engine.js";
import { TOP_CATEGORIES, categoryBuckets, ksBinned, psi, topCategories } from "./drift.js";
import type { Expectation, ExpectationResult } from "./expectations.js";

/**
 * Evaluation of expectations (expectations.ts), compiled to SQL that runs inside the table's own
 * engine: nothing but aggregates and a few examples leave it. The SQL is the same on every engine;
 * where engines differ it goes through `engine.dialect`.
 *
 * One query computes every row-level count, null count, duplicate count and freshness maximum of
 * the table together; then one query per failing expectation fetches its examples, and drift runs
 * its own (a histogram per version).
 */

/** A table and the engine holding it. */
export interface TableRef {
  readonly engine: TableEngine;
  readonly table: TableName;
}

export interface EvaluateInput {
  readonly target: TableRef;
  readonly expectations: readonly Expectation[];
  /** The previous live version of the same dataset, for rowCount vsPrevious and drift; null when none (those checks then pass, saying so in the message). */
  readonly previous: TableRef | null;
  /** The live version of another dataset, for `references`; null when it has none (the expectation fails with a clear message). */
  readonly resolve: (dataset: DatasetRef<unknown>) => Promise<TableRef | null>;
  readonly now: Date;
  readonly signal?: AbortSignal;
}

type Of<K extends Expectation["kind"]> = Extract<Expectation, { kind: K }>;
type RowLevel = Of<"notNull" | "inSet" | "range" | "regex" | "references" | "sql">;

/** What a column's engine type means for comparing with it. */
type ColumnClass = "numeric" | "date" | "timestamp" | "timestamptz" | "text" | "bool" | "other";

const NUMERIC_TYPE =
  /^(tinyint|smallint|integer|int|int2|int4|int8|bigint|hugeint|utinyint|usmallint|uinteger|ubigint|uhugeint|varint|float|float4|float8|real|double|double precision|decimal|numeric)(\s*\(.*\))?$/;

/** Reads DuckDB's and Postgres' type names alike (INTEGER / integer, DECIMAL(10,2) / numeric(10,2)...). */
function classify(type: string): ColumnClass {
  const t = type.trim().toLowerCase();
  if (NUMERIC_TYPE.test(t)) return "numeric";
  if (t === "date") return "date";
  if (t.startsWith("timestamp")) return /with time zone|^timestamptz/.test(t) ? "timestamptz" : "timestamp";
  if (/^(varchar|text|string|char|bpchar|character|character varying|nvarchar)\b/.test(t)) return "text";
  if (t === "boolean" || t === "bool") return "bool";
  return "other";
}

const TEMPORAL_CAST: Partial<Record<ColumnClass, string>> = {
  date: "date",
  timestamp: "timestamp",
  timestamptz: "timestamp with time zone",
};

/** A table's columns: names in order and what each type is. */
interface Columns {
  readonly names: readonly string[];
  readonly classes: ReadonlyMap<string, ColumnClass>;
  readonly types: ReadonlyMap<string, string>;
}

async function columnsOf(ref: TableRef): Promise<Columns> {
  const described = await ref.engine.describe(ref.table);
  return {
    names: described.map((c) => c.name),
    classes: new Map(described.map((c) => [c.name, classify(c.type)])),
    types: new Map(described.map((c) => [c.name, c.type])),
  };
}

// ---------------------------------------------------------------------------------------------
// SQL pieces

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
/** A SQL string literal: single quotes doubled, nothing else can escape it. */
const quoteText = (value: string): string => `'${value.replace(/'/g, "''")}'`;
const plainQuery = (text: string): ResolvedQuery => ({ strings: [text], parts: [] });

const ZONED_TIMESTAMP = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?\s*([zZ]|[+-]\d\d(:?\d\d)?)$/;

/**
 * A user value as SQL. Numbers and booleans are SQL literals. A string is a quoted literal: cast
 * to the column's type when it is a date or timestamp and that type is known, otherwise left for
 * the engine to read as the type it meets (both engines do). A timestamp written with a zone is
 * moved to UTC first: naive TIMESTAMP columns hold UTC, and both engines ignore the zone there.
 */
function literal(value: string | number | boolean, cls: ColumnClass | undefined, id: string): string {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) invalid(id, `${value} is not a finite number`);
    return String(value);
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  const text = ZONED_TIMESTAMP.test(value) && !Number.isNaN(Date.parse(value)) ? new Date(value).toISOString() : value;
  const cast = cls === undefined ? undefined : TEMPORAL_CAST[cls];
  return cast ? `cast(${quoteText(text)} as ${cast})` : quoteText(text);
}

function invalid(id: string, message: string, details: Record<string, unknown> = {}): never {
  throw new StrataError("EXPECTATION_INVALID", `expectation ${id}: ${message}`, { details: { expectation: id, ...details } });
}

interface CompileContext {
  readonly engine: TableEngine;
  /** Known when evaluating (from `describe`); rowFailsSql compiles without them. */
  readonly classes?: ReadonlyMap<string, ColumnClass>;
  readonly reference?: TableRef;
}

/** A SQL boolean, true when the row fails the row-level expectation (never null). */
function failingSql(e: RowLevel, ctx: CompileContext): string {
  switch (e.kind) {
    case "notNull":
      return `${ident(e.column)} is null`;
    case "inSet": {
      const c = ident(e.column);
      if (e.values.length === 0) return `${c} is not null`;
      const cls = ctx.classes?.get(e.column);
      return `(${c} is not null and (${c} in (${e.values.map((v) => literal(v, cls, e.id)).join(", ")})) is not true)`;
    }
    case "range": {
      const c = ident(e.column);
      const cls = ctx.classes?.get(e.column);
      const checks = [
        ...(e.min === undefined ? [] : [`${c} >= ${literal(e.min, cls, e.id)}`]),
        ...(e.max === undefined ? [] : [`${c} <= ${literal(e.max, cls, e.id)}`]),
      ];
      if (checks.length === 0) return "false";
      return `(${c} is not null and (${checks.join(" and ")}) is not true)`;
    }
    case "regex": {
      const c = ident(e.column);
      return `(${c} is not null and (${ctx.engine.dialect.regexFullMatch(`cast(${c} as varchar)`, e.pattern)}) is not true)`;
    }
    case "references": {
      const ref = ctx.reference;
      if (!ref) invalid(e.id, `references needs the live table of dataset "${e.dataset.name}" to compile`);
      if (ref.engine !== ctx.engine)
        invalid(
          e.id,
          `dataset "${e.dataset.name}" (${ref.engine.qualifiedName(ref.table)}) is in another engine: references work within one engine`,
        );
      // The referenced keys are renamed inside a derived table, so the bare outer columns cannot
      // resolve to a referenced column of the same name: the subquery correlates with the row
      // being judged without naming its table (which a `delete from t where ...` leaves unknown).
      const keys = e.refColumns.map((rc, i) => `${KEY_ALIAS}.${ident(rc)} as ${ident(`${KEY_PREFIX}${i}`)}`).join(", ");
      const match = e.columns.map((c, i) => `${REF_ALIAS}.${ident(`${KEY_PREFIX}${i}`)} = ${ident(c)}`).join(" and ");
      const present = e.columns.map((c) => `${ident(c)} is not null`).join(" and ");
      return `(${present} and not exists (select 1 from (select ${keys} from ${ref.engine.qualifiedName(ref.table)} as ${KEY_ALIAS}) as ${REF_ALIAS} where ${match}))`;
    }
    case "sql":
      // On lines of its own: a trailing `--` comment in the predicate cannot swallow the rest.
      return `((\n${e.predicate}\n) is not true)`;
  }
}

const KEY_ALIAS = "strata_ref_table";
const REF_ALIAS = "strata_ref_keys";
const KEY_PREFIX = "strata_ref_key_";

const isRowLevel = (e: Expectation): e is RowLevel =>
  e.kind === "notNull" || e.kind === "inSet" || e.kind === "range" || e.kind === "regex" || e.kind === "references" || e.kind === "sql";

/**
 * A SQL boolean over a row of `target` that is true when the row FAILS this row-level expectation
 * (used to drop rows: `delete from t where <it> returning *`). `reference` is the resolved table
 * for `references`. Nulls fail only notNull; a `sql` predicate fails when false or null.
 *
 * Without the table's column types, string values are left for the engine to read as the type of
 * the column they meet; evaluateExpectations casts them explicitly, with the same outcome.
 */
export function rowFailsSql(expectation: Expectation, engine: TableEngine, reference?: TableRef): string {
  if (!isRowLevel(expectation)) invalid(expectation.id, `${expectation.kind} judges the whole table, not rows`);
  return failingSql(expectation, { engine, ...(reference ? { reference } : {}) });
}

// ---------------------------------------------------------------------------------------------
// Checks before any SQL runs

const NUMERIC_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE_TEXT = /^\d{4}-\d\d-\d\d([T ].*)?$/;

function requireColumns(e: Expectation, columns: readonly string[], known: Columns, where: string): void {
  const missing = columns.filter((c) => !known.classes.has(c));
  if (missing.length > 0)
    invalid(
      e.id,
      `${missing.length === 1 ? "column" : "columns"} ${missing.map((c) => `"${c}"`).join(", ")} not in ${where} (columns: ${known.names.join(", ")})`,
      {
        table: where,
        columns: known.names,
      },
    );
}

/** A value given to inSet or range must be comparable with the column. */
function checkValue(e: Expectation, column: string, known: Columns, value: string | number | boolean): void {
  const cls = known.classes.get(column)!;
  const type = known.types.get(column)!;
  const refuse = (what: string): never => invalid(e.id, `column "${column}" is ${type}: ${JSON.stringify(value)} ${what}`);
  switch (cls) {
    case "numeric":
      if (typeof value === "boolean" || (typeof value === "string" && !NUMERIC_TEXT.test(value.trim()))) refuse("is not a number");
      return;
    case "date":
    case "timestamp":
    case "timestamptz":
      if (typeof value !== "string" || !DATE_TEXT.test(value) || Number.isNaN(Date.parse(value)))
        refuse("is not an ISO date or timestamp (text)");
      return;
    case "text":
      if (typeof value !== "string") refuse("is not text: give text values");
      return;
    case "bool":
      if (typeof value !== "boolean" && value !== "true" && value !== "false") refuse("is not a boolean");
      if (e.kind === "range") refuse("cannot bound a boolean column");
      return;
    case "other":
      if (e.kind === "range") refuse("cannot bound this type (numbers, dates, timestamps and text only)");
  }
}

// ---------------------------------------------------------------------------------------------
// Messages

const count = (n: number): string => n.toLocaleString("en-US");

function percent(rate: number): string {
  if (rate > 0 && rate < 0.0001) return "< 0.01 %";
  if (rate < 1 && rate > 0.9999) return "> 99.99 %";
  return `${Number((rate * 100).toFixed(2))} %`;
}

const decimal = (n: number): string => String(Number(n.toPrecision(4)));

function duration(ms: number): string {
  const units: [string, number][] = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
  ];
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0 && parts.length < 2) parts.push(`${n}${unit}`);
    if (parts.length > 0) rest -= n * size;
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}

function clip(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

const json = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) ?? String(value);

/** An example value as a report shows it: text quoted, dates in ISO, keys in parentheses. */
function show(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (value instanceof Date) {
    const iso = value.toISOString();
    return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso;
  }
  if (typeof value === "string") return clip(JSON.stringify(value));
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `(${value.map(show).join(", ")})`;
  return clip(json(value));
}

const eg = (examples: readonly unknown[]): string => (examples.length ? `; e.g. ${examples.map(show).join(", ")}` : "");

const bound = (value: number | string | undefined): string =>
  value === undefined ? "" : typeof value === "number" ? String(value) : value;

function interval(min: number | string | undefined, max: number | string | undefined): string {
  return `${min === undefined ? "(-∞" : `[${bound(min)}`}, ${max === undefined ? "∞)" : `${bound(max)}]`}`;
}

function setText(values: readonly (string | number | boolean)[]): string {
  const shown = values.slice(0, 10).map((v) => (typeof v === "string" ? JSON.stringify(v) : String(v)));
  return `{${shown.join(", ")}${values.length > 10 ? `, ... (${values.length} values)` : ""}}`;
}

/** What failing rows "are", for a row-level expectation's message. */
function failingPhrase(e: RowLevel): string {
  switch (e.kind) {
    case "notNull":
      return "are null";
    case "inSet":
      return `are not in ${setText(e.values)}`;
    case "range":
      return `are outside ${interval(e.min, e.max)}`;
    case "regex":
      return `do not match /${e.pattern}/`;
    case "references":
      return `have a ${e.columns.join(", ")} missing from ${e.dataset.name} (${e.refColumns.join(", ")})`;
    case "sql":
      return `do not satisfy ${clip(e.predicate.replace(/\s+/g, " ").trim(), 80)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

const toNumber = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value));

function toDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value;
  const text = String(value as string);
  const ms = Date.parse(
    /^\d{4}-\d\d-\d\d$/.test(text) ? `${text}T00:00:00Z` : /([zZ]|[+-]\d\d(:?\d\d)?)$/.test(text) ? text : `${text.replace(" ", "T")}Z`,
  );
  return Number.isNaN(ms) ? null : new Date(ms);
}

/** The main query's share of one expectation: items of the table's aggregate and/or a one-row derived table. */
interface Contribution {
  readonly index: number;
  readonly items: readonly string[];
  readonly derived?: string;
}

const MAX_EXAMPLES = 5;

/**
 * Evaluates expectations on `target`, inside its engine. Results come in input order, one per
 * expectation. A missing column, a value that cannot compare with its column or a `sql` predicate
 * the engine refuses throws EXPECTATION_INVALID naming the expectation; engine failures
 * (unreachable server...) propagate as they are.
 */
export async function evaluateExpectations(input: EvaluateInput): Promise<ExpectationResult[]> {
  const { target, expectations, signal } = input;
  if (expectations.length === 0) return [];
  const engine = target.engine;
  const table = engine.qualifiedName(target.table);
  signal?.throwIfAborted();
  const columns = await columnsOf(target);

  // References: resolve each dataset, and keep the ones that can compile (same engine, columns there).
  const references = new Map<number, TableRef | string>();
  for (const [index, e] of expectations.entries()) {
    if (e.kind !== "references") continue;
    requireColumns(e, e.columns, columns, table);
    const ref = await input.resolve(e.dataset);
    if (ref === null) {
      references.set(index, `dataset "${e.dataset.name}" has no live version to check against`);
    } else if (ref.engine !== engine) {
      references.set(
        index,
        `dataset "${e.dataset.name}" lives in another engine (${ref.engine.qualifiedName(ref.table)} on ${ref.engine.constructor.name}) ` +
          `than ${table} (on ${engine.constructor.name}); references work within one engine`,
      );
    } else {
      requireColumns(e, e.refColumns, await columnsOf(ref), `${ref.engine.qualifiedName(ref.table)} (dataset "${e.dataset.name}")`);
      references.set(index, ref);
    }
  }

  // Everything else is checked before the first query, so a bad suite fails fast and whole.
  for (const e of expectations) {
    switch (e.kind) {
      case "notNull":
      case "nullRate":
      case "regex":
      case "drift":
        requireColumns(e, [e.column], columns, table);
        break;
      case "unique":
        requireColumns(e, e.columns, columns, table);
        break;
      case "inSet":
        requireColumns(e, [e.column], columns, table);
        for (const v of e.values) checkValue(e, e.column, columns, v);
        break;
      case "range":
        requireColumns(e, [e.column], columns, table);
        for (const v of [e.min, e.max]) if (v !== undefined) checkValue(e, e.column, columns, v);
        break;
      case "freshness": {
        requireColumns(e, [e.column], columns, table);
        const cls = columns.classes.get(e.column)!;
        if (cls !== "date" && cls !== "timestamp" && cls !== "timestamptz")
          invalid(e.id, `freshness needs a date or timestamp column; "${e.column}" is ${columns.types.get(e.column)}`);
        break;
      }
      case "rowCount":
      case "references":
      case "sql":
        break;
    }
    if (e.kind === "drift" && e.method === "ks" && !isNumericLike(columns.classes.get(e.column)!))
      invalid(
        e.id,
        `Kolmogorov-Smirnov needs an ordered column (numbers, dates, timestamps); "${e.column}" is ${columns.types.get(e.column)}: use method "psi" for categories`,
      );
  }

  const ctx = (index: number): CompileContext => {
    const ref = references.get(index);
    return { engine, classes: columns.classes, ...(typeof ref === "object" ? { reference: ref } : {}) };
  };

  // One query for the counts of every expectation that has some.
  const contributions: Contribution[] = [];
  for (const [index, e] of expectations.entries()) {
    const p = `e${index}_`;
    if (e.kind === "references") {
      if (typeof references.get(index) !== "object") continue;
      // Its own derived table, with the check in WHERE: the engines plan it as an anti-join.
      contributions.push({ index, items: [], derived: `select count(*) as ${p}failing from ${table} where ${failingSql(e, ctx(index))}` });
    } else if (isRowLevel(e)) {
      contributions.push({ index, items: [`sum(case when ${failingSql(e, ctx(index))} then 1 else 0 end) as ${p}failing`] });
    } else if (e.kind === "nullRate") {
      contributions.push({ index, items: [`sum(case when ${ident(e.column)} is null then 1 else 0 end) as ${p}nulls`] });
    } else if (e.kind === "freshness") {
      contributions.push({ index, items: [`max(${ident(e.column)}) as ${p}latest`, `count(${ident(e.column)}) as ${p}values`] });
    } else if (e.kind === "unique") {
      contributions.push({
        index,
        items: [],
        derived: `select coalesce(sum(n), 0) as ${p}duplicate_rows, count(*) as ${p}duplicate_keys from (${duplicateGroups(e, table)}) as g`,
      });
    }
  }
  const main = await aggregate(engine, table, expectations, contributions, signal);
  const rows = toNumber(main.n_rows);

  const previousRows = expectations.some((e) => e.kind === "rowCount") && input.previous ? await countRows(input.previous, signal) : null;

  const results: ExpectationResult[] = [];
  for (const [index, e] of expectations.entries()) {
    signal?.throwIfAborted();
    const p = `e${index}_`;
    const base = { id: e.id, kind: e.kind, severity: e.severity };
    switch (e.kind) {
      case "rowCount":
        results.push({ ...base, ...rowCountOutcome(e, rows, previousRows) });
        break;
      case "nullRate": {
        const nulls = toNumber(main[`${p}nulls`]);
        const rate = rows === 0 ? 0 : nulls / rows;
        results.push({
          ...base,
          passed: rate <= e.max + 1e-12,
          message: `${e.id}: ${count(nulls)} of ${count(rows)} rows (${percent(rate)}) are null, at most ${percent(e.max)} allowed`,
          observed: { rows, nulls, rate, max: e.max },
        });
        break;
      }
      case "unique": {
        const duplicateRows = toNumber(main[`${p}duplicate_rows`]);
        const duplicateKeys = toNumber(main[`${p}duplicate_keys`]);
        const examples = duplicateRows > 0 ? await duplicateExamples(engine, e, table, signal) : [];
        const rate = rows === 0 ? 0 : duplicateRows / rows;
        results.push({
          ...base,
          passed: duplicateRows === 0,
          message:
            `${e.id}: ${count(duplicateRows)} of ${count(rows)} rows (${percent(rate)}) share their ${e.columns.join(", ")} with another row` +
            (duplicateKeys > 0 ? ` (${count(duplicateKeys)} duplicated ${duplicateKeys === 1 ? "key" : "keys"})` : "") +
            (examples.length ? `; e.g. ${examples.map((x) => `${show(x.key)} ×${x.rows}`).join(", ")}` : ""),
          observed: { rows, duplicateRows, duplicateKeys, rate },
          examples: examples.map((x) => x.key),
        });
        break;
      }
      case "freshness":
        results.push({ ...base, ...freshnessOutcome(e, rows, toNumber(main[`${p}values`]), toDate(main[`${p}latest`]), input.now) });
        break;
      case "drift":
        results.push({ ...base, ...(await driftOutcome(e, target, columns, input.previous, signal)) });
        break;
      default: {
        const problem = references.get(index);
        if (typeof problem === "string") {
          results.push({ ...base, passed: false, message: `${e.id}: ${problem}`, observed: { rows } });
          break;
        }
        const failing = toNumber(main[`${p}failing`]);
        const rate = rows === 0 ? 0 : failing / rows;
        const examples = failing > 0 ? await rowExamples(engine, e, table, ctx(index), signal) : [];
        const allowed = 1 - e.mostly;
        results.push({
          ...base,
          passed: rate <= allowed + 1e-12,
          message:
            `${e.id}: ${count(failing)} of ${count(rows)} rows (${percent(rate)}) ${failingPhrase(e)}` +
            (e.mostly < 1 ? `, at most ${percent(allowed)} allowed` : "") +
            eg(examples),
          observed: { rows, failing, rate, ...(e.mostly < 1 ? { mostly: e.mostly } : {}) },
          failingRows: failing,
          examples,
        });
      }
    }
  }
  return results;
}

const isNumericLike = (cls: ColumnClass): boolean => cls === "numeric" || cls === "date" || cls === "timestamp" || cls === "timestamptz";

function duplicateGroups(e: Of<"unique">, table: string): string {
  const keys = e.columns.map(ident);
  return `select count(*) as n from ${table} where ${keys.map((k) => `${k} is not null`).join(" and ")} group by ${keys.join(", ")} having count(*) > 1`;
}

/** Runs the table's one aggregate query; when it fails, finds the expectation at fault. */
async function aggregate(
  engine: TableEngine,
  table: string,
  expectations: readonly Expectation[],
  contributions: readonly Contribution[],
  signal: AbortSignal | undefined,
): Promise<Record<string, unknown>> {
  const items = contributions.flatMap((c) => c.items);
  const derived = contributions.filter((c) => c.derived !== undefined);
  const text =
    `select * from (select ${["count(*) as n_rows", ...items].join(", ")} from ${table}) as strata_main` +
    derived.map((c) => ` cross join (${c.derived}) as strata_e${c.index}`).join("");
  try {
    const [row] = await engine.query(plainQuery(text), signal);
    return row ?? {};
  } catch (error) {
    if (isStrataError(error) && error.code !== "SQL_FAILED") throw error;
    signal?.throwIfAborted();
    // One query per expectation, to name the one whose SQL the engine refuses.
    for (const c of contributions) {
      const alone = c.derived ?? `select ${c.items.join(", ")} from ${table}`;
      try {
        await engine.query(plainQuery(alone), signal);
      } catch (cause) {
        if (isStrataError(cause) && cause.code !== "SQL_FAILED") throw cause;
        const e = expectations[c.index]!;
        throw new StrataError("EXPECTATION_INVALID", `expectation ${e.id}: its SQL fails on ${table}: ${(cause as Error).message}`, {
          cause,
          details: { expectation: e.id },
        });
      }
    }
    throw error;
  }
}

async function countRows(ref: TableRef, signal: AbortSignal | undefined): Promise<number> {
  const [row] = await ref.engine.query(plainQuery(`select count(*) as n from ${ref.engine.qualifiedName(ref.table)}`), signal);
  return toNumber(row?.n);
}

/** Up to 5 distinct failing values (or keys, or whole rows for `sql`), smallest first. */
async function rowExamples(
  engine: TableEngine,
  e: RowLevel,
  table: string,
  ctx: CompileContext,
  signal: AbortSignal | undefined,
): Promise<unknown[]> {
  const where = failingSql(e, ctx);
  switch (e.kind) {
    case "notNull":
      return [];
    case "sql":
      return engine.query(plainQuery(`select * from ${table} where ${where} limit ${MAX_EXAMPLES}`), signal);
    case "references": {
      const keys = e.columns.map((c, i) => `${ident(c)} as k${i}`);
      const found = await engine.query(
        plainQuery(
          `select distinct ${keys.join(", ")} from ${table} where ${where} order by ${keys.map((_, i) => i + 1).join(", ")} limit ${MAX_EXAMPLES}`,
        ),
        signal,
      );
      return found.map((row) => (e.columns.length === 1 ? row.k0 : e.columns.map((_, i) => row[`k${i}`])));
    }
    default: {
      const found = await engine.query(
        plainQuery(`select distinct ${ident(e.column)} as v from ${table} where ${where} order by 1 limit ${MAX_EXAMPLES}`),
        signal,
      );
      return found.map((row) => row.v);
    }
  }
}

async function duplicateExamples(
  engine: TableEngine,
  e: Of<"unique">,
  table: string,
  signal: AbortSignal | undefined,
): Promise<{ key: unknown; rows: number }[]> {
  const keys = e.columns.map((c, i) => `${ident(c)} as k${i}`);
  const found = await engine.query(
    plainQuery(
      `select ${keys.join(", ")}, count(*) as n from ${table} where ${e.columns.map((c) => `${ident(c)} is not null`).join(" and ")} ` +
        `group by ${e.columns.map(ident).join(", ")} having count(*) > 1 order by n desc, ${keys.map((_, i) => i + 1).join(", ")} limit ${MAX_EXAMPLES}`,
    ),
    signal,
  );
  return found.map((row) => ({ key: e.columns.length === 1 ? row.k0 : e.columns.map((_, i) => row[`k${i}`]), rows: toNumber(row.n) }));
}

type Outcome = Omit<ExpectationResult, "id" | "kind" | "severity">;

function rowCountOutcome(e: Of<"rowCount">, rows: number, previousRows: number | null): Outcome {
  const parts: string[] = [];
  let passed = true;
  const observed: Record<string, number | null> = { rows };
  const absolute = e.min !== undefined || e.max !== undefined;
  if (absolute) {
    const ok = (e.min === undefined || rows >= e.min) && (e.max === undefined || rows <= e.max);
    passed &&= ok;
    parts.push(`${count(rows)} rows, expected in ${interval(e.min, e.max)}`);
  } else {
    parts.push(`${count(rows)} rows`);
  }
  if (e.vsPrevious) {
    const vs = e.vsPrevious;
    if (previousRows === null) {
      parts.push("no previous version to compare with");
    } else {
      const ratio = previousRows === 0 ? (rows === 0 ? 1 : Infinity) : rows / previousRows;
      const ok = (vs.min === undefined || ratio >= vs.min - 1e-12) && (vs.max === undefined || ratio <= vs.max + 1e-12);
      passed &&= ok;
      observed.previousRows = previousRows;
      observed.ratio = Number.isFinite(ratio) ? ratio : null;
      parts.push(
        `${Number.isFinite(ratio) ? `${decimal(ratio)} ×` : "rows where there were none in"} the previous version's ${count(previousRows)}, expected a ratio in ${interval(vs.min, vs.max)}`,
      );
    }
  }
  return { passed, message: `${e.id}: ${parts.join("; ")}`, observed };
}

function freshnessOutcome(e: Of<"freshness">, rows: number, values: number, latest: Date | null, now: Date): Outcome {
  const allowed = duration(e.maxAgeMs);
  if (latest === null) {
    const found = rows === 0 ? "the table has no rows" : `all ${count(rows)} values are null`;
    return {
      passed: false,
      message: `${e.id}: no newest value to judge (${found}), at most ${allowed} old allowed`,
      observed: { rows, values, latest: null, ageMs: null, maxAgeMs: e.maxAgeMs },
    };
  }
  const ageMs = now.getTime() - latest.getTime();
  const passed = ageMs <= e.maxAgeMs;
  const age = ageMs < 0 ? `${duration(-ageMs)} in the future` : `${duration(ageMs)} old`;
  return {
    passed,
    message: `${e.id}: the newest value, ${show(latest)}, is ${age} at ${now.toISOString()}; at most ${allowed} allowed`,
    observed: { rows, values, latest: latest.toISOString(), ageMs, maxAgeMs: e.maxAgeMs },
  };
}

// ---------------------------------------------------------------------------------------------
// Drift

/** A numeric view of a column: the number itself, or seconds since 1970 for dates and timestamps. */
function numericExpr(column: string, cls: ColumnClass): string {
  const c = ident(column);
  return cls === "numeric" ? `cast(${c} as double precision)` : `cast(extract(epoch from ${c}) as double precision)`;
}

/** Finite values only: nulls, NaN and infinities (which sort above and below every number) are left out. */
const finite = (v: string): string => `${v} > cast('-Infinity' as double precision) and ${v} < cast('Infinity' as double precision)`;

/** A computed number (never a user value) as a SQL double. */
const double = (n: number): string => `cast(${String(n)} as double precision)`;

async function driftOutcome(
  e: Of<"drift">,
  target: TableRef,
  columns: Columns,
  previous: TableRef | null,
  signal: AbortSignal | undefined,
): Promise<Outcome> {
  const method = e.method === "psi" ? "PSI" : "KS";
  const base = { method: e.method, threshold: e.threshold };
  if (previous === null)
    return { passed: true, message: `${e.id}: no previous version to compare with`, observed: { ...base, statistic: null } };
  const before = await columnsOf(previous);
  const prevClass = before.classes.get(e.column);
  if (prevClass === undefined)
    return {
      passed: true,
      message: `${e.id}: the previous version has no column "${e.column}" to compare with`,
      observed: { ...base, statistic: null },
    };
  const cls = columns.classes.get(e.column)!;
  if (isNumericLike(cls) !== isNumericLike(prevClass))
    return {
      passed: false,
      message: `${e.id}: "${e.column}" was ${before.types.get(e.column)} in the previous version and is ${columns.types.get(e.column)} now: the distributions cannot be compared`,
      observed: { ...base, statistic: null },
    };
  const counts = isNumericLike(cls)
    ? await numericHistograms(e, target, cls, previous, prevClass, signal)
    : await categoryHistograms(e, target, previous, signal);
  if (counts.previousValues === 0)
    return {
      passed: true,
      message: `${e.id}: the previous version has no values in "${e.column}" to compare with`,
      observed: { ...base, statistic: null, values: counts.values, previousValues: 0 },
    };
  if (counts.values === 0)
    return {
      passed: false,
      message: `${e.id}: "${e.column}" has no values, the previous version had ${count(counts.previousValues)}`,
      observed: { ...base, statistic: null, values: 0, previousValues: counts.previousValues },
    };
  const statistic = e.method === "psi" ? psi(counts.previous, counts.current) : ksBinned(counts.previous, counts.current);
  const passed = statistic <= e.threshold;
  return {
    passed,
    message:
      `${e.id}: ${method} ${decimal(statistic)} against the previous version (${counts.describe}; ${count(counts.values)} values vs ${count(counts.previousValues)}), ` +
      `at most ${decimal(e.threshold)} allowed`,
    observed: { ...base, statistic, buckets: counts.current.length, values: counts.values, previousValues: counts.previousValues },
  };
}

interface Histograms {
  readonly current: number[];
  readonly previous: number[];
  readonly values: number;
  readonly previousValues: number;
  /** The buckets, for the message. */
  readonly describe: string;
}

/** Equal-width bins over the combined range of both versions, counted in SQL with `floor`. */
async function numericHistograms(
  e: Of<"drift">,
  target: TableRef,
  cls: ColumnClass,
  previous: TableRef,
  prevClass: ColumnClass,
  signal: AbortSignal | undefined,
): Promise<Histograms> {
  const bins = e.bins ?? (e.method === "psi" ? 10 : 100);
  const sides = [
    { ref: target, v: numericExpr(e.column, cls) },
    { ref: previous, v: numericExpr(e.column, prevClass) },
  ];
  const stats = await Promise.all(
    sides.map(async ({ ref, v }) => {
      const [row] = await ref.engine.query(
        plainQuery(`select min(${v}) as lo, max(${v}) as hi, count(*) as n from ${ref.engine.qualifiedName(ref.table)} where ${finite(v)}`),
        signal,
      );
      return { lo: Number(row?.lo), hi: Number(row?.hi), n: toNumber(row?.n) };
    }),
  );
  const [cur, prev] = stats as [(typeof stats)[0], (typeof stats)[0]];
  if (cur.n === 0 || prev.n === 0) return { current: [], previous: [], values: cur.n, previousValues: prev.n, describe: "" };
  const lo = Math.min(cur.lo, prev.lo);
  const hi = Math.max(cur.hi, prev.hi);
  const width = (hi - lo) / bins;
  // The same arithmetic as binOf (drift.ts), so a value on an edge lands in the same bin.
  const [current, before] = await Promise.all(
    sides.map(async ({ ref, v }) => {
      const bin = hi > lo ? `least(cast(floor((${v} - ${double(lo)}) / ${double(width)}) as integer), ${bins - 1})` : "0";
      const found = await ref.engine.query(
        plainQuery(
          `select b, count(*) as n from (select ${bin} as b from ${ref.engine.qualifiedName(ref.table)} where ${finite(v)}) as binned group by b`,
        ),
        signal,
      );
      const histogram = new Array<number>(bins).fill(0);
      for (const row of found) histogram[Math.min(Math.max(toNumber(row.b), 0), bins - 1)]! += toNumber(row.n);
      return histogram;
    }),
  );
  const edges =
    cls === "numeric" ? `[${decimal(lo)}, ${decimal(hi)}]` : `[${new Date(lo * 1000).toISOString()}, ${new Date(hi * 1000).toISOString()}]`;
  return { current: current!, previous: before!, values: cur.n, previousValues: prev.n, describe: `${bins} bins over ${edges}` };
}

/** Frequencies of the top categories of both versions, the rest in one "other" bucket. */
async function categoryHistograms(
  e: Of<"drift">,
  target: TableRef,
  previous: TableRef,
  signal: AbortSignal | undefined,
): Promise<Histograms> {
  const key = `cast(${ident(e.column)} as varchar)`;
  const top = async (ref: TableRef): Promise<{ counts: Map<string, number>; total: number; complete: boolean }> => {
    const rows = await ref.engine.query(
      plainQuery(
        `select ${key} as k, count(*) as n, sum(count(*)) over () as total from ${ref.engine.qualifiedName(ref.table)} ` +
          `where ${ident(e.column)} is not null group by 1 order by n desc, 1 limit ${TOP_CATEGORIES}`,
      ),
      signal,
    );
    return {
      counts: new Map(rows.map((r) => [String(r.k), toNumber(r.n)])),
      total: toNumber(rows[0]?.total),
      complete: rows.length < TOP_CATEGORIES,
    };
  };
  const [cur, prev] = await Promise.all([top(target), top(previous)]);
  const categories = topCategories(prev, cur, TOP_CATEGORIES);
  // A kept category may be beyond one side's own top list: its count there is fetched.
  const fill = async (ref: TableRef, side: typeof cur): Promise<void> => {
    const missing = categories.filter((c) => !side.counts.has(c));
    if (side.complete || missing.length === 0) return;
    const strings = [`select ${key} as k, count(*) as n from ${ref.engine.qualifiedName(ref.table)} where ${key} in (`];
    const parts: { value: SqlLiteral }[] = [];
    missing.forEach((category, i) => {
      parts.push({ value: category });
      strings.push(i === missing.length - 1 ? ") group by 1" : ", ");
    });
    for (const row of await ref.engine.query({ strings, parts }, signal)) side.counts.set(String(row.k), toNumber(row.n));
  };
  await Promise.all([fill(target, cur), fill(previous, prev)]);
  return {
    current: categoryBuckets(categories, cur.counts, cur.total),
    previous: categoryBuckets(categories, prev.counts, prev.total),
    values: cur.total,
    previousValues: prev.total,
    describe: `${categories.length} ${categories.length === 1 ? "category" : "categories"} + other`,
  };
}
