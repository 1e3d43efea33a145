import { isAbsolute, relative, resolve, sep } from "node:path";
import type { ColumnSpec } from "../../data/column-types.js";
import { StrataError } from "../../errors/strata-error.js";
import { EXTRA_COLUMN, type UnknownFields } from "../../validation/record-rules.js";
import type { ReasonCode } from "../../validation/reason-codes.js";

/**
 * Raw input files of a dataset in a `files` storage, and the DuckDB SQL that reads them. Pure:
 * no I/O here. file-reader.ts runs these queries; DuckDB is the reading engine for every target.
 */

export type FileFormat = "csv" | "jsonl" | "parquet";

export interface CsvOptions {
  /** The first line (after `skip`) names the columns: the schema's names, in any order. Default false. */
  readonly header?: boolean;
  /** One to four characters; "," by default. Ignored in whitespace mode. */
  readonly delimiter?: string;
  /** Fields are separated by runs of spaces or tabs, leading and trailing ones ignored; no quoting. */
  readonly whitespace?: boolean;
  /** The quote character, `"` by default (doubled inside a quoted field); "" for none. */
  readonly quote?: string;
  /** Lines to skip at the top of each file, before the header. */
  readonly skip?: number;
  /** "utf-8" by default. */
  readonly encoding?: "utf-8" | "utf-16" | "latin-1";
}

export interface FileSource {
  readonly storage: string;
  readonly dataset: string;
  /** The storage's folder, absolute. */
  readonly folder: string;
  /** A file or a glob (`*`, `**`, `?`, `[ab]`), relative to `folder`. */
  readonly path: string;
  readonly format: FileFormat;
  readonly csv?: CsvOptions;
  readonly schema: Readonly<Record<string, ColumnSpec>>;
  /** Fields the schema does not name: the record is rejected (default), they are dropped, or kept in `_extra`. */
  readonly unknownFields?: UnknownFields;
  /** Cross-field rules written in SQL, checked with the columns' own checks. */
  readonly rules?: readonly { readonly name: string; readonly predicate: string; readonly message: string }[];
}

/** Files that share one column order: each group is one reader call. */
export interface FileGroup {
  /** Absolute paths. */
  readonly files: readonly string[];
  /** The columns of these files in file order: every schema name, and any the schema does not name. */
  readonly columns: readonly string[];
}

/** What probing the files found; the queries below are built from it. */
export interface FileLayout {
  /** Every matched file, absolute, sorted. */
  readonly files: readonly string[];
  /** Files with content, grouped by column order. A CSV file with no header line is in none. */
  readonly groups: readonly FileGroup[];
  /** Parquet: each column's type in the first file. A date or timestamp format applies only to text. */
  readonly types?: Readonly<Record<string, string>>;
}

/** Internal column names of the raw query: schema columns become v0, v1...; none can clash. */
export const FILE = "__file";
const LINE = "__line";
export const REC = "__rec";
export const PROBLEM = "__problem";
export const RAW = "__raw";
export const UNKNOWN = "__unknown";
export const EXTRA = "__extra";
/** Schema columns as read; user column names may not start with "__", so none can clash. */
export const value = (i: number): string => `__v${i}`;

export const sqlString = (text: string): string => `'${text.replace(/'/g, "''")}'`;
export const sqlIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const sqlList = (items: readonly string[]): string => `[${items.map(sqlString).join(", ")}]`;

/** Problems with a source's own options (not its files), one message each. */
export function sourceProblems(source: FileSource): string[] {
  const problems: string[] = [];
  const names = Object.keys(source.schema);
  if (names.length === 0) problems.push("the schema has no columns");
  if (!isAbsolute(source.folder)) problems.push(`the folder must be absolute, not "${source.folder}"`);
  if (source.path.trim() === "") problems.push("the path is empty");
  else if (isAbsolute(source.path) || source.path.split(/[\\/]/).includes("..")) {
    problems.push(`the path "${source.path}" must stay inside the storage's folder (relative, without "..")`);
  }
  const csv = source.csv ?? {};
  if (source.format !== "csv" && source.csv !== undefined) problems.push(`csv options are for the csv format, not ${source.format}`);
  if (
    csv.delimiter !== undefined &&
    !csv.whitespace &&
    (csv.delimiter.length === 0 || csv.delimiter.length > 4 || /[\r\n]/.test(csv.delimiter))
  ) {
    problems.push(`the delimiter must be one to four characters other than line ends, not ${JSON.stringify(csv.delimiter)}`);
  }
  if (csv.quote !== undefined && csv.quote.length > 1)
    problems.push(`the quote must be one character or "", not ${JSON.stringify(csv.quote)}`);
  if (csv.skip !== undefined && !(Number.isInteger(csv.skip) && csv.skip >= 0))
    problems.push(`skip must be a whole number of lines, not ${csv.skip}`);
  if (csv.encoding !== undefined && !["utf-8", "utf-16", "latin-1"].includes(csv.encoding)) {
    problems.push(`the encoding must be utf-8, utf-16 or latin-1, not ${JSON.stringify(csv.encoding)}`);
  }
  if (source.format === "jsonl") {
    for (const name of names)
      if (name.includes('"')) problems.push(`column ${JSON.stringify(name)}: a JSON key with a double quote is not supported`);
  }
  return problems;
}

