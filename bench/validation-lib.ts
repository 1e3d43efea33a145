// Shared by validation-10m.ts: the generated CSV with 1 % bad records, the checks written by hand
// in DuckDB SQL, one Strata run, and the outcome (counts and the bad lines with their reasons)
// that the implementations are compared on.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import type { ValidationReport } from "../src/index.js";
import { fmt } from "./lib.js";
import { timer, type Timing } from "./lib.js";

/** Bump when the generator changes, so that an old cached file is not used. */
const DATA_VERSION = 1;
const FIRST_DAY = "1997-01-01";
const DAYS = 730; // 1997-01-01 .. 1998-12-31

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
/** Ignored by git (the `.scratch/` rule of .gitignore), so the generated CSV can stay. */
export const DEFAULT_DATA_DIR = join(BENCH_DIR, ".scratch", "validation-10m");

export const COLUMNS = ["customer_id", "date", "cds", "amount"] as const;
export const HEADER = COLUMNS.join(",");
/** The date format of the `date` column, in all three implementations. */
export const DATE_FORMAT = "%Y%m%d";

/** The reason codes these checks can give (the names of src/validation/reason-codes.ts). */
export const REASONS = ["MISSING_VALUE", "TYPE_MISMATCH", "OUT_OF_RANGE", "TOO_MANY_VALUES", "TOO_FEW_VALUES"] as const;
export type Reason = (typeof REASONS)[number];

const lit = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** About ten purchases per customer, as CDNOW: 10M rows and 1M customers. */
export const customersFor = (rows: number): number => Math.max(1, Math.round(rows / 10));

// ---------------------------------------------------------------------------------------------
// The data

/**
 * The defects, each on a share of the bad rows (slots out of 20, by a hash of the row number),
 * with the reasons every implementation must give. Injected values never contain a comma, and the
 * unparseable dates are ones that DuckDB's strptime and pandas' to_datetime both reject.
 */
export const DEFECTS = [
  { kind: "amount_not_a_number", slots: 3, reasons: ["TYPE_MISMATCH"], example: "twelve, douze euros, 12.50 EUR, N/A, $19.99" },
  { kind: "amount_negative", slots: 3, reasons: ["OUT_OF_RANGE"], example: "-12.34" },
  { kind: "customer_id_missing", slots: 3, reasons: ["MISSING_VALUE"], example: "(empty)" },
  { kind: "date_unparseable", slots: 3, reasons: ["TYPE_MISMATCH"], example: "1997/03/15, 19971315, March 15, 1997-03-15, 19970230" },
  { kind: "date_missing", slots: 1, reasons: ["MISSING_VALUE"], example: "(empty)" },
  { kind: "cds_not_whole", slots: 1, reasons: ["TYPE_MISMATCH"], example: "2.5, two, 3.0" },
  { kind: "cds_negative", slots: 1, reasons: ["OUT_OF_RANGE"], example: "-1" },
  { kind: "extra_column", slots: 2, reasons: ["TOO_MANY_VALUES"], example: "a 5th field: gift" },
  { kind: "too_few_columns", slots: 1, reasons: ["TOO_FEW_VALUES"], example: "no amount field" },
  { kind: "customer_id_missing+amount_negative", slots: 1, reasons: ["MISSING_VALUE", "OUT_OF_RANGE"], example: "" },
  { kind: "date_unparseable+amount_not_a_number", slots: 1, reasons: ["TYPE_MISMATCH", "TYPE_MISMATCH"], example: "" },
] as const satisfies readonly { kind: string; slots: number; reasons: readonly Reason[]; example: string }[];

/**
 * The slots (0..19) of the defects that include `part` (a two-defect kind includes both), or of the
 * one defect named `kind` when `exact`, as an SQL `in` list.
 */
