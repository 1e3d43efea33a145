import { createReadStream, existsSync } from "node:fs";
import { StrataError } from "../../errors/strata-error.js";
import type { ResolvedQuery, TableEngine, TableName } from "../table-engine.js";
import type { RejectReason } from "../../validation/reason-codes.js";
import {
  RECORD_FAILED,
  absolutePattern,
  assertSource,
  cleanQuery,
  columnDifferences,
  globQuery,
  headerLinesQuery,
  recordCountsQuery,
  linesBefore,
  parquetColumnsQuery,
  rawQuery,
  recordLinesQuery,
  cleanFromRead,
  readQuery,
  rejectsFromRead,
  relativeFile,
  splitHeader,
  sqlIdent,
  sqlString,
  type FileGroup,
  type FileLayout,
  type FileSource,
} from "./file-source.js";

export interface ReadResult {
  /** Records written to the target. */
  readonly rows: number;
  /** The files read, relative to the storage's folder, sorted. */
  readonly files: string[];
}

export interface IngestResult extends ReadResult {
  /** Records read: rows + rejected, always. */
  readonly read: number;
  /** Records that did not pass, now in the rejects table. */
  readonly rejected: number;
}

/** One rejected record, as the rejects table holds it. */
export interface RejectedRecord {
  /** Relative to the storage's folder. */
  readonly file: string;
  /** The physical line (Parquet: the row, from 1); null when it cannot be told exactly (see `offset`, `record`). */
  readonly line: number | null;
  /** Byte offset of the line, for records the reader could not split. */
  readonly offset: number | null;
  /** The record's number in its file, as the reader counts records. */
  readonly record: number | null;
  /** The line as read, when the reader keeps lines (JSON lines, whitespace text, unsplittable records). */
  readonly raw: string | null;
  /** The values as read, by column; null for a record that could not be split. */
  readonly values: Readonly<Record<string, string | null>> | null;
  readonly reasons: readonly RejectReason[];
}

// Header and column probes go in chunks: one query per file would be slow on big globs, one
// query for all of them too big to bind.
const PROBE_CHUNK = 100;

const sqlText = (text: string): ResolvedQuery => ({ strings: [text], parts: [] });

/** The engine can only run queries into tables: a probe overwrites `scratch` and reads it back. */
async function probeRows(engine: TableEngine, scratch: TableName, sql: string, signal: AbortSignal): Promise<Record<string, unknown>[]> {
  await engine.createTableAs(scratch, sqlText(sql), signal);
  return engine.readRows(scratch);
}

const where = (source: FileSource): string => `storage "${source.storage}", dataset "${source.dataset}"`;
const lineWord = (source: FileSource): string => (source.format === "parquet" ? "row" : "line");

/** `file` is relative to the folder; null when no file is to blame. */
function parseFailed(source: FileSource, file: string | null, line: number | null, reason: string, cause?: unknown): StrataError {
  const at = file === null ? "" : `${file}${line === null ? "" : ` ${lineWord(source)} ${line}`}: `;
  return new StrataError("INGEST_PARSE_FAILED", `${where(source)}: ${at}${reason}`, {
    cause,
    details: { storage: source.storage, dataset: source.dataset, file, line, reason },
  });
}

/**
 * A DuckDB reader error as INGEST_PARSE_FAILED: one that names a file, or a CSV error (some do
 * not name their file; with one file it is that one). Null for anything else.
 */
