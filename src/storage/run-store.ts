import { NotFoundError } from "../errors/errors.js";
import type { ExpectationResult } from "../validation/expectations.js";

/**
 * The metadata store: every run, step and attempt, the outputs that a resume can reuse, and the
 * logs. SQLite in a project's `.strata/` by default; a Postgres store implements the same
 * interface for multi-process deployments.
 */
export type RunStatus = "running" | "succeeded" | "failed" | "cancelled";
export type StepStatus = "pending" | "running" | "retrying" | "succeeded" | "failed" | "cancelled" | "skipped" | "reused";
export type AttemptStatus = "running" | "succeeded" | "failed";
export type TriggerKind = "manual" | "api" | "cron" | "event" | "backfill" | "recovery" | "test";

export interface Trigger {
  readonly kind: TriggerKind;
  readonly id: string;
}

export interface ErrorInfo {
  readonly code: string;
  readonly message: string;
}

export interface RunRecord {
  readonly id: string;
  readonly pipeline: string;
  readonly status: RunStatus;
  readonly trigger: Trigger;
  /** Params after validation (defaults applied, values coerced). */
  readonly params: Record<string, unknown>;
  /** Params as given; a resume validates these again, so transforms are not applied twice. */
  readonly inputParams: Record<string, unknown>;
  /** `host:pid` of the process running it, so a run whose process died can be told apart. */
  readonly owner: string | null;
  readonly resumedFrom: string | null;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly error: ErrorInfo | null;
}

/** How a step's output is kept so that `--resume` can reuse it. */
export type StoredOutput =
  | { readonly kind: "none" }
  | { readonly kind: "json"; readonly json: string }
  | { readonly kind: "table"; readonly table: string; readonly rows: number }
  /** Not serializable (a function, a class instance...): a resume reruns the step. */
  | { readonly kind: "opaque"; readonly type: string };

export interface StepRecord {
  readonly runId: string;
  readonly step: string;
  readonly status: StepStatus;
  readonly attempts: number;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly error: ErrorInfo | null;
  readonly output: StoredOutput | null;
  /** For a reused step: the run whose output was reused. */
  readonly reusedFrom: string | null;
}

export interface AttemptRecord {
  readonly runId: string;
  readonly step: string;
  readonly attempt: number;
  readonly status: AttemptStatus;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly error: (ErrorInfo & { readonly retryable: boolean }) | null;
}

export interface LogRecord {
  readonly runId: string;
  readonly step: string | null;
  readonly attempt: number | null;
  readonly time: number;
  readonly level: number;
  /** The whole structured line (JSON), as the logger wrote it. */
  readonly line: string;
}

/**
 * A log line as every store keeps it: one line. A line break inside it, which a JSON line never
 * holds, is written as JSON writes one (a Postgres store sends a batch's lines as one text).
 */
export const oneLine = (line: string): string => (line.includes("\n") ? line.replaceAll("\n", "\\n") : line);

/** What a run's end writes besides its status and error (see RunStore.finishRun). */
export interface FinishRunOptions {
  /**
   * The run's hooks are to be delivered, by a sweep from that time on unless the caller has
   * delivered them first (see moveHooks). None by default.
   */
  readonly hooksDueAt?: number | null;
  /** Log lines written with the end, only when this call ends the run (its "run finished"), after every line appended before. */
  readonly lines?: readonly LogRecord[];
  /**
   * The end of the attempt that ends the run (its last step's), written with it: one write for
   * both, where a fleet paid two. An attempt that opens (see RunStore.saveAttempt) is written only
   * if this call ends the run; a later record of an attempt always is.
   */
  readonly attempt?: AttemptEnd;
}

/** An attempt's record and its step's new state, as RunStore.saveAttempt writes them. */
export interface AttemptEnd {
  readonly attempt: AttemptRecord;
  readonly step: StepRecord;
  /** The attempt's first record (see RunStore.saveAttempt). */
  readonly opens: boolean;
}