function slotsOf(part: string, exact = false): string {
  const out: number[] = [];
  let next = 0;
  for (const d of DEFECTS) {
    const hit = exact ? d.kind === part : d.kind.split("+").includes(part);
    for (let s = 0; s < d.slots; s++, next++) if (hit) out.push(next);
  }
  if (!out.length) throw new Error(`no defect ${part}`);
  return `(${out.join(", ")})`;
}

const SLOTS = DEFECTS.reduce((n, d) => n + d.slots, 0);
if (SLOTS !== 20) throw new Error(`the defects must share 20 slots, not ${SLOTS}`);

/** What the generator wrote: every bad line with its reasons, the counts per defect. */
export interface Expected {
  readonly rows: number;
  readonly defects: Record<string, number>;
  /** `line:CODE,CODE` (codes sorted), sorted by line. */
  readonly entries: readonly string[];
}

/**
 * Writes the CSV with DuckDB from range(): hash-based values, so the same file every time. One row
 * in each block of 100 (by row number) is bad: exactly 1 %. Customers drawn uniformly (about 10
 * purchases each), dates uniform over 1997-1998, cds 1..20, amounts 0.00..500.00; sorted by customer
 * and date like CDNOW_master.txt. Also writes what each bad line must give (`.expected.txt`) and
 * the counts per defect (`.defects.json`).
 */
