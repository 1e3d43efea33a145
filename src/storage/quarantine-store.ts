import type { RejectReason } from "../validation/reason-codes.js";
import type { TableName } from "./table-engine.js";

/**
 * The quarantine: every record a checker rejected, kept with its raw content, where it came from,
 * why (stable reason codes), which checker version rejected it, the run and the time, so that
 * people can annotate it, fix it and replay it. Records are never deleted: a replayed one is
 * marked with the run and dataset version it went into.
 */
export type QuarantineStatus = "new" | "annotated" | "replayed";

export interface QuarantinedRecord {
  /** Unique across datasets: what `strata quarantine annotate <ids...>` takes. */
  readonly id: number;
  /** The dataset whose checks rejected it (a raw files dataset, or a table written by a step). */
  readonly dataset: string;
  /** Where it goes once it passes: the clean dataset an `ingest` step writes; null when none. */
  readonly target: string | null;
  readonly runId: string | null;
  readonly step: string | null;
  readonly at: number;
  readonly checkerVersion: string | null;
  readonly file: string | null;
  readonly line: number | null;
  readonly offset: number | null;
  /** The record's number in its file, as the reader counts records. */
  readonly record: number | null;
  /** The line as read, when kept (JSON lines, whitespace text, records the reader could not split). */
  readonly raw: string | null;
  /** The values as read, by column; null for a record that could not be split into values. */
  readonly values: Readonly<Record<string, unknown>> | null;
  readonly reasons: readonly RejectReason[];
  readonly status: QuarantineStatus;
  readonly note: string | null;
  /** Values to use instead of the ones read, at replay: column -> text (null for empty). */
  readonly fixes: Readonly<Record<string, string | null>> | null;
  readonly annotatedAt: number | null;
  readonly replayedRun: string | null;
  readonly replayedVersion: number | null;
  readonly replayedAt: number | null;
}

/** Who put records in, stamped on each. */
export interface QuarantineStamp {
  readonly dataset: string;
  readonly target: string | null;
  readonly runId: string | null;
  readonly step: string | null;
  readonly checkerVersion: string | null;
  readonly at: number;
}

/** A rejected record to add one by one (rows dropped by an expectation, a TypeScript rule). */
export interface NewReject {
  readonly file: string | null;
  readonly line: number | null;
  readonly values: Readonly<Record<string, unknown>> | null;
  readonly raw: string | null;
  readonly reasons: readonly RejectReason[];
}

export interface QuarantineFilter {
  readonly reason?: string;
  readonly runId?: string;
  readonly status?: QuarantineStatus | "unreplayed";
  readonly ids?: readonly number[];
}

/** Rejects grouped by reason: what `strata quarantine list` shows first. */
export interface ReasonGroup {
  readonly code: string;
  readonly column: string | null;
  readonly rule: string | null;
  readonly count: number;
  /** The first few records' ids, to look at. */
  readonly exampleIds: readonly number[];
}

export interface QuarantineStore {
  /** Creates its tables if they are missing. Every method does it on first use; this lets a caller do it early. */
  open(): Promise<void>;
  /**
   * Adds the rows of a rejects table (the layout the file reader writes: source_file, source_line,
   * source_offset, source_record, raw, record, reasons) in one statement. Returns how many.
   */
  appendTable(stamp: QuarantineStamp, rejects: TableName): Promise<number>;
  /**
   * Rejects of a new read that an earlier replay already fixed (same file, same content): their
   * replayed rows, typed (`types`: column -> SQL type), go into a new table `into`, and they leave
   * `rejects`. Returns how many. This keeps replayed records when the same file is ingested again.
   */
  restoreReplayed(dataset: string, rejects: TableName, into: TableName, types: Readonly<Record<string, string>>): Promise<number>;
  append(stamp: QuarantineStamp, records: readonly NewReject[]): Promise<number>;
  list(dataset: string, filter?: QuarantineFilter & { readonly limit?: number; readonly offset?: number }): Promise<QuarantinedRecord[]>;
  count(dataset: string, filter?: QuarantineFilter): Promise<number>;
  reasons(dataset: string, filter?: QuarantineFilter): Promise<ReasonGroup[]>;
  /** By id, any dataset; throws QUARANTINE_NOT_FOUND naming the ids that do not exist. */
  get(ids: readonly number[]): Promise<QuarantinedRecord[]>;
  /** Sets the note and fixes of records not yet replayed; returns how many changed. */
  annotate(
    ids: readonly number[],
    annotation: { note: string | null; fixes: Readonly<Record<string, string | null>> | null; at: number },
  ): Promise<number>;
  /** `rows`: the clean rows they became (a table with an id column), kept to restore them at later reads. */
  markReplayed(
    ids: readonly number[],
    replay: { runId: string; version: number; at: number },
    rows?: { readonly table: TableName; readonly id: string; readonly columns: readonly string[] },
  ): Promise<void>;
  /** Every dataset with rejects, and how many of each status. */
  datasets(): Promise<{ dataset: string; total: number; new: number; annotated: number; replayed: number }[]>;
}
