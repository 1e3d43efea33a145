import { existsSync } from "node:fs";
import { StrataError } from "../../errors/strata-error.js";
import type { ResolvedQuery, TableEngine, TableName } from "../table-engine.js";
import {
  absolutePattern,
  assertSource,
  columnDifferences,
  failuresQuery,
  globQuery,
  headerLinesQuery,
  loadQuery,
  parquetColumnsQuery,
  rawQuery,
  relativeFile,
  splitHeader,
  type FailureReason,
  type FileGroup,
  type FileLayout,
  type FileSource,
} from "./file-source.js";

/** One record that cannot be taken as it is: where it is, which column, and why. */
export interface RecordFailure {
  /** Relative to the storage's folder. */
  readonly file: string;
  /** The line in the file (Parquet: the row, from 1). */
  readonly line: number;
  /** Null when the whole record is malformed. */
  readonly column: string | null;
  readonly value: string | null;
  /** What the column accepts ("a double"), or what is wrong with the record ("not valid JSON"). */
  readonly expected: string;
  readonly reason: FailureReason;
}

export interface ReadResult {
  readonly rows: number;
  /** The files read, relative to the storage's folder, sorted. */
  readonly files: string[];
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
    return { files, groups: [{ files, columns: names }], types: Object.fromEntries(first.map((c) => [c.name, c.type])) };
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

async function failures(
  engine: TableEngine,
  source: FileSource,
  layout: FileLayout,
  limit: number,
  scratch: TableName,
  signal: AbortSignal,
): Promise<RecordFailure[]> {
  const rows = await probe(engine, source, layout.files, scratch, failuresQuery(source, layout, limit), signal);
  return rows.map((r) => ({
    file: relativeFile(source, String(r.file)),
    line: Number(r.line),
    column: r.column === null ? null : String(r.column),
    value: r.value === null ? null : String(r.value),
    expected: String(r.expected),
    reason: String(r.reason) as FailureReason,
  }));
}

/**
 * Up to `limit` records that cannot be taken as they are, first in file and line order: each
 * malformed record once, otherwise each value that does not coerce (or is missing in a not-null
 * column). The same checks as readFiles. `scratch` is a table the probes may overwrite.
 */
export async function findCoercionFailures(
  engine: TableEngine,
  source: FileSource,
  options: { readonly limit: number; readonly scratch: TableName; readonly signal?: AbortSignal },
): Promise<RecordFailure[]> {
  const signal = options.signal ?? new AbortController().signal;
  const layout = await layoutOf(engine, source, options.scratch, signal);
  return failures(engine, source, layout, options.limit, options.scratch, signal);
}

function coercionFailed(source: FileSource, failure: RecordFailure): StrataError {
  if (failure.column === null) return parseFailed(source, failure.file, failure.line, failure.expected);
  const at = `${failure.file} ${lineWord(source)} ${failure.line}`;
  const what =
    failure.reason === "null"
      ? "the value is missing and the column is not nullable"
      : `${JSON.stringify(failure.value)} is not ${failure.expected}`;
  return new StrataError("INGEST_COERCION_FAILED", `${where(source)}: ${at}, column "${failure.column}": ${what}`, {
    details: {
      storage: source.storage,
      dataset: source.dataset,
      file: failure.file,
      line: failure.line,
      column: failure.column,
      value: failure.value,
      expected: failure.expected,
      reason: failure.reason,
    },
  });
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
        await engine.createTableAs(scratch, sqlText(`select count(*) from (${rawQuery(source, single, { lines: false })})`), signal);
      } catch (error) {
        if (signal.aborted) throw error;
        return readerFailure(source, [file], error);
      }
    }
  }
  return null;
}

/**
 * Reads a dataset's raw files into `target`, coerced to the schema, in DuckDB: checks that the
 * path matches files, that CSV headers and Parquet columns are the schema's, then loads in one
 * pass. If a record is bad, a second query finds the first one in file and line order and the
 * error names it: INGEST_FILE_NOT_FOUND, INGEST_PARSE_FAILED or INGEST_COERCION_FAILED.
 *
 * `target` (a new version's table, never a live one) is also where the probes write, since the
 * engine runs queries only into tables: after a failure it holds probe output, to be dropped.
 */
export async function readFiles(engine: TableEngine, source: FileSource, target: TableName, signal: AbortSignal): Promise<ReadResult> {
  const layout = await layoutOf(engine, source, target, signal);
  try {
    const rows = await engine.createTableAs(target, sqlText(loadQuery(source, layout)), signal);
    return { rows, files: layout.files.map((f) => relativeFile(source, f)) };
  } catch (error) {
    if (signal.aborted) throw error;
    // error() in the load query says a record is bad without saying which: ask where.
    if ((error as Error).message.includes("strata: a record does not coerce")) {
      const [first] = await failures(engine, source, layout, 1, target, signal);
      if (first) throw coercionFailed(source, first);
    }
    const failure = readerFailure(source, layout.files, error);
    if (failure?.details.file === null) throw (await blameFile(engine, source, layout, target, signal)) ?? failure;
    throw failure ?? error;
  }
}