async function generate(file: string, rows: number): Promise<void> {
  const partial = `${file}.partial-${process.pid}`;
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  const d = `(date '${FIRST_DAY}' + day)`;
  const pick = (items: string[]): string => `[${items.join(", ")}][1 + variant % ${items.length}]`;
  const codes = DEFECTS.map((x) => `when kind in ${slotsOf(x.kind, true)} then ${lit([...x.reasons].sort().join(","))}`).join(" ");
  const names = DEFECTS.map((x) => `when kind in ${slotsOf(x.kind, true)} then ${lit(x.kind)}`).join(" ");
  const negative = `'-' || printf('%.2f', (1 + cents % 50000) / 100)`;
  try {
    await connection.run(`create table g as
      select row_number() over (order by customer, day, i) + 1 as line, kind,
             case when kind is null then null ${names} end as defect,
             case when kind is null then null ${codes} end as codes,
             case when kind in ${slotsOf("customer_id_missing")} then '' else lpad(customer::varchar, 7, '0') end || ',' ||
             case when kind in ${slotsOf("date_unparseable")} then ${pick([
               `strftime(${d}, '%Y/%m/%d')`,
               `strftime(${d}, '%Y') || '13' || strftime(${d}, '%d')`,
               `strftime(${d}, '%B %-d')`,
               `strftime(${d}, '%Y-%m-%d')`,
               `strftime(${d}, '%Y') || '0230'`,
             ])}
                  when kind in ${slotsOf("date_missing")} then ''
                  else strftime(${d}, '%Y%m%d') end || ',' ||
             case when kind in ${slotsOf("cds_not_whole")} then ${pick(["'2.5'", "'two'", "'3.0'"])}
                  when kind in ${slotsOf("cds_negative")} then '-1'
                  else cds::varchar end ||
             case when kind in ${slotsOf("too_few_columns")} then ''
                  when kind in ${slotsOf("amount_not_a_number")} then ',' || ${pick(["'twelve'", "'douze euros'", "'12.50 EUR'", "'N/A'", "'$19.99'"])}
                  when kind in ${slotsOf("amount_negative")} then ',' || ${negative}
                  else ',' || printf('%.2f', cents / 100) end ||
             case when kind in ${slotsOf("extra_column")} then ',gift' else '' end as text
      from (select i,
                   1 + (hash(i, 'customer') % ${customersFor(rows)})::bigint as customer,
                   (hash(i, 'day') % ${DAYS})::integer as day,
                   1 + (hash(i, 'cds') % 20)::integer as cds,
                   (hash(i, 'amount') % 50001)::integer as cents,
                   case when i % 100 = hash(i // 100, 'bad') % 100 then (hash(i, 'kind') % ${SLOTS})::integer end as kind,
                   (hash(i, 'variant') % 60)::integer as variant
            from range(${rows}) r(i))`);
    // One VARCHAR column holding the whole line, written with a tab delimiter: nothing is quoted
    // (the lines hold no tab, quote or line break), and the column's name is the header line.
    await connection.run(
      `copy (select text as "${HEADER}" from g order by line) to ${lit(partial)} (format csv, header true, delimiter '\t', quote '"')`,
    );
    const expected = await connection.runAndReadAll(`select line::varchar || ':' || codes from g where kind is not null order by line`);
    const entries = expected.getRowsJS().map((r) => `${String(r[0])}\n`);
    writeFileSync(`${file}.expected.txt`, entries.join(""));
    const defects = await connection.runAndReadAll(`select defect, count(*)::integer from g where kind is not null group by defect`);
    writeFileSync(
      `${file}.defects.json`,
      JSON.stringify({ rows, defects: Object.fromEntries(defects.getRowsJS().map((r) => [String(r[0]), Number(r[1])])) }, null, 2) + "\n",
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  renameSync(partial, file);
}

/** The cached CSV of `rows` rows (generated on first use), what its bad lines must give, and a line saying which. */
export async function ensureCsv(rows: number, dataDir: string): Promise<{ file: string; note: string; expected: Expected }> {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, `cdnow-bad-${rows}-v${DATA_VERSION}.csv`);
  const size = (): string => `${fmt(statSync(file).size / 1e6, 0)} MB`;
  const complete = (): boolean => [file, `${file}.expected.txt`, `${file}.defects.json`].every((f) => existsSync(f));
  let note: string;
  if (complete()) note = `CSV: ${file} (cached, ${size()})`;
  else {
    rmSync(file, { force: true });
    process.stderr.write(`generating ${rows.toLocaleString("en-US")} rows into ${file} ...`);
    const started = performance.now();
    await generate(file, rows);
    process.stderr.write("\r" + " ".repeat(160) + "\r");
    note = `CSV: ${file} (generated in ${fmt((performance.now() - started) / 1000, 1)} s, ${size()})`;
  }
  const meta = JSON.parse(readFileSync(`${file}.defects.json`, "utf8")) as { rows: number; defects: Record<string, number> };
  const entries = readFileSync(`${file}.expected.txt`, "utf8").split("\n").filter(Boolean);
  return { file, note, expected: { rows: meta.rows, defects: meta.defects, entries } };
}

// ---------------------------------------------------------------------------------------------
// Timing and the outcome compared between the implementations

/** Wall and CPU time (all threads of the process, DuckDB's included) of a span. */

/** What every implementation is checked on. */
export interface Outcome {
  readonly clean: number;
  readonly quarantined: number;
  /** Reasons given, by code (a record with two reasons counts in both). */
  readonly reasons: Readonly<Record<string, number>>;
  /** One per quarantined record, `line:CODE,CODE` (codes sorted), sorted by line. */
  readonly entries: readonly string[];
}

/** A short hash of the entries, to print. */
export function entriesHash(entries: readonly string[]): string {
  return createHash("sha256").update(entries.join("\n")).digest("hex").slice(0, 16);
}

/** Sorts `line:codes` entries by line (sorting their codes), as Outcome.entries are. */
export function normalizeEntries(entries: Iterable<string>): string[] {
  return [...entries]
    .map((e) => {
      const at = e.indexOf(":");
      const codes = e.slice(at + 1);
      return { line: Number(e.slice(0, at)), codes: codes ? codes.split(",").sort().join(",") : "" };
    })
    .sort((a, b) => a.line - b.line)
    .map((e) => `${e.line}:${e.codes}`);
}

/** The reasons counted from the entries (the generator's expectation has no other source). */
export function reasonsOf(entries: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of entries) for (const code of e.slice(e.indexOf(":") + 1).split(",")) if (code) out[code] = (out[code] ?? 0) + 1;
  return out;
}