function readerFailure(source: FileSource, files: readonly string[], error: unknown): StrataError | null {
  const message = error instanceof Error ? error.message : String(error);
  const line = /CSV Error on Line: (\d+)/.exec(message)?.[1];
  const named = [...files].sort((a, b) => b.length - a.length).find((f) => message.includes(f));
  const file = named ?? (files.length === 1 ? files[0] : undefined);
  if (named === undefined && line === undefined) return null;
  // DuckDB's CSV errors go on with the options and "Possible fixes"; the reason is the line just before.
  const body = message.replace(/^[A-Za-z ]*Error: /, "").split(/\n\s*(?:Possible |file = )/)[0] ?? message;
  const lines = body
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  let reason = (line === undefined ? lines[0] : lines[lines.length - 1]) ?? body;
  for (const f of files) reason = reason.split(f).join(relativeFile(source, f));
  const kind =
    source.format === "csv"
      ? source.csv?.whitespace
        ? "whitespace-separated text"
        : "CSV"
      : source.format === "jsonl"
        ? "JSON lines"
        : "Parquet";
  const lineNumber = line === undefined ? null : Number(line);
  if (file === undefined)
    return parseFailed(
      source,
      null,
      lineNumber,
      `line ${line} of one of ${files.length} files: cannot read it as ${kind}: ${reason}`,
      error,
    );
  return parseFailed(source, relativeFile(source, file), lineNumber, `cannot read it as ${kind}: ${reason}`, error);
}

/** Runs a probe; a reader error that names a file becomes INGEST_PARSE_FAILED. */
async function probe(
  engine: TableEngine,
  source: FileSource,
  files: readonly string[],
  scratch: TableName,
  sql: string,
  signal: AbortSignal,
) {
  try {
    return await probeRows(engine, scratch, sql, signal);
  } catch (error) {
    if (signal.aborted) throw error;
    throw readerFailure(source, files, error) ?? error;
  }
}

async function matchFiles(engine: TableEngine, source: FileSource, scratch: TableName, signal: AbortSignal): Promise<string[]> {
  const files = (await probeRows(engine, scratch, globQuery(source), signal)).map((r) => String(r.file));
  if (files.length === 0) {
    const pattern = absolutePattern(source);
    const folder = existsSync(source.folder) ? "" : ` (the storage's folder ${source.folder} does not exist)`;
    throw new StrataError("INGEST_FILE_NOT_FOUND", `${where(source)}: no file matches ${pattern}${folder}`, {
      details: { storage: source.storage, dataset: source.dataset, path: pattern, folder: source.folder },
    });
  }
  return files;
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += PROBE_CHUNK) out.push(items.slice(i, i + PROBE_CHUNK));
  return out;
}

/** Files grouped by their column order, in file order. */
function groupByColumns(columnsOf: ReadonlyMap<string, readonly string[]>): FileGroup[] {
  const groups = new Map<string, { files: string[]; columns: readonly string[] }>();
  for (const [file, columns] of columnsOf) {
    const key = JSON.stringify(columns);
    const group = groups.get(key) ?? { files: [], columns };
    group.files.push(file);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/**
 * Finds the files and how to read them: CSV headers and Parquet columns are checked against the
 * schema here, file by file, before any data is read.
 */
async function layoutOf(engine: TableEngine, source: FileSource, scratch: TableName, signal: AbortSignal): Promise<FileLayout> {
  assertSource(source);
  const files = await matchFiles(engine, source, scratch, signal);
  const names = Object.keys(source.schema);
  if (source.format === "parquet") {
    const columnsOf = new Map<string, { name: string; type: string }[]>(files.map((f) => [f, []]));
    for (const chunk of chunks(files)) {
      for (const row of await probe(engine, source, chunk, scratch, parquetColumnsQuery(chunk), signal)) {
        columnsOf.get(String(row.file))?.push({ name: String(row.name), type: String(row.type) });
      }
    }
    for (const [file, columns] of columnsOf) {
      const difference = columnDifferences(
        columns.map((c) => c.name),
        source.schema,
      );
      if (difference) throw parseFailed(source, relativeFile(source, file), null, `its columns do not match the schema: ${difference}`);
    }
    const first = columnsOf.get(files[0] ?? "") ?? [];
    const namesOf = new Map([...columnsOf].map(([file, columns]) => [file, columns.map((c) => c.name)]));
    return { files, groups: groupByColumns(namesOf), types: Object.fromEntries(first.map((c) => [c.name, c.type])) };
  }
  if (source.format === "csv" && source.csv?.header) {
    const headerOf = new Map<string, readonly string[]>();
    for (const chunk of chunks(files)) {
      for (const row of await probe(engine, source, chunk, scratch, headerLinesQuery(source, chunk), signal)) {
        headerOf.set(String(row.file), splitHeader(source, row.line === null ? "" : String(row.line)));
      }
    }
    const headerLine = (source.csv.skip ?? 0) + 1;
    // Files in glob order; a file with no line at all has no header and no records.
    const ordered = new Map(files.flatMap((f) => (headerOf.has(f) ? [[f, headerOf.get(f) ?? []] as const] : [])));
    for (const [file, header] of ordered) {
      const difference = columnDifferences(header, source.schema);
      if (difference)
        throw parseFailed(source, relativeFile(source, file), headerLine, `the header does not match the schema: ${difference}`);
    }
    return { files, groups: groupByColumns(ordered) };
  }
  return { files, groups: [{ files, columns: names }] };
}

/**
 * A file's physical lines and empty lines, counted on its bytes: whatever the encoding or the
 * length of a line (a reader would skip lines with bad bytes or over its limit).
 */
async function lineStats(file: string): Promise<{ lines: number; blanks: number }> {
  let lines = 0;
  let blanks = 0;
  let open = false; // the current line has bytes other than a \r
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let end = chunk.indexOf(10, start); end !== -1; end = chunk.indexOf(10, start)) {
      const empty = !open && (end === start || (end === start + 1 && chunk[start] === 13));
      if (empty) blanks++;
      lines++;
      open = false;
      start = end + 1;
    }
    if (start < chunk.length && !(start === chunk.length - 1 && chunk[start] === 13)) open = true;
  }
  if (open) lines++; // a last line without a line break
  return { lines, blanks };
}

