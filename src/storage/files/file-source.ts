import { isAbsolute, relative, resolve, sep } from "node:path";
import type { ColumnSpec } from "../../data/column-types.js";
import { StrataError } from "../../errors/strata-error.js";

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
}

/** Files that share one column order: each group is one reader call. */
export interface FileGroup {
  /** Absolute paths. */
  readonly files: readonly string[];
  /** The columns of these files in file order (all schema names). */
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

/** Why a record is rejected: stable codes, kept with quarantined records. */
export type FailureReason = "malformed" | "type" | "null";

/** Internal column names of the raw query: schema columns become v0, v1...; none can clash. */
const FILE = "__file";
const LINE = "__line";
const PROBLEM = "__problem";
const value = (i: number): string => `v${i}`;

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
const fileOrNull = (withFile: boolean): string => (withFile ? FILE : `null::varchar as ${FILE}`);

/**
 * Whole lines as one column: what whitespace mode and JSON lines read, and how exact line
 * numbers are counted (blank lines come as NULL and are counted). No sniffing: every option is given.
 */
function readLines(source: FileSource, files: readonly string[], skip: number, withFile = true): string {
  const { encoding } = csvOptions(source);
  return (
    `read_csv(${sqlList(files)}, auto_detect = false, header = false, columns = {'line': 'VARCHAR'}, delim = chr(1), quote = '', escape = '', ` +
    `skip = ${skip}, encoding = ${sqlString(encoding)}${fileColumn(withFile)})`
  );
}

/** Delimited CSV with the columns c0..cN as text. auto_detect off: a bad line fails with its line number. */
function readDelimited(source: FileSource, files: readonly string[], width: number, withFile: boolean): string {
  const o = csvOptions(source);
  const columns = Array.from({ length: width }, (_, i) => `'c${i}': 'VARCHAR'`).join(", ");
  return (
    `read_csv(${sqlList(files)}, auto_detect = false, header = ${o.header}, skip = ${o.skip}, columns = {${columns}}, ` +
    `delim = ${sqlString(o.delimiter)}, quote = ${sqlString(o.quote)}, escape = ${sqlString(o.quote)}, encoding = ${sqlString(o.encoding)}${fileColumn(withFile)})`
  );
}

/**
 * The first line of each file after `skip` (one row per non-empty file: `file`, `line`), for
 * CSV headers. LIMIT 1 per file stops each read after its first buffer.
 */
export function headerLinesQuery(source: FileSource, files: readonly string[]): string {
  const { skip } = csvOptions(source);
  return files
    .map((f) => `select * from (select ${sqlString(f)} as file, line from ${readLines(source, [f], skip)} limit 1)`)
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

/** How a file's columns differ from the schema ("missing: a, b; unexpected: c"), or null. */
export function columnDifferences(names: readonly string[], schema: Readonly<Record<string, ColumnSpec>>): string | null {
  const declared = Object.keys(schema);
  const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
  const missing = declared.filter((n) => !names.includes(n));
  const unexpected = names.filter((n) => !(n in schema));
  const parts: string[] = [];
  const list = (items: string[]): string => [...new Set(items)].map((n) => JSON.stringify(n)).join(", ");
  if (missing.length) parts.push(`missing column${missing.length > 1 ? "s" : ""} ${list(missing)}`);
  if (unexpected.length) parts.push(`unexpected column${unexpected.length > 1 ? "s" : ""} ${list(unexpected)}`);
  if (duplicates.length) parts.push(`duplicate column${duplicates.length > 1 ? "s" : ""} ${list(duplicates)}`);
  return parts.length ? parts.join("; ") : null;
}

// ---------------------------------------------------------------------------------------------
// The raw query: every schema column as it is in the file (text, or Parquet's own type), with
// the file, the line (when asked) and a record-level problem (a malformed line). One SELECT per group.

const lineWithin = "ordinality - min(ordinality) over (partition by __file) + 1";

/**
 * Physical line numbers of the records of delimited CSV files: `__file`, `__rec` (the record's
 * number within its file, as the reader counts them) and `__line`. A record starts at a line that
 * is not blank and not inside a quoted field (an even count of quote characters before it), so
 * blank lines and quoted line breaks do not shift the numbers. Escapes other than a doubled quote would.
 */
function recordLines(source: FileSource, files: readonly string[]): string {
  const o = csvOptions(source);
  const first = o.skip + (o.header ? 1 : 0);
  const quotes = o.quote === "" ? "0" : `length(line) - length(replace(line, ${sqlString(o.quote)}, ''))`;
  return `select ${FILE}, ${LINE}, row_number() over (partition by ${FILE} order by ${LINE}) as __rec from (
      select ${FILE}, line, ${LINE} + ${o.skip} as ${LINE},
             coalesce(sum(coalesce(${quotes}, 0)) over (partition by ${FILE} order by ${LINE} rows between unbounded preceding and 1 preceding), 0) % 2 as __open
      from (select ${FILE}, line, ${lineWithin} as ${LINE} from ${readLines(source, files, o.skip)} with ordinality))
    where line is not null and __open = 0 and ${LINE} > ${first}`;
}

function groupQuery(source: FileSource, layout: FileLayout, group: FileGroup, lines: boolean): string {
  const names = Object.keys(source.schema);
  const position = (name: string): number => group.columns.indexOf(name);
  const o = csvOptions(source);
  if (source.format === "parquet") {
    const unionByName = layout.files.length > 1 ? ", union_by_name = true" : "";
    const fileRow = lines ? ", file_row_number = true" : "";
    const cols = names.map((n, i) => `${sqlIdent(n)} as ${value(i)}`).join(", ");
    return `select ${fileOrNull(lines)}${lines ? `, file_row_number + 1 as ${LINE}` : ""}, null::varchar as ${PROBLEM}, ${cols}
      from read_parquet(${sqlList(group.files)}${fileColumn(lines)}${fileRow}${unionByName})`;
  }
  if (source.format === "csv" && !o.whitespace) {
    const cols = names.map((n, i) => `r.c${position(n)} as ${value(i)}`).join(", ");
    const read = readDelimited(source, group.files, group.columns.length, lines);
    if (!lines) return `select ${fileOrNull(false)}, null::varchar as ${PROBLEM}, ${cols} from ${read} r`;
    // Records are numbered in reader order (WITH ORDINALITY follows the files and their rows), then mapped to lines.
    const fallback = `r.__rec + ${o.skip + (o.header ? 1 : 0)}`;
    return `select r.${FILE}, coalesce(m.${LINE}, ${fallback}) as ${LINE}, null::varchar as ${PROBLEM}, ${cols}
      from (select *, row_number() over (partition by ${FILE} order by ordinality) as __rec from ${read} with ordinality) r
      left join (${recordLines(source, group.files)}) m on m.${FILE} = r.${FILE} and m.__rec = r.__rec`;
  }
  // Whole lines: whitespace-separated fields or JSON objects, trimmed once. Blank ones (NULL
  // when empty) are dropped after numbering, so line numbers are exact.
  const skip = o.skip + (source.format === "csv" && o.header ? 1 : 0);
  const read = readLines(source, group.files, skip, lines);
  const numbered = lines
    ? `select ${FILE}, trim(line, ' \t\r') as line, ${LINE} from (select ${FILE}, line, ${lineWithin} + ${skip} as ${LINE} from ${read} with ordinality)`
    : `select ${fileOrNull(false)}, trim(line, ' \t\r') as line from ${read}`;
  const nonBlank = `(select * from (${numbered}) where line <> '')`;
  const lineCol = lines ? `, ${LINE}` : "";
  if (source.format === "csv") {
    const cols = names.map((n, i) => `__parts[${position(n) + 1}] as ${value(i)}`).join(", ");
    const width = group.columns.length;
    return `select ${FILE}${lineCol}, case when len(__parts) <> ${width} then len(__parts) || ' values, expected ${width}' end as ${PROBLEM}, ${cols}
      from (select ${FILE}${lineCol}, string_split_regex(line, '\\s+') as __parts from ${nonBlank})`;
  }
  // JSON lines: each key extracted once per line; JSON-typed columns keep their JSON text.
  const path = (n: string): string => `$."${n}"`;
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
  return `select ${FILE}${lineCol}, __problem, ${cols.join(", ")} from (
      select ${FILE}${lineCol},
             case when not json_valid(line) then 'not valid JSON' when json_type(line) <> 'OBJECT' then 'not a JSON object' end as ${PROBLEM},
             ${guard(`json_extract_string(line, ${sqlList(names.map(path))})`)} as __text${json}
      from ${nonBlank})`;
}

/** Every record of every file, columns as read (v0.. in schema order); `lines` adds `__line`. */
export function rawQuery(source: FileSource, layout: FileLayout, options: { lines: boolean }): string {
  if (layout.groups.length > 0) return layout.groups.map((g) => groupQuery(source, layout, g, options.lines)).join("\nunion all\n");
  // Nothing to read (only empty files): no rows, but the right columns.
  const cols = Object.keys(source.schema).map((_, i) => `null::varchar as ${value(i)}`);
  return `select null::varchar as ${FILE}${options.lines ? `, null::bigint as ${LINE}` : ""}, null::varchar as ${PROBLEM}, ${cols.join(", ")} where false`;
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

interface ColumnPlan {
  readonly name: string;
  readonly spec: ColumnSpec;
  /** The column as read (v0...), and as coerced (t0...: NULL when it does not coerce). */
  readonly raw: string;
  readonly typed: string;
  /** The value is there but does not coerce. */
  readonly badType: string | null;
  /** The value is missing in a not-null column. */
  readonly badNull: string | null;
}

const typedName = (i: number): string => `t${i}`;

function plan(source: FileSource): ColumnPlan[] {
  return Object.entries(source.schema).map(([name, spec], i) => {
    const raw = value(i);
    const typed = typedName(i);
    const identity = spec.kind === "string" && source.format !== "parquet";
    return {
      name,
      spec,
      raw,
      typed,
      badType: identity ? null : `(${raw} is not null and ${typed} is null)`,
      badNull: spec.nullable ? null : `(${raw} is null)`,
    };
  });
}

/**
 * The raw records with each column also coerced (t0...), in a subquery of its own: DuckDB then
 * computes each cast once, where a CASE that tests and returns it would compute it twice.
 */
function coerced(source: FileSource, layout: FileLayout, lines: boolean): string {
  const casts = Object.entries(source.schema).map(([name, spec], i) => {
    const sourceType = source.format === "parquet" ? (layout.types?.[name] ?? "VARCHAR") : "VARCHAR";
    return `${typedExpr(spec, value(i), sourceType)} as ${typedName(i)}`;
  });
  return `select *, ${casts.join(", ")} from (${rawQuery(source, layout, { lines })})`;
}

/**
 * The coerced records, columns in schema order with their types. A bad record makes the query
 * fail (through error()), so a load is one pass over the files; failuresQuery then says where.
 */
export function loadQuery(source: FileSource, layout: FileLayout): string {
  const columns = plan(source);
  const bad = [`${PROBLEM} is not null`, ...columns.flatMap((c) => [c.badType, c.badNull].filter((b): b is string => b !== null))];
  return `select ${columns.map((c) => `${c.typed}::${sqlType(c.spec)} as ${sqlIdent(c.name)}`).join(", ")}
    from (${coerced(source, layout, false)})
    where case when ${bad.join(" or ")} then error('strata: a record does not coerce') else true end`;
}

/**
 * Every failure, first in file and line order: `file` (absolute), `line`, `ord` (0 for the
 * record, then the column's position), `column`, `value` (text), `expected`, `reason`.
 * A malformed record is one failure; its columns are not checked.
 */
export function failuresQuery(source: FileSource, layout: FileLayout, limit: number): string {
  const entry = (ord: number, column: string, val: string, expected: string, reason: FailureReason): string =>
    `{'ord': ${ord}, 'column': ${column}, 'value': ${val}, 'expected': ${expected}, 'reason': '${reason}'}`;
  const checks = [`case when ${PROBLEM} is not null then ${entry(0, "null::varchar", "null::varchar", PROBLEM, "malformed")} end`];
  const conditions = [`${PROBLEM} is not null`];
  plan(source).forEach((c, i) => {
    for (const [bad, reason] of [
      [c.badNull, "null"],
      [c.badType, "type"],
    ] as const) {
      if (bad === null) continue;
      const expected = sqlString(reason === "null" ? "a value (the column is not nullable)" : expectedOf(c.spec));
      checks.push(
        `case when ${PROBLEM} is null and ${bad} then ${entry(i + 1, sqlString(c.name), `${c.raw}::varchar`, expected, reason)} end`,
      );
      conditions.push(bad);
    }
  });
  return `select ${FILE} as file, ${LINE} as line, f.ord as ord, f.column as "column", f.value as value, f.expected as expected, f.reason as reason
    from (select ${FILE}, ${LINE}, unnest(list_filter([${checks.join(",\n      ")}], lambda x: x is not null)) as f
          from (${coerced(source, layout, true)})
          where ${conditions.join(" or ")})
    order by file, line, ord
    limit ${Math.max(0, Math.floor(limit))}`;
}