/** Throws DATASET_INVALID when the source's options are wrong. */
export function assertSource(source: FileSource): void {
  const problems = sourceProblems(source);
  if (problems.length > 0) {
    throw new StrataError("DATASET_INVALID", `storage "${source.storage}", dataset "${source.dataset}": ${problems.join("; ")}`, {
      details: { storage: source.storage, dataset: source.dataset, problems },
    });
  }
}

/** The absolute file or glob looked for. */
export function absolutePattern(source: FileSource): string {
  return resolve(source.folder, source.path);
}

/** A matched file as messages show it: relative to the folder, with forward slashes. */
export function relativeFile(source: FileSource, file: string): string {
  return relative(source.folder, file).split(sep).join("/");
}

/** The files the path or glob matches: one column `file`, sorted. */
export function globQuery(source: FileSource): string {
  return `select file from glob(${sqlString(absolutePattern(source))}) order by file`;
}

const csvOptions = (source: FileSource) => {
  const csv = source.csv ?? {};
  return {
    header: csv.header ?? false,
    delimiter: csv.delimiter ?? ",",
    quote: csv.quote ?? '"',
    skip: csv.skip ?? 0,
    whitespace: csv.whitespace ?? false,
    encoding: csv.encoding ?? "utf-8",
  };
};

// The file name costs a string per row: a load, which needs no file names, leaves it out.
const fileColumn = (withFile: boolean): string => (withFile ? `, filename = '${FILE}'` : "");

/**
 * Whole lines as one column: what whitespace mode and JSON lines read, and how exact line
 * numbers are counted (blank lines come as NULL and are counted). No sniffing: every option is given.
 */
function readLines(source: FileSource, files: readonly string[], skip: number, withFile: boolean, errors: ReaderErrors): string {
  const { encoding } = csvOptions(source);
  return (
    `read_csv(${sqlList(files)}, auto_detect = false, header = false, columns = {'line': 'VARCHAR'}, delim = chr(1), quote = '', escape = '', ` +
    `skip = ${skip}, encoding = ${sqlString(encoding)}${fileColumn(withFile)}${errorOptions(errors)})`
  );
}

/** Delimited CSV with the columns c0..cN as text. auto_detect off: a bad line fails with its line number. */
function readDelimited(source: FileSource, files: readonly string[], width: number, withFile: boolean, errors: ReaderErrors): string {
  const o = csvOptions(source);
  const columns = Array.from({ length: width }, (_, i) => `'c${i}': 'VARCHAR'`).join(", ");
  return (
    `read_csv(${sqlList(files)}, auto_detect = false, header = ${o.header}, skip = ${o.skip}, columns = {${columns}}, ` +
    `delim = ${sqlString(o.delimiter)}, quote = ${sqlString(o.quote)}, escape = ${sqlString(o.quote)}, encoding = ${sqlString(o.encoding)}${fileColumn(withFile)}${errorOptions(errors)})`
  );
}

/**
 * The first line of each file after `skip` (one row per non-empty file: `file`, `line`), for
 * CSV headers. LIMIT 1 per file stops each read after its first buffer.
 */
export function headerLinesQuery(source: FileSource, files: readonly string[]): string {
  const { skip } = csvOptions(source);
  return files
    .map((f) => `select * from (select ${sqlString(f)} as file, line from ${readLines(source, [f], skip, true, "skip")} limit 1)`)
    .join("\nunion all\n");
}

/** Column names and types of each Parquet file (`file`, `name`, `type`); reads only the footers. */
export function parquetColumnsQuery(files: readonly string[]): string {
  return files
    .map(
      (f) =>
        `select ${sqlString(f)} as file, column_name as name, column_type as type from (describe select * from read_parquet(${sqlString(f)}))`,
    )
    .join("\nunion all\n");
}

/** The names in a header line, as the reader will see them (BOM dropped, quotes undone, trimmed). */
export function splitHeader(source: FileSource, line: string): string[] {
  const o = csvOptions(source);
  const text = line.replace(/^\uFEFF/, "");
  if (o.whitespace) return text.trim() === "" ? [] : text.trim().split(/\s+/);
  const names: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    let step = 1;
    if (quoted && text.startsWith(o.quote + o.quote, i)) {
      field += o.quote;
      step = 2;
    } else if (quoted && text.startsWith(o.quote, i)) quoted = false;
    else if (!quoted && o.quote !== "" && text.startsWith(o.quote, i)) quoted = true;
    else if (!quoted && text.startsWith(o.delimiter, i)) {
      names.push(field.trim());
      field = "";
      step = o.delimiter.length;
    } else field += text[i];
    i += step;
  }
  names.push(field.trim());
  return names;
}