/**
 * Where records the reader refused really start. DuckDB gives a byte offset near the record (the
 * end of the one before, after empty lines; counted from 0 or 1): the record is the first line
 * that is not empty from just before it on, if it starts with the record's text. Returns the
 * offset (from 0) and line (from 1), or null where the text does not match.
 */
async function locateLines(
  file: string,
  wanted: readonly { offset: number; raw: string }[],
): Promise<({ offset: number; line: number } | null)[]> {
  const out: ({ offset: number; line: number } | null)[] = wanted.map(() => null);
  const order = wanted.map((w, i) => ({ from: Math.max(0, w.offset - 1), i })).sort((a, b) => a.from - b.from);
  const prefixes = wanted.map((w) => Buffer.from(w.raw.replace(/^[\r\n]+/, "").slice(0, 16), "utf8"));
  let next = 0;
  let line = 1;
  let position = 0; // of the byte being read
  let lineStart = 0;
  let head: number[] = []; // first bytes of the current line
  // At the end of each line that is not empty: it is the record of every wanted offset not
  // placed yet that lies at or before its start (they are sorted).
  const finishLine = (): void => {
    if (head.length === 0 || (head.length === 1 && head[0] === 13)) return;
    while (next < order.length && order[next]!.from <= lineStart) {
      const { i } = order[next]!;
      const prefix = prefixes[i]!;
      if (Buffer.from(head.slice(0, prefix.length)).equals(prefix)) out[i] = { offset: lineStart, line };
      next++;
    }
  };
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (let k = 0; k < chunk.length; k++, position++) {
      const byte = chunk[k]!;
      if (byte === 10) {
        finishLine();
        line++;
        lineStart = position + 1;
        head = [];
      } else if (head.length < 16) head.push(byte);
    }
    if (next >= order.length) break;
  }
  if (head.length) finishLine();
  return out;
}

/** DuckDB's reader error types, as reason codes. */
const READER_REASONS: Record<string, string> = {
  "TOO MANY COLUMNS": "TOO_MANY_VALUES",
  "MISSING COLUMNS": "TOO_FEW_VALUES",
  "UNQUOTED VALUE": "UNTERMINATED_QUOTE",
  "INVALID ENCODING": "INVALID_ENCODING",
  "INVALID UNICODE": "INVALID_ENCODING",
  "LINE SIZE OVER MAXIMUM": "LINE_TOO_LONG",
};