/** How `a` differs from `b`, one item per difference, with up to `show` differing lines; empty when equal. */
export function outcomeDifferences(a: Outcome, b: Outcome, show = 5): string[] {
  const out: string[] = [];
  if (a.clean !== b.clean) out.push(`clean rows ${a.clean} vs ${b.clean}`);
  if (a.quarantined !== b.quarantined) out.push(`quarantined rows ${a.quarantined} vs ${b.quarantined}`);
  for (const code of new Set([...Object.keys(a.reasons), ...Object.keys(b.reasons)])) {
    if ((a.reasons[code] ?? 0) !== (b.reasons[code] ?? 0)) out.push(`${code} ${a.reasons[code] ?? 0} vs ${b.reasons[code] ?? 0}`);
  }
  if (entriesHash(a.entries) !== entriesHash(b.entries)) {
    const byLine = (entries: readonly string[]): Map<string, string> => new Map(entries.map((e) => e.split(":", 2) as [string, string]));
    const left = byLine(a.entries);
    const right = byLine(b.entries);
    const lines = [...new Set([...left.keys(), ...right.keys()])].filter((l) => left.get(l) !== right.get(l));
    lines.sort((x, y) => Number(x) - Number(y));
    const shown = lines
      .slice(0, show)
      .map((l) => `line ${l}: ${left.get(l) ?? "(not quarantined)"} vs ${right.get(l) ?? "(not quarantined)"}`);
    out.push(`bad lines hash ${entriesHash(a.entries)} vs ${entriesHash(b.entries)}, ${lines.length} lines differ: ${shown.join("; ")}`);
  }
  return out;
}

/** The clean row count, the quarantine's counts and entries, with SQL over a quarantine table. */
async function readOutcome(
  connection: DuckDBConnection,
  cleanTable: string,
  quarantine: string,
  columns: { line: string; codes: string },
): Promise<Outcome> {
  const one = async (query: string): Promise<unknown[][]> => (await connection.runAndReadAll(query)).getRowsJS();
  const [counts] = await one(`select (select count(*) from ${cleanTable})::bigint, (select count(*) from ${quarantine})::bigint`);
  const reasons = await one(
    `select code, count(*)::bigint from (select unnest(${columns.codes}) as code from ${quarantine}) group by code`,
  );
  const entries = await one(
    `select ${columns.line}::varchar || ':' || array_to_string(list_sort(${columns.codes}), ',') from ${quarantine} order by ${columns.line}`,
  );
  return {
    clean: Number(counts?.[0]),
    quarantined: Number(counts?.[1]),
    reasons: Object.fromEntries(reasons.map((r) => [String(r[0]), Number(r[1])])),
    entries: entries.map((r) => String(r[0])),
  };
}