/**
 * How a file's columns keep it from being read ("missing columns "a", "b"; duplicate column "c"),
 * or null. Columns the schema does not name are not a reason: `unknownFields` decides for each record.
 */
export function columnDifferences(names: readonly string[], schema: Readonly<Record<string, ColumnSpec>>): string | null {
  const declared = Object.keys(schema);
  const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
  const missing = declared.filter((n) => !names.includes(n));
  const parts: string[] = [];
  const list = (items: string[]): string => [...new Set(items)].map((n) => JSON.stringify(n)).join(", ");
  if (missing.length) parts.push(`missing column${missing.length > 1 ? "s" : ""} ${list(missing)}`);
  if (duplicates.length) parts.push(`duplicate column${duplicates.length > 1 ? "s" : ""} ${list(duplicates)}`);
  if (!parts.length) return null;
  // Not a reason by itself, but often the missing column under another name.
  const unexpected = names.filter((n) => !(n in schema));
  if (unexpected.length)
    parts.splice(missing.length ? 1 : 0, 0, `unexpected column${unexpected.length > 1 ? "s" : ""} ${list(unexpected)}`);
  return parts.join("; ");
}

// ---------------------------------------------------------------------------------------------
// The raw query: every schema column as it is in the file (text, or Parquet's own type), with
// the record's place, a record-level problem (a malformed line) and the fields the schema does
// not name. One SELECT per group of files.

const lineWithin = `ordinality - min(ordinality) over (partition by ${FILE}) + 1`;

/**
 * How records are told apart: not at all (a load), or by file. Line formats are then numbered as
 * they are read (`__rec`); delimited files afterwards, by their order in a table.
 */
export type Position = "none" | "file";

/**
 * What the reader does with a record it cannot split (broken quoting, too many values, bad bytes):
 * fail the query, skip it, or skip it and keep it in a named temporary rejects table of the connection.
 */
export type ReaderErrors = "fail" | "skip" | { readonly rejectsTable: string; readonly rejectsScan: string };

export interface RawOptions {
  readonly position: Position;
  readonly errors: ReaderErrors;
}

let skipped = 0;

function errorOptions(errors: ReaderErrors): string {
  if (errors === "fail") return "";
  // Not ignore_errors: after some errors (a quoted value followed by text) it stops reading the
  // file, silently. store_rejects reads on; its temporary table dies with the connection.
  if (errors === "skip") {
    const n = ++skipped;
    return `, store_rejects = true, rejects_table = 'strata_skipped_${n}', rejects_scan = 'strata_skipped_scan_${n}'`;
  }
  return `, store_rejects = true, rejects_table = ${sqlString(errors.rejectsTable)}, rejects_scan = ${sqlString(errors.rejectsScan)}`;
}

/** Lines before a file's first record: skipped ones and the header. */
export function linesBefore(source: FileSource): number {
  const o = csvOptions(source);
  return source.format === "csv" ? o.skip + (o.header ? 1 : 0) : 0;
}

/**
 * Physical line numbers of the records of delimited CSV files: `__file`, `__rec` (the record's
 * number within its file, as the reader counts them) and `__line`. A record starts at a line that
 * is not blank and not inside a quoted field (an even count of quote characters before it), so
 * blank lines and quoted line breaks do not shift the numbers. Escapes other than a doubled quote would.
 */
export function recordLinesQuery(source: FileSource, files: readonly string[]): string {
  const o = csvOptions(source);
  const first = o.skip + (o.header ? 1 : 0);
  const quotes = o.quote === "" ? "0" : `length(line) - length(replace(line, ${sqlString(o.quote)}, ''))`;
  return `select ${FILE}, ${LINE}, row_number() over (partition by ${FILE} order by ${LINE}) as ${REC} from (
      select ${FILE}, line, ${LINE} + ${o.skip} as ${LINE},
             coalesce(sum(coalesce(${quotes}, 0)) over (partition by ${FILE} order by ${LINE} rows between unbounded preceding and 1 preceding), 0) % 2 as __open
      from (select ${FILE}, line, ${lineWithin} as ${LINE} from ${readLines(source, files, o.skip, true, "skip")} with ordinality))
    where line is not null and __open = 0 and ${LINE} > ${first}`;
}