let scratchCounter = 0;

const NO_REFUSED = `select null::varchar as file, null::bigint as line, null::bigint as "offset", null::varchar as raw, null::varchar as error_type, null::varchar as error_message, false as located where false`;

/** The reader's rejects (one per record), from its temporary tables: file, line, offset, raw, error. */
function refusedQuery(errors: { rejectsTable: string; rejectsScan: string }): string {
  return `select s.file_path as file, min(e.line) as line, min(e.line_byte_position) as "offset", first(e.csv_line order by e.line) as raw,
      first(e.error_type order by e.line) as error_type, first(e.error_message order by e.line) as error_message, false as located
    from ${errors.rejectsTable} e join ${errors.rejectsScan} s using (scan_id, file_id)
    group by s.file_path, e.line_byte_position`;
}

/**
 * Reads the files once (one connection: the temporary tables and the reader's rejects table are
 * its own) and writes `rejects`, placed, and with `target` the records that pass. Without
 * `target` (a fail-fast read that failed, `findRejects`), only the rejects. Returns the count of
 * records that pass and of rejects.
 */
async function readAndCheck(
  engine: TableEngine,
  source: FileSource,
  layout: FileLayout,
  tables: { readonly target?: TableName; readonly rejects: TableName },
  signal: AbortSignal,
): Promise<{ rows: number; rejected: number }> {
  const n = ++scratchCounter;
  const read = `strata_read_${process.pid}_${n}`;
  const checks = `strata_checks_${process.pid}_${n}`;
  const refused = `strata_refused_${process.pid}_${n}`;
  const readerErrors = {
    rejectsTable: `strata_reader_rejects_${process.pid}_${n}`,
    rejectsScan: `strata_reader_scans_${process.pid}_${n}`,
  };
  const schemas = [...new Set([tables.rejects.schema, ...(tables.target ? [tables.target.schema] : [])])]
    .map((s) => `create schema if not exists ${sqlIdent(s)};`)
    .join("\n");
  // A delimited file's lines are counted (to place its rejects) while DuckDB reads it, when they
  // are few enough to count them all.
  const delimited = source.format === "csv" && !source.csv?.whitespace;
  const counting = delimited && layout.files.length <= 8 ? new Map(layout.files.map((f) => [f, lineStats(f)])) : undefined;
  // Awaited later; a failure then (a file gone) must not be an unhandled rejection meanwhile.
  for (const p of counting?.values() ?? []) p.catch(() => undefined);
  const [counted] = await engine.query(
    sqlText(`${schemas}
      create temp table ${read} as ${readQuery(source, layout, source.format === "parquet" ? "skip" : readerErrors)};
      ${tables.target ? `create or replace table ${engine.qualifiedName(tables.target)} as ${cleanFromRead(source, read)};` : ""}
      create temp table ${checks} as ${rejectsFromRead(source, layout, read)};
      create temp table ${refused} as ${source.format === "parquet" ? NO_REFUSED : refusedQuery(readerErrors)};
      ${rejectsTableQuery(engine, source, tables.rejects, checks, refused)};
      create temp table ${checks}_n as select count(*) filter (where __passes) as n from ${read};
      drop table ${read}; drop table ${checks}; drop table ${refused};
      select n from ${checks}_n`),
    signal,
  );
  const rows = Number(counted?.n ?? 0);
  return { rows, rejected: await placeRejects(engine, source, layout, tables.rejects, signal, rows, counting) };
}

/**
 * Creates `rejects`: `source_file` (relative), `source_line`, `source_offset`, `source_record`,
 * `raw`, `record` (JSON of the values as read), `reasons` (JSON array), from the checks' rejects
 * (`checks`: file, rec, raw, record, reasons) and the reader's (`refused`), with the line that
 * holds when each record of the file is one line: its number, plus the lines before the first
 * record, plus the records the reader refused ahead of it. (`placeRejects` then corrects files
 * where that does not hold.) Internal columns keep the absolute file and where each came from.
 */