export interface Sample {
  readonly total: Timing;
  readonly outcome: Outcome;
  /** Inconsistencies found besides the outcome (Strata: its reported counts against its tables). */
  readonly notes?: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// The checks written by hand in DuckDB SQL

/**
 * Each column's typed value (NULL when the text does not convert) and its reason, in the order of
 * the columns. Strict: the date with strptime and the format (a plain cast takes 1997/03/15), the
 * int from whole-number text only (a cast rounds 2.5 to 3 and reads 1e1 and 0x10).
 */
const TYPED = `c0 as customer_id,
       try_strptime(c1, '${DATE_FORMAT}')::date as date,
       case when regexp_full_match(c2, '-?[0-9]+') then try_cast(c2 as integer) end as cds,
       try_cast(c3 as double) as amount`;
const REASON_LIST = `list_filter([
         case when c0 is null then {'column': 'customer_id', 'code': 'MISSING_VALUE'} end,
         case when c1 is null then {'column': 'date', 'code': 'MISSING_VALUE'} when date is null then {'column': 'date', 'code': 'TYPE_MISMATCH'} end,
         case when c2 is null then {'column': 'cds', 'code': 'MISSING_VALUE'} when cds is null then {'column': 'cds', 'code': 'TYPE_MISMATCH'}
              when cds < 0 then {'column': 'cds', 'code': 'OUT_OF_RANGE'} end,
         case when c3 is null then {'column': 'amount', 'code': 'MISSING_VALUE'} when amount is null then {'column': 'amount', 'code': 'TYPE_MISMATCH'}
              when amount < 0 then {'column': 'amount', 'code': 'OUT_OF_RANGE'} end
       ], lambda r: r is not null)`;

/**
 * The hand-written statements, in order: one pass over the CSV (all VARCHAR; lines with another
 * count of fields go to DuckDB's reject tables) into an in-memory temp table with the typed columns
 * and, for bad records only, the raw line and the reasons; then the clean table and the quarantine.
 * Line numbers: the record's position among the records read, plus the header line, plus the
 * rejected lines before it (an ASOF join over the rejects, which are numbered by physical line).
 */
export function handSqlStatements(file: string): string[] {
  const read =
    `read_csv(${lit(file)}, header = true, auto_detect = false, delim = ',', quote = '', escape = '', store_rejects = true, ` +
    `columns = {${COLUMNS.map((_c, i) => `'c${i}': 'VARCHAR'`).join(", ")}})`;
  const ok = `c0 is not null and date is not null and cds >= 0 and amount >= 0`;
  return [
    `create temp table checked as
     select customer_id, date, cds, amount, bad,
            case when bad then concat_ws(',', coalesce(c0, ''), coalesce(c1, ''), coalesce(c2, ''), coalesce(c3, '')) end as raw,
            case when bad then ${REASON_LIST} end as reasons
     from (select *, not coalesce(${ok}, false) as bad from (select c0, c1, c2, c3, ${TYPED} from ${read}))`,
    `create table tx as select customer_id, date, cds, amount from checked where not bad`,
    `create table quarantine as
     with rejected as (
       select line, csv_line as raw,
              case when bool_or(error_type = 'TOO MANY COLUMNS') then 'TOO_MANY_VALUES'
                   when bool_or(error_type = 'MISSING COLUMNS') then 'TOO_FEW_VALUES'
                   when bool_or(error_type = 'INVALID ENCODING') then 'INVALID_ENCODING'
                   else 'MALFORMED_RECORD' end as code
       from reject_errors group by line, csv_line
     ), shifts as (
       -- the m-th rejected line r comes after r - m - 1 records read: records from number r - m on are shifted by m
       -- (adjacent rejected lines share a from_record: the largest m counts)
       select from_record, max(shift) as shift
       from (select line - row_number() over (order by line) as from_record, row_number() over (order by line) as shift from rejected)
       group by from_record
     ), bad as (
       select record, raw, reasons from (select row_number() over () as record, bad, raw, reasons from checked) where bad
     )
     select (record + 1 + coalesce(s.shift, 0))::bigint as line, raw, reasons
     from bad asof left join shifts s on s.from_record <= bad.record
     union all
     select line::bigint, raw, [{'column': null::varchar, 'code': code}] from rejected
     order by line`,
  ];
}

/** Hand-written DuckDB SQL in a fresh database file under `dir`: timed from opening it to both tables written. */
export async function runHandSql(dir: string, file: string): Promise<Sample> {
  const stop = timer();
  const instance = await DuckDBInstance.create(join(dir, "hand.duckdb"));
  const connection = await instance.connect();
  try {
    for (const statement of handSqlStatements(file)) await connection.run(statement);
    const total = stop();
    return {
      total,
      outcome: await readOutcome(connection, "tx", "quarantine", { line: "line", codes: "list_transform(reasons, lambda r: r.code)" }),
    };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

// ---------------------------------------------------------------------------------------------
// Strictness probe: texts on which "is it a valid value" is easy to get different

/** Odd texts per column; each is checked in an otherwise good record by each implementation. */
export const PROBE: Readonly<Record<(typeof COLUMNS)[number], readonly string[]>> = {
  customer_id: ["0000001", "", " ", "N/A"],
  date: [
    "19970315",
    "1997/03/15",
    "19971345",
    "March 3",
    "1997-03-15",
    "19970230",
    "19960229",
    "1997315",
    "1997031",
    "199703150",
    " 19970315",
    "19970315 ",
    "199703 5",
    "970315",
    "00000101",
    "",
  ],
  cds: ["3", "07", "-1", "-0", "2.5", "3.0", "two", "1e1", "+7", " 7", "0x10", "1_000", "99999999999", ""],
  amount: ["12.50", "-12.34", "-0.00", ".5", "12.", "1e3", "twelve", "douze euros", "N/A", "$19.99", "1_000", "nan", "inf", " 12", ""],
};
const PROBE_GOOD = { customer_id: "0000001", date: "19970315", cds: "3", amount: "12.50" } as const;

/** The probe as records (text; "" is a missing value), with the column each one tests. */
export function probeRecords(): { column: string; text: string; record: string[] }[] {
  return COLUMNS.flatMap((column) =>
    PROBE[column].map((text) => ({ column, text, record: COLUMNS.map((c) => (c === column ? text : PROBE_GOOD[c])) })),
  );
}

/** The hand SQL's reasons (`column:CODE`) for each probe record, from the same expressions as its load. */
export async function probeHandSql(records: readonly (readonly string[])[]): Promise<string[][]> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    const values = records.map((r, i) => `(${i}, ${r.map((v) => (v === "" ? "null" : lit(v))).join(", ")})`).join(", ");
    const reader = await connection.runAndReadAll(
      `select list_transform(${REASON_LIST}, lambda r: r.column || ':' || r.code)
       from (select i, c0, c1, c2, c3, ${TYPED} from (values ${values}) v(i, c0, c1, c2, c3)) order by i`,
    );
    return reader.getRowsJS().map((r) => (r[0] as string[]).map(String));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

// ---------------------------------------------------------------------------------------------
// Strata

/**
 * One Strata run in a fresh project folder under `dir`: `.strata/` (metadata in SQLite, the
 * `warehouse` DuckDB file) and a `files` storage `lake` on the CSV's folder; a pipeline with one
 * ingest step from the raw dataset (quarantine on) to the warehouse dataset `tx`. Only runPipeline
 * is timed; the outcome is read afterwards (strataOutcome), with each bad line's `column:CODE`
 * reasons when `withReasons`.
 */
export async function runStrata(
  dir: string,
  file: string,
  withReasons = false,
): Promise<Sample & { reasonsByLine?: Map<number, string[]> }> {
  // Loaded here, not at the top: the hand SQL and pandas then run even while src/ is mid-edit.
  const { dataset, t, pipeline, ingest, runPipeline, openWorkspace, storage } = await import("../src/index.js");
  const projectDir = join(dir, "project");
  const stateDir = join(projectDir, ".strata");
  mkdirSync(stateDir, { recursive: true });
  const lake = storage("lake", { technology: "files", format: "files", options: { path: dirname(file) } });
  const schema = { customer_id: t.string(), date: t.date(DATE_FORMAT), cds: t.int().min(0), amount: t.double().min(0) };
  // No quoting, as the hand-written SQL reads it (the generated file has no quote characters).
  const raw = dataset(STRATA_RAW, { storage: "lake", path: basename(file), csv: { header: true, quote: "" }, schema, quarantine: true });
  const clean = dataset(STRATA_CLEAN, { storage: "warehouse", schema });
  const p = pipeline("validate_bench", {}, () => {
    ingest("ingest", { from: raw, to: clean });
  });
  const workspace = openWorkspace(stateDir, { projectDir, storages: [lake] });
  try {
    const stop = timer();
    const result = await runPipeline(p, { workspace });
    const total = stop();
    try {
      if (result.status !== "succeeded") {
        const failed = result.steps.find((s) => s.error);
        throw new Error(`the Strata run ${result.status}: ${failed?.error?.message ?? result.error?.message ?? "no error recorded"}`);
      }
      return { total, ...(await strataOutcome(stateDir, result.validations, withReasons)) };
    } finally {
      await result.close();
    }
  } finally {
    await workspace.close();
  }
}

const STRATA_RAW = "raw_tx";
const STRATA_CLEAN = "tx";

/**
 * Strata's outcome, read with SQL from the warehouse file after the run: clean rows from the live
 * version of `tx` (view `datasets.tx`), the rejects of `raw_tx` from `quarantine.records` (its
 * `source_line`, and `reasons`: a JSON array of objects with a `code`). The counts the run
 * reports (`result.validations`) are compared with them, each difference a note.
 */
async function strataOutcome(
  stateDir: string,
  validations: readonly ValidationReport[],
  withReasons: boolean,
): Promise<{ outcome: Outcome; notes: string[]; reasonsByLine?: Map<number, string[]> }> {
  // The same database instance as the workspace's (DuckDB's instance cache).
  const instance = await DuckDBInstance.fromCache(join(stateDir, "warehouse.duckdb"));
  const connection = await instance.connect();
  const rejects = `(select * from quarantine.records where dataset = '${STRATA_RAW}')`;
  let outcome: Outcome;
  let reasonsByLine: Map<number, string[]> | undefined;
  try {
    outcome = await readOutcome(connection, `"datasets"."${STRATA_CLEAN}"`, rejects, {
      line: "source_line",
      codes: `json_extract_string(reasons, '$[*].code')`,
    });
    if (withReasons) {
      const reader = await connection.runAndReadAll(
        `select source_line, json_extract_string(reasons, '$[*].column'), json_extract_string(reasons, '$[*].code') from ${rejects}`,
      );
      reasonsByLine = new Map(
        reader.getRowsJS().map((r) => {
          const columns = r[1] as (string | null)[];
          return [Number(r[0]), (r[2] as string[]).map((code, i) => `${columns[i] ?? ""}:${code}`)];
        }),
      );
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  const report = validations.find((v) => v.kind === "records" && v.dataset === STRATA_RAW);
  const extra = reasonsByLine ? { reasonsByLine } : {};
  if (!report?.counts) return { outcome, notes: [`the run reports no record counts for ${STRATA_RAW}`], ...extra };
  const reported: Outcome = {
    clean: report.counts.clean,
    quarantined: report.counts.quarantined,
    reasons: report.reasons.reduce<Record<string, number>>((out, r) => ({ ...out, [r.code]: (out[r.code] ?? 0) + r.count }), {}),
    entries: outcome.entries,
  };
  const notes = outcomeDifferences(reported, outcome).map((d) => `reported by the run vs its tables: ${d}`);
  if (report.counts.read !== report.counts.clean + report.counts.quarantined)
    notes.push(`read ${report.counts.read} is not clean + quarantined`);
  return { outcome, notes, ...extra };
}

/** Strata's reasons (`column:CODE`) for each probe record: one small run on a CSV of them, under `dir`. */
export async function probeStrata(dir: string, records: readonly (readonly string[])[]): Promise<string[][]> {
  const data = join(dir, "data");
  mkdirSync(data, { recursive: true });
  const file = join(data, "probe.csv");
  writeFileSync(file, [HEADER, ...records.map((r) => r.join(","))].map((l) => `${l}\n`).join(""));
  const { reasonsByLine } = await runStrata(join(dir, "run"), file, true);
  return records.map((_r, i) => reasonsByLine?.get(i + 2) ?? []);
}