/** Record counts and reasons of one ingestion, or the results of one suite of expectations. */
export interface ValidationReport {
  readonly runId: string | null;
  readonly step: string | null;
  /** The dataset checked (for a step output that is not a dataset: the output's name). */
  readonly dataset: string;
  /** The version checked, when it is a dataset version. */
  readonly version: number | null;
  readonly kind: "records" | "expectations";
  readonly checkerVersion: string | null;
  /**
   * Records: read = clean + quarantined, always. Of the quarantined, `newlyQuarantined` were not in
   * the quarantine yet (the others were read before); `restored` clean records are ones an earlier
   * replay fixed.
   */
  readonly counts: {
    readonly read: number;
    readonly clean: number;
    readonly quarantined: number;
    readonly newlyQuarantined?: number;
    readonly restored?: number;
  } | null;
  readonly reasons: readonly {
    readonly code: string;
    readonly column: string | null;
    readonly rule: string | null;
    readonly count: number;
  }[];
  readonly results: readonly ExpectationResult[];
  /** False when the check stopped the step (a `fail` expectation, too many rejects). */
  readonly passed: boolean;
  readonly at: number;
}

export interface RunQuery {
  readonly limit?: number;
  readonly pipeline?: string;
  readonly status?: RunStatus;
  /** Only runs whose id sorts before this one: the page after a page that ended with this id (ids sort by creation). */
  readonly before?: string;
}

/**
 * The `before` of the page after `page`, read with `limit`: its last run's id when it is full (there
 * may be more), undefined when it is the last page.
 */
export function nextBefore(page: readonly RunRecord[], limit: number): string | undefined {
  return page.length === limit ? page[limit - 1]!.id : undefined;
}

/** An ended run whose hooks are still to be delivered: from `dueAt` on, by whoever sweeps them. */
export interface DueHooks {
  readonly run: RunRecord;
  readonly dueAt: number;
}

export interface RunStore {
  /** Records a new run and its steps as pending. */
  createRun(run: RunRecord, steps: readonly string[]): Promise<void>;
  /**
   * Records an attempt and the step's new state together. The attempt's first record (`opens`: its
   * start, or the whole attempt when it ended before its start was recorded) is written only while
   * its run is running: false, and nothing written, when the run has ended (a step job that
   * outlived its run, whose attempt does not count). A later record of the attempt always is.
   */
  saveAttempt(attempt: AttemptRecord, step: StepRecord, opens?: boolean): Promise<boolean>;
  saveStep(step: StepRecord): Promise<void>;
  /**
   * Ends a running run. A run ends once: true for the call that ended it, false when it had ended
   * already (another worker ended it first), and nothing is changed then but an `attempt` that
   * does not open (see FinishRunOptions).
   */
  finishRun(id: string, status: RunStatus, endedAt: number, error: ErrorInfo | null, options?: FinishRunOptions): Promise<boolean>;
  /** Ended runs whose hooks were due at `now` or before, the longest due first. */
  dueHooks(now: number, limit: number): Promise<DueHooks[]>;
  /**
   * Moves a run's hooks from due at `from` to due at `to` (null: delivered), unless somebody moved
   * them since: true when this call did. A sweep claims a run's hooks this way, and whoever
   * delivered them clears them.
   */
  moveHooks(runId: string, from: number, to: number | null): Promise<boolean>;
  /** Keeps each line as one line (see oneLine), in the order given. */
  appendLogs(lines: readonly LogRecord[]): Promise<void>;
  listRuns(query?: RunQuery): Promise<RunRecord[]>;
  /** By full id or unique prefix; throws RUN_NOT_FOUND or RUN_AMBIGUOUS_ID. */
  getRun(idOrPrefix: string): Promise<RunRecord>;
  getSteps(runId: string): Promise<StepRecord[]>;
  getAttempts(runId: string): Promise<AttemptRecord[]>;
  getLogs(runId: string, filter?: { step?: string }): Promise<LogRecord[]>;
  saveValidation(report: ValidationReport): Promise<void>;
  /** A run's reports in the order they were saved. */
  getValidations(runId: string): Promise<ValidationReport[]>;
  close(): Promise<void>;
}

/**
 * What `getRun` throws when `idOrPrefix` is no run's id: RUN_NOT_FOUND when no id starts with it,
 * RUN_AMBIGUOUS_ID naming the first matches otherwise (`matches`: up to 6 ids, newest first).
 */
export function runLookupError(idOrPrefix: string, matches: readonly string[]): NotFoundError {
  if (matches.length === 0)
    return new NotFoundError("RUN_NOT_FOUND", `no run has the id "${idOrPrefix}" (see: strata runs list)`, {
      details: { runId: idOrPrefix },
    });
  const ids = matches.slice(0, 5);
  return new NotFoundError(
    "RUN_AMBIGUOUS_ID",
    `"${idOrPrefix}" is the start of several run ids (${ids.join(", ")}${matches.length > 5 ? ", ..." : ""}); give more of it`,
    { details: { runId: idOrPrefix, matches: ids } },
  );
}