function rejectsTableQuery(engine: TableEngine, source: FileSource, rejects: TableName, checks: string, refused: string): string {
  const base = linesBefore(source);
  const codes = Object.entries(READER_REASONS)
    .map(([type, code]) => `when ${sqlString(type)} then '${code}'`)
    .join(" ");
  const folder = source.folder.endsWith("/") ? source.folder : `${source.folder}/`;
  const relative = (expr: string): string =>
    `case when starts_with(${expr}, ${sqlString(folder)}) then substr(${expr}, ${folder.length + 1}) else ${expr} end`;
  const readerReason = `to_json([{'code': case error_type ${codes} else 'MALFORMED_RECORD' end, 'column': null::varchar, 'rule': null::varchar, 'value': null::varchar, 'message': error_message}])::varchar`;
  // `before`: records the reader kept ahead of each record it refused; an ASOF join finds how many
  // it refused ahead of a record (refused ones in a row share `before`: the most of them counts).
  return `create or replace table ${engine.qualifiedName(rejects)} as
    with numbered as (select *, line - ${base} - row_number() over (partition by file order by line) as before,
                             row_number() over (partition by file order by line) as skipped from ${refused}),
    ahead as (select file, before, max(skipped) as skipped from numbered group by all)
    select * from (
      select ${relative("b.file")} as source_file,
             (${source.format === "parquet" ? "b.rec" : `${base} + b.rec + coalesce(r.skipped, 0)`})::bigint as source_line,
             null::bigint as source_offset, b.rec::bigint as source_record, b.raw, b.record::varchar as record, b.reasons,
             b.file as __file, 'check' as __from
      from ${checks} b asof left join ahead r on r.file = b.file and b.rec > r.before
      union all
      select ${relative("file")}, line::bigint, "offset"::bigint, null::bigint, trim(raw, chr(10) || chr(13)), null::varchar, ${readerReason},
             file, 'reader'
      from ${refused})
    order by source_file, coalesce(source_line, source_record, 0), source_offset`;
}

/**
 * Corrects the lines of rejects in delimited files where a record is not always one line (empty
 * lines, quoted line breaks): told by counting, lines = lines before the first record + records
 * given + records refused when it is. There, records the checks rejected are placed through the
 * quote parity of the physical lines when that accounts for every record (else their line is
 * null, their record number says where), and records the reader refused are found in the file's
 * bytes. Returns how many rejects there are.
 */