/** Per file, how many records the delimited reader gives (`file`, `n`): records it could not split are not counted. */
export function recordCountsQuery(source: FileSource, layout: FileLayout): string {
  return layout.groups
    .map((g) => `select ${FILE} as file, count(*) as n from ${readDelimited(source, g.files, g.columns.length, true, "skip")} group by 1`)
    .join("\nunion all\n");
}

const noUnknown = `null::varchar[] as ${UNKNOWN}`;
const noExtra = `null::json as ${EXTRA}`;

/** For files whose columns include ones the schema does not name: the unknown-fields columns, from `valueOf(position)`. */
function extraColumns(source: FileSource, group: FileGroup, valueOf: (position: number) => string): string {
  const unknown = group.columns.filter((c) => !(c in source.schema));
  if (unknown.length === 0) return `${noUnknown}, ${noExtra}`;
  const policy = source.unknownFields ?? "reject";
  const pairs = unknown.map((c) => `${sqlString(c)}, ${valueOf(group.columns.indexOf(c))}`).join(", ");
  return `${sqlList(unknown)} as ${UNKNOWN}, ${policy === "keep" ? `json_object(${pairs})` : "null::json"} as ${EXTRA}`;
}

function groupQuery(source: FileSource, layout: FileLayout, group: FileGroup, options: RawOptions): string {
  const names = Object.keys(source.schema);
  const position = (name: string): number => group.columns.indexOf(name);
  const o = csvOptions(source);
  const single = group.files.length === 1;
  // Only delimited files are numbered afterwards; line formats number lines as they read them.
  const byRecord = options.position === "file" && (source.format !== "csv" || !!o.whitespace);
  const byFile = options.position !== "none";
  const fileExpr = byFile ? (single ? `${sqlString(group.files[0] ?? "")} as ${FILE}` : FILE) : `null::varchar as ${FILE}`;
  const withFile = byFile && !single;
  if (source.format === "parquet") {
    const unionByName = layout.files.length > 1 ? ", union_by_name = true" : "";
    const fileRow = byRecord ? ", file_row_number = true" : "";
    const cols = names.map((n, i) => `${sqlIdent(n)} as ${value(i)}`).join(", ");
    const extras = extraColumns(source, group, (p) => `to_json(${sqlIdent(group.columns[p] ?? "")})`);
    return `select ${fileExpr}, ${byRecord ? "file_row_number + 1" : "null::bigint"} as ${REC}, null::varchar as ${PROBLEM}, null::varchar as ${RAW}, ${extras}, ${cols}
      from read_parquet(${sqlList(group.files)}${fileColumn(withFile)}${fileRow}${unionByName})`;
  }
  if (source.format === "csv" && !o.whitespace) {
    const cols = names.map((n, i) => `r.c${position(n)} as ${value(i)}`).join(", ");
    const read = readDelimited(source, group.files, group.columns.length, withFile, options.errors);
    const extras = extraColumns(source, group, (p) => `r.c${p}`);
    const rec = byRecord ? (single ? "ordinality" : `row_number() over (partition by ${FILE} order by ordinality)`) : "null::bigint";
    return `select ${fileExpr}, ${rec} as ${REC}, null::varchar as ${PROBLEM}, null::varchar as ${RAW}, ${extras}, ${cols}
      from ${read}${byRecord ? " with ordinality" : ""} r`;
  }
  // Whole lines: whitespace-separated fields or JSON objects, trimmed once. Blank ones (NULL
  // when empty) are dropped after numbering, so record numbers are line numbers.
  const skip = o.skip + (source.format === "csv" && o.header ? 1 : 0);
  const read = readLines(source, group.files, skip, withFile, options.errors);
  const rec = byRecord ? (single ? "ordinality" : lineWithin) : "null::bigint";
  const numbered = `select ${fileExpr}, trim(line, ' \t\r') as line, ${rec} as ${REC} from ${read}${byRecord ? " with ordinality" : ""}`;
  const nonBlank = `(select * from (${numbered}) where line <> '')`;
  const raw = byRecord ? `line as ${RAW}` : `null::varchar as ${RAW}`;
  if (source.format === "csv") {
    const cols = names.map((n, i) => `__parts[${position(n) + 1}] as ${value(i)}`).join(", ");
    const width = group.columns.length;
    const extras = extraColumns(source, group, (p) => `__parts[${p + 1}]`);
    return `select ${FILE}, ${REC}, case when len(__parts) < ${width} then 'TOO_FEW_VALUES:' || len(__parts) || ' values, expected ${width}'
        when len(__parts) > ${width} then 'TOO_MANY_VALUES:' || len(__parts) || ' values, expected ${width}' end as ${PROBLEM}, ${RAW}, ${extras}, ${cols}
      from (select ${FILE}, ${REC}, ${raw}, string_split_regex(line, '\\s+') as __parts from ${nonBlank})`;
  }
  // JSON lines: each path extracted once per line; JSON-typed columns keep their JSON text. A
  // column's path (`t.string().path("customer.id")`) reaches into nested objects.
  const path = (n: string): string => jsonPath(n, source.schema[n]?.path);
  const jsonNames = names.filter((n) => source.schema[n]?.kind === "json");
  const guard = (expr: string): string => `case when not json_valid(line) then null when json_type(line) = 'OBJECT' then ${expr} end`;
  const cols = names.map((n, i) => {
    const j = jsonNames.indexOf(n);
    // A JSON null is a missing value, not the text "null".
    return j >= 0
      ? `case when json_type(__json[${j + 1}]) <> 'NULL' then __json[${j + 1}]::varchar end as ${value(i)}`
      : `__text[${i + 1}] as ${value(i)}`;
  });
  const json = jsonNames.length ? `, ${guard(`json_extract(line, ${sqlList(jsonNames.map(path))})`)} as __json` : "";
  // Top-level keys: a nested path claims its first key.
  const known = [...new Set(names.map((n) => (source.schema[n]?.path ?? n).split(".")[0] ?? n))];
  const unknownList = `list_filter(json_keys(line), k -> not list_contains(${sqlList(known)}, k))`;
  const policy = source.unknownFields ?? "reject";
  const removeKnown = `'{${known.map((k) => `${JSON.stringify(k).replace(/'/g, "''")}:null`).join(",")}}'`;
  const extra =
    policy === "keep" ? guard(`case when len(${unknownList}) > 0 then json_merge_patch(line, ${removeKnown}) end`) : "null::json";
  return `select ${FILE}, ${REC}, ${PROBLEM}, ${RAW}, case when len(__unknown) > 0 then __unknown end as ${UNKNOWN}, ${EXTRA}, ${cols.join(", ")} from (
      select ${FILE}, ${REC}, ${raw},
             case when not json_valid(line) then 'MALFORMED_RECORD:not valid JSON' when json_type(line) <> 'OBJECT' then 'MALFORMED_RECORD:not a JSON object' end as ${PROBLEM},
             ${guard(unknownList)} as ${UNKNOWN}, ${extra} as ${EXTRA},
             ${guard(`json_extract_string(line, ${sqlList(names.map(path))})`)} as __text${json}
      from ${nonBlank})`;
}

/** A JSONPath for a column: its own key, or its dotted path into nested objects. */
function jsonPath(name: string, path: string | undefined): string {
  const keys = (path ?? name).split(".");
  return `$${keys.map((k) => `."${k}"`).join("")}`;
}

/**
 * Every record of every file: `__file` and `__rec` (with position "file", `__rec` for line formats), `__problem`
 * ("CODE:message" when the record cannot be split), `__raw` (the line, for line formats),
 * `__unknown` and `__extra` (fields the schema does not name), and the columns as read
 * (__v0.. in schema order).
 */
export function rawQuery(source: FileSource, layout: FileLayout, options: RawOptions): string {
  if (layout.groups.length > 0) return layout.groups.map((g) => groupQuery(source, layout, g, options)).join("\nunion all\n");
  // Nothing to read (only empty files): no rows, but the right columns.
  const cols = Object.keys(source.schema).map((_, i) => `null::varchar as ${value(i)}`);
  return `select null::varchar as ${FILE}, null::bigint as ${REC}, null::varchar as ${PROBLEM}, null::varchar as ${RAW}, ${noUnknown}, ${noExtra}, ${cols.join(", ")} where false`;
}

// ---------------------------------------------------------------------------------------------
// Coercion: one typed expression per column, NULL when the value does not fit.

const SQL_TYPES = {
  string: "VARCHAR",
  int: "INTEGER",
  bigint: "BIGINT",
  double: "DOUBLE",
  bool: "BOOLEAN",
  date: "DATE",
  timestamp: "TIMESTAMP",
  json: "JSON",
} as const;

export function sqlType(spec: ColumnSpec): string {
  return spec.kind === "decimal" ? `DECIMAL(${spec.precision ?? 18}, ${spec.scale ?? 2})` : SQL_TYPES[spec.kind];
}

/** What a column accepts, for messages: `"twelve" is not <expected>`. */
export function expectedOf(spec: ColumnSpec): string {
  const format = spec.format ? ` in the format ${JSON.stringify(spec.format)}` : "";
  switch (spec.kind) {
    case "string":
      return "a string";
    case "int":
      return "an int (a whole number of 32 bits)";
    case "bigint":
      return "a bigint (a whole number of 64 bits)";
    case "double":
      return "a double";
    case "decimal":
      return `a decimal(${spec.precision ?? 18}, ${spec.scale ?? 2})`;
    case "bool":
      return "a bool (true/false, t/f, 1/0, yes/no)";
    case "date":
      return format ? `a date${format}` : "a date (YYYY-MM-DD)";
    case "timestamp":
      return format ? `a timestamp${format}` : "a timestamp (YYYY-MM-DD hh:mm:ss)";
    case "json":
      return "valid JSON";
  }
}

/** The typed value of raw column `v` (NULL if it does not coerce); `sourceType` is Parquet's type, text otherwise. */
function typedExpr(spec: ColumnSpec, v: string, sourceType: string): string {
  const text = /^VARCHAR/i.test(sourceType);
  const type = sqlType(spec);
  switch (spec.kind) {
    case "string":
      return text ? v : `try_cast(${v} as VARCHAR)`;
    case "int":
    case "bigint":
      // DuckDB rounds "12.5" to 13 when casting: only whole numbers are accepted.
      if (text) return `case when regexp_full_match(${v}, '\\s*[+-]?[0-9]+\\s*') then try_cast(${v} as ${type}) end`;
      if (/DOUBLE|FLOAT|REAL|DECIMAL/i.test(sourceType)) return `case when ${v} = trunc(${v}) then try_cast(${v} as ${type}) end`;
      return `try_cast(${v} as ${type})`;
    case "date":
    case "timestamp":
      if (spec.format && text) return `try_cast(try_strptime(${v}, ${sqlString(spec.format)}) as ${type})`;
      return `try_cast(${v} as ${type})`;
    default:
      return `try_cast(${v} as ${type})`;
  }
}

/** A message piece: a value as JSON text ("twelve" with its quotes), or null as null. */
const shown = (v: string): string => `coalesce(to_json(${v})::varchar, 'null')`;

/** One check of a column: when `bad` (evaluated only where the value coerced) the record fails with `code`. */
interface Constraint {
  readonly code: ReasonCode;
  readonly bad: string;
  /** SQL text expression. */
  readonly message: string;
}

interface ColumnPlan {
  readonly name: string;
  readonly spec: ColumnSpec;
  /** The column as read (__v0...), and as coerced (under its own name: NULL when it does not coerce). */
  readonly raw: string;
  readonly typed: string;
  /** The value is missing in a not-null column. */
  readonly missing: string | null;
  /** The value is there but does not coerce. */
  readonly badType: string | null;
  readonly constraints: readonly Constraint[];
}

const numeric = new Set(["int", "bigint", "double", "decimal"]);

function constraintsOf(spec: ColumnSpec, typed: string, name: string): Constraint[] {
  const out: Constraint[] = [];
  const col = sqlString(`column "${name}"`);
  if (spec.oneOf?.length) {
    const values = spec.oneOf.map((v) => (typeof v === "number" ? String(v) : sqlString(v))).join(", ");
    out.push({
      code: "NOT_IN_SET",
      bad: `${typed} not in (${values})`,
      message: `${shown(typed)} || ' is not one of ' || ${sqlString(JSON.stringify(spec.oneOf))}`,
    });
  }
  if (numeric.has(spec.kind)) {
    if (spec.min !== undefined)
      out.push({
        code: "OUT_OF_RANGE",
        bad: `${typed} < ${spec.min}`,
        message: `${typed}::varchar || ' is below the minimum ${spec.min}'`,
      });
    if (spec.max !== undefined)
      out.push({
        code: "OUT_OF_RANGE",
        bad: `${typed} > ${spec.max}`,
        message: `${typed}::varchar || ' is above the maximum ${spec.max}'`,
      });
  }
  if (spec.pattern !== undefined) {
    out.push({
      code: "PATTERN_MISMATCH",
      bad: `not regexp_full_match(${typed}::varchar, ${sqlString(spec.pattern)})`,
      message: `${shown(typed)} || ' does not match ' || ${sqlString(`/${spec.pattern}/`)}`,
    });
  }
  if (spec.maxLength !== undefined)
    out.push({
      code: "TOO_LONG",
      bad: `length(${typed}::varchar) > ${spec.maxLength}`,
      message: `'is ' || length(${typed}::varchar) || ' characters long, more than ${spec.maxLength}'`,
    });
  if (spec.minLength !== undefined)
    out.push({
      code: "TOO_SHORT",
      bad: `length(${typed}::varchar) < ${spec.minLength}`,
      message: `'is ' || length(${typed}::varchar) || ' characters long, fewer than ${spec.minLength}'`,
    });
  void col;
  return out;
}

function plan(source: FileSource): ColumnPlan[] {
  return Object.entries(source.schema).map(([name, spec], i) => {
    const raw = value(i);
    const typed = sqlIdent(name);
    const identity = spec.kind === "string" && source.format !== "parquet";
    return {
      name,
      spec,
      raw,
      typed,
      missing: spec.nullable ? null : `${raw} is null`,
      badType: identity ? null : `(${raw} is not null and ${typed} is null)`,
      constraints: constraintsOf(spec, typed, name),
    };
  });
}

/**
 * The raw records with each column also coerced, under its own name, in a subquery of its own:
 * DuckDB then computes each cast once, where a CASE that tests and returns it would compute it
 * twice. Cross-field rules see the typed columns by name.
 */
function coerced(source: FileSource, layout: FileLayout, relation: string): string {
  const casts = Object.entries(source.schema).map(([name, spec], i) => {
    const sourceType = source.format === "parquet" ? (layout.types?.[name] ?? "VARCHAR") : "VARCHAR";
    return `${typedExpr(spec, value(i), sourceType)} as ${sqlIdent(name)}`;
  });
  return `select *, ${casts.join(", ")} from ${relation}`;
}

/** A SQL boolean: the record passes every check (a split record, coercion, constraints, unknown fields, rules). */
function passesExpr(source: FileSource): string {
  const columns = plan(source);
  const parts = [`${PROBLEM} is null`];
  if ((source.unknownFields ?? "reject") === "reject") parts.push(`${UNKNOWN} is null`);
  for (const c of columns) {
    // The typed value is null when the value is missing or does not coerce; where it is not
    // null, every constraint is a plain true or false. So: one test per column on its typed value.
    const holds = [`${c.typed} is not null`, ...c.constraints.map((k) => `not (${k.bad})`)].join(" and ");
    if (c.missing) parts.push(c.badType ? `(${holds})` : `${c.raw} is not null${c.constraints.length ? ` and ${holds}` : ""}`);
    else if (c.badType || c.constraints.length) parts.push(`(${c.raw} is null or (${holds}))`);
  }
  for (const r of source.rules ?? []) parts.push(`coalesce((${r.predicate}), false)`);
  return parts.join("\n      and ");
}

const reason = (code: string, column: string, rule: string, val: string, message: string): string =>
  `{'code': ${code}, 'column': ${column}, 'rule': ${rule}, 'value': ${val}, 'message': ${message}}`;
const NULL_TEXT = "null::varchar";

/**
 * Every reason a record fails, as a list of structs {code, column, rule, value, message}: a record
 * that cannot be split has that one reason; otherwise one per failing column (its first failing
 * check), unknown fields, and the rules it breaks (checked only when its columns are all valid).
 */
function reasonsExpr(source: FileSource): string {
  const columns = plan(source);
  const items: string[] = [];
  const columnsValid: string[] = [];
  for (const c of columns) {
    const col = sqlString(c.name);
    const branches: string[] = [];
    if (c.missing)
      branches.push(
        `when ${c.missing} then ${reason("'MISSING_VALUE'", col, NULL_TEXT, NULL_TEXT, sqlString(`column "${c.name}": the value is missing and the column is not nullable`))}`,
      );
    if (c.badType)
      branches.push(
        `when ${c.badType} then ${reason("'TYPE_MISMATCH'", col, NULL_TEXT, `${c.raw}::varchar`, `${sqlString(`column "${c.name}": `)} || ${shown(`${c.raw}::varchar`)} || ${sqlString(` is not ${expectedOf(c.spec)}`)}`)}`,
      );
    for (const k of c.constraints)
      branches.push(
        `when coalesce(${k.bad}, false) then ${reason(`'${k.code}'`, col, NULL_TEXT, `${c.raw}::varchar`, `${sqlString(`column "${c.name}": `)} || ${k.message}`)}`,
      );
    if (branches.length) {
      items.push(`case ${branches.join(" ")} end`);
      columnsValid.push(`not (${branches.map((b) => b.slice(5, b.indexOf(" then "))).join(" or ")})`);
    }
  }
  if ((source.unknownFields ?? "reject") === "reject")
    items.push(
      `case when ${UNKNOWN} is not null then ${reason("'UNKNOWN_FIELD'", `array_to_string(${UNKNOWN}, ', ')`, NULL_TEXT, NULL_TEXT, `'fields the schema does not declare: ' || array_to_string(${UNKNOWN}, ', ')`)} end`,
    );
  const valid = columnsValid.length ? columnsValid.join(" and ") : "true";
  for (const r of source.rules ?? [])
    items.push(
      `case when (${valid}) and not coalesce((${r.predicate}), false) then ${reason("'RULE_FAILED'", NULL_TEXT, sqlString(r.name), NULL_TEXT, sqlString(r.message))} end`,
    );
  const split = reason(
    `split_part(${PROBLEM}, ':', 1)`,
    NULL_TEXT,
    NULL_TEXT,
    NULL_TEXT,
    `substr(${PROBLEM}, strpos(${PROBLEM}, ':') + 1)`,
  );
  return `case when ${PROBLEM} is not null then [${split}] else list_filter([${items.join(",\n        ")}], x -> x is not null) end`;
}

/** The message a clean load fails with when a record does not pass (fail-fast mode); the reader then looks for it. */
export const RECORD_FAILED = "strata: a record does not pass its checks";

/**
 * The records that pass, columns in schema order with their types (and `_extra` when unknown
 * fields are kept). With `failOnBad`, a record that does not pass fails the query (through
 * error()), so a load is one pass; the rejects pass (readQuery, rejectsFromRead) then says which and why.
 */
export function cleanQuery(source: FileSource, layout: FileLayout, options: { errors: ReaderErrors; failOnBad: boolean }): string {
  const columns = plan(source);
  const passes = passesExpr(source);
  const extra = (source.unknownFields ?? "reject") === "keep" ? `, ${EXTRA} as ${sqlIdent(EXTRA_COLUMN)}` : "";
  const filter = options.failOnBad ? `case when ${passes} then true else error('${RECORD_FAILED}') end` : passes;
  return `select ${columns.map((c) => `${c.typed}::${sqlType(c.spec)} as ${c.typed}`).join(", ")}${extra}
    from (${coerced(source, layout, `(${rawQuery(source, layout, { position: "none", errors: options.errors })})`)})
    where ${filter}`;
}

/**
 * The records that do not pass, with where they are and why: `file` (absolute), `rec` (the
 * record's number in its file, as the reader counts records), `raw` (the line, for line formats),
 * `record` (a JSON object of the values as read; null for a record that cannot be split), and
 * `reasons` (a JSON array of {code, column, rule, value, message}).
 */
const PASSES = "__passes";
const REASONS = "__reasons";
const RECORD = "__record";

/**
 * Ingestion reads the files once, into a temporary table: each record coerced, whether it passes
 * and, only for those that do not, its values as read and its reasons (`readQuery`). The clean
 * records (`cleanFromRead`) and the rejects (`rejectsFromRead`) are then taken out of it, so every
 * cast and check runs once. Delimited files are numbered by their order in that table (rowid),
 * which costs less than numbering them as they are read.
 */
export function readQuery(source: FileSource, layout: FileLayout, errors: ReaderErrors): string {
  const columns = plan(source);
  const relation = coerced(source, layout, `(${rawQuery(source, layout, { position: "file", errors })})`);
  const record = `json_object(${columns.map((c) => `${sqlString(c.name)}, ${c.raw}::varchar`).join(", ")})`;
  const extra = (source.unknownFields ?? "reject") === "keep" ? `, ${EXTRA}` : "";
  const failing = (expr: string): string => `case when not ${PASSES} then ${expr} end`;
  // Every column kept costs memory for every record: the file as its number in the layout, the
  // record number and the line only where the format has them.
  const lineFormat = !isDelimited(source);
  const place = [`list_position(${sqlList(layout.files)}, ${FILE})::integer as ${FILE_NO}`, ...(lineFormat ? [REC] : [])];
  return `select ${place.join(", ")}, ${columns.map((c) => `${c.typed}::${sqlType(c.spec)} as ${c.typed}`).join(", ")}${extra}, ${PASSES},
      ${lineFormat ? `${failing(RAW)} as ${RAW}, ` : ""}${failing(`case when ${PROBLEM} is null then ${record} end`)} as ${RECORD},
      ${failing(`to_json(${reasonsExpr(source)})::varchar`)} as ${REASONS}
    from (select *, ${passesExpr(source)} as ${PASSES} from (${relation}))`;
}

const FILE_NO = "__file_no";
const isDelimited = (source: FileSource): boolean => source.format === "csv" && !source.csv?.whitespace;

export function cleanFromRead(source: FileSource, table: string): string {
  const extra = (source.unknownFields ?? "reject") === "keep" ? `, ${EXTRA} as ${sqlIdent(EXTRA_COLUMN)}` : "";
  return `select ${plan(source)
    .map((c) => c.typed)
    .join(", ")}${extra} from ${table} where ${PASSES}`;
}

export function rejectsFromRead(source: FileSource, layout: FileLayout, table: string): string {
  const file = `${sqlList(layout.files)}[${FILE_NO}]`;
  if (!isDelimited(source))
    return `select ${file} as file, ${REC} as rec, ${RAW} as raw, ${RECORD} as record, ${REASONS} as reasons from ${table} where not ${PASSES}`;
  // rowid follows the order rows were read in: files in order, records in order within each.
  return `select ${sqlList(layout.files)}[b.file_no] as file, b.rowid_ - f.first + 1 as rec, null::varchar as raw, b.record, b.reasons
    from (select ${FILE_NO} as file_no, rowid as rowid_, ${RECORD} as record, ${REASONS} as reasons from ${table} where not ${PASSES}) b
    join (select ${FILE_NO} as file_no, min(rowid) as first from ${table} group by 1) f using (file_no)`;
}