async function placeRejects(
  engine: TableEngine,
  source: FileSource,
  layout: FileLayout,
  rejects: TableName,
  signal: AbortSignal,
  /** Records the clean pass kept, when known: saves counting the records of a single file again. */
  cleanRows?: number,
  /** Line counts already under way, by file. */
  counting?: ReadonlyMap<string, Promise<{ lines: number; blanks: number }>>,
): Promise<number> {
  const r = engine.qualifiedName(rejects);
  const perFile = await engine.query(
    sqlText(`select __file as file, count(*) filter (where __from = 'check') as checked, count(*) filter (where __from = 'reader') as refused
      from ${r} group by 1`),
    signal,
  );
  const total = perFile.reduce((n, f) => n + Number(f.checked) + Number(f.refused), 0);
  if (!(source.format === "csv" && !source.csv?.whitespace) || total === 0) return total;
  const base = linesBefore(source);
  const given = new Map<string, number>();
  if (layout.files.length === 1 && cleanRows !== undefined) given.set(layout.files[0]!, cleanRows + Number(perFile[0]?.checked ?? 0));
  else for (const f of await engine.query(sqlText(recordCountsQuery(source, layout)), signal)) given.set(String(f.file), Number(f.n));
  const irregular: string[] = [];
  let mappable: string[] = [];
  for (const f of perFile) {
    const file = String(f.file);
    const stats = await (counting?.get(file) ?? lineStats(file));
    if (stats.blanks === 0 && stats.lines - base === (given.get(file) ?? 0) + Number(f.refused)) continue;
    irregular.push(file);
    // Quote parity finds where records start; trusted only when nothing was refused there.
    if (Number(f.refused) === 0) mappable.push(file);
  }
  if (!irregular.length) return total;
  if (mappable.length) {
    const counted = await engine.query(
      sqlText(`select __file as file, count(*) as n from (${recordLinesQuery(source, mappable)}) group by 1`),
      signal,
    );
    mappable = counted.filter((f) => Number(f.n) === given.get(String(f.file))).map((f) => String(f.file));
  }
  const list = (files: readonly string[]): string => `[${files.map(sqlString).join(", ")}]`;
  await engine.query(
    sqlText(`update ${r} set source_line = null where list_contains(${list(irregular)}, __file);
      ${
        mappable.length
          ? `update ${r} set source_line = m.__line from (${recordLinesQuery(source, mappable)}) m
             where ${r}.__from = 'check' and ${r}.__file = m.__file and ${r}.source_record = m.__rec;`
          : ""
      }`),
    signal,
  );
  for (const file of irregular) {
    const rows = await engine.query(
      sqlText(
        `select source_offset as "offset", raw from ${r} where __file = ${sqlString(file)} and __from = 'reader' order by source_offset`,
      ),
      signal,
    );
    const found = await locateLines(
      file,
      rows.map((row) => ({ offset: Number(row.offset), raw: String(row.raw ?? "") })),
    );
    for (const [i, place] of found.entries()) {
      if (!place) continue;
      await engine.query(
        sqlText(
          `update ${r} set source_line = ${place.line}, source_offset = ${place.offset} where __file = ${sqlString(file)} and __from = 'reader' and source_offset = ${Number(rows[i]!.offset)}`,
        ),
        signal,
      );
    }
  }
  return total;
}

/** The rejects table's rows as records. */
export async function readRejects(engine: TableEngine, rejects: TableName, limit?: number): Promise<RejectedRecord[]> {
  const rows = await engine.query({
    strings: [
      `select * from ${engine.qualifiedName(rejects)} order by source_file, coalesce(source_line, source_record, 0), source_offset${limit === undefined ? "" : ` limit ${Math.max(0, Math.floor(limit))}`}`,
    ],
    parts: [],
  });
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  return rows.map((r) => ({
    file: String(r.source_file),
    line: num(r.source_line),
    offset: num(r.source_offset),
    record: num(r.source_record),
    raw: r.raw === null ? null : String(r.raw),
    values: r.record === null ? null : (JSON.parse(String(r.record)) as Record<string, string | null>),
    reasons: JSON.parse(String(r.reasons)) as RejectReason[],
  }));
}

/** The error for a rejected record, in fail-fast mode: the first one is named. */
function rejectedError(source: FileSource, reject: RejectedRecord): StrataError {
  const [first] = reject.reasons;
  const at = `${reject.file} ${reject.line !== null ? `${lineWord(source)} ${reject.line}` : reject.offset !== null ? `byte ${reject.offset}` : `record ${reject.record}`}`;
  const details = {
    storage: source.storage,
    dataset: source.dataset,
    file: reject.file,
    line: reject.line,
    column: first?.column ?? null,
    value: first?.value ?? null,
    reason: first?.code ?? null,
    reasons: reject.reasons,
  };
  const message = reject.reasons.map((r) => r.message).join("; ");
  if (first && first.column === null && first.code !== "UNKNOWN_FIELD" && first.code !== "RULE_FAILED")
    return new StrataError("INGEST_PARSE_FAILED", `${where(source)}: ${at}: ${message}`, { details });
  const code = reject.reasons.every((r) => r.code === "TYPE_MISMATCH" || r.code === "MISSING_VALUE")
    ? "INGEST_COERCION_FAILED"
    : "INGEST_RECORD_INVALID";
  return new StrataError(code, `${where(source)}: ${at}, ${message}`, { details });
}

/**
 * Some DuckDB errors (invalid UTF-8) do not name their file: read the files one by one, in
 * order, until one fails. Only ever on the way to an error.
 */
async function blameFile(
  engine: TableEngine,
  source: FileSource,
  layout: FileLayout,
  scratch: TableName,
  signal: AbortSignal,
): Promise<StrataError | null> {
  for (const group of layout.groups) {
    for (const file of group.files) {
      const single: FileLayout = { ...layout, files: [file], groups: [{ files: [file], columns: group.columns }] };
      try {
        await engine.createTableAs(
          scratch,
          sqlText(`select count(*) from (${rawQuery(source, single, { position: "none", errors: "fail" })})`),
          signal,
        );
      } catch (error) {
        if (signal.aborted) throw error;
        return readerFailure(source, [file], error);
      }
    }
  }
  return null;
}

/**
 * Reads a dataset's raw files into `target`, coerced to the schema and checked, in DuckDB:
 * checks that the path matches files, that CSV headers and Parquet columns are the schema's,
 * then loads in one pass. If a record does not pass, a second pass finds the first one in file
 * and line order and the error names it: INGEST_FILE_NOT_FOUND, INGEST_PARSE_FAILED,
 * INGEST_COERCION_FAILED or INGEST_RECORD_INVALID.
 *
 * `target` (a new version's table, never a live one) is also where the probes write, since the
 * engine runs queries only into tables: after a failure it holds probe output, to be dropped.
 */
export async function readFiles(engine: TableEngine, source: FileSource, target: TableName, signal: AbortSignal): Promise<ReadResult> {
  const layout = await layoutOf(engine, source, target, signal);
  try {
    const rows = await engine.createTableAs(target, sqlText(cleanQuery(source, layout, { errors: "fail", failOnBad: true })), signal);
    return { rows, files: layout.files.map((f) => relativeFile(source, f)) };
  } catch (error) {
    if (signal.aborted) throw error;
    // error() in the load query says a record is bad without saying which: ask where.
    if ((error as Error).message.includes(RECORD_FAILED)) {
      const rejects = { schema: target.schema, table: `${target.table}__rejects` };
      try {
        await readAndCheck(engine, source, layout, { rejects }, signal);
        const [first] = await readRejects(engine, rejects, 1);
        if (first) throw rejectedError(source, first);
      } finally {
        await engine.drop(rejects).catch(() => undefined);
      }
    }
    const failure = readerFailure(source, layout.files, error);
    if (failure?.details.file === null) throw (await blameFile(engine, source, layout, target, signal)) ?? failure;
    throw failure ?? error;
  }
}

/**
 * Ingestion with quarantine: the records that pass go to `target`, the others (with where they
 * are and every reason) to `rejects`, in two passes over the files inside DuckDB. Never fails on
 * a bad record; fails on what is wrong with the files themselves (none match, a header without a
 * schema column). Counts reconcile: read = rows + rejected.
 */
export async function ingestFiles(
  engine: TableEngine,
  source: FileSource,
  tables: { readonly target: TableName; readonly rejects: TableName },
  signal: AbortSignal,
): Promise<IngestResult> {
  const layout = await layoutOf(engine, source, tables.target, signal);
  const { rows, rejected } = await readAndCheck(engine, source, layout, tables, signal);
  return { rows, rejected, read: rows + rejected, files: layout.files.map((f) => relativeFile(source, f)) };
}

/** Up to `limit` rejected records, first in file and line order, without loading anything. `scratch` is a table the probes may overwrite. */
export async function findRejects(
  engine: TableEngine,
  source: FileSource,
  options: { readonly limit?: number; readonly scratch: TableName; readonly signal?: AbortSignal },
): Promise<RejectedRecord[]> {
  const signal = options.signal ?? new AbortController().signal;
  const layout = await layoutOf(engine, source, options.scratch, signal);
  try {
    await readAndCheck(engine, source, layout, { rejects: options.scratch }, signal);
    return await readRejects(engine, options.scratch, options.limit);
  } finally {
    await engine.drop(options.scratch).catch(() => undefined);
  }
}
