import type { ApiKeyRecord, ApiScope } from "./api-key-store.js";
import type { DatasetVersion, LineageRecord } from "./catalog-store.js";
import type { ModelVersion, NewModelVersion } from "./model-registry.js";
import type { AttemptRecord, ErrorInfo, LogRecord, RunRecord, RunStatus, StepRecord, StoredOutput } from "./run-store.js";
import type { StorageDefinition } from "./storage-definition.js";

/**
 * The rows of the metadata tables as both SQL metadata stores (SQLite, Postgres) read them, and
 * the records they become: one mapping, so the two stores cannot drift apart. Where the two
 * databases differ in a type (booleans), the row says so.
 */
export interface RunRow {
  id: string;
  pipeline: string;
  status: RunStatus;
  trigger_kind: RunRecord["trigger"]["kind"];
  trigger_id: string;
  params: string;
  /** Null in SQLite rows written before the column existed: the params as given were the params. */
  input_params: string | null;
  owner: string | null;
  resumed_from: string | null;
  started_at: number;
  ended_at: number | null;
  error_code: string | null;
  error_message: string | null;
}

export interface StepRow {
  run_id: string;
  step: string;
  status: StepRecord["status"];
  attempts: number;
  started_at: number | null;
  ended_at: number | null;
  error_code: string | null;
  error_message: string | null;
  output: string | null;
  reused_from: string | null;
}

export interface AttemptRow {
  run_id: string;
  step: string;
  attempt: number;
  status: AttemptRecord["status"];
  started_at: number;
  ended_at: number | null;
  error_code: string | null;
  error_message: string | null;
  /** SQLite has no booleans: 0 or 1 there, a boolean in Postgres. */
  retryable: boolean | number | null;
}

export interface LogRow {
  run_id: string;
  step: string | null;
  attempt: number | null;
  time: number;
  level: number;
  line: string;
}

const errorOf = (code: string | null, message: string | null): ErrorInfo | null =>
  code === null ? null : { code, message: message ?? "" };

export const toRun = (r: RunRow): RunRecord => ({
  id: r.id,
  pipeline: r.pipeline,
  status: r.status,
  trigger: { kind: r.trigger_kind, id: r.trigger_id },
  params: JSON.parse(r.params) as Record<string, unknown>,
  inputParams: JSON.parse(r.input_params ?? r.params) as Record<string, unknown>,
  owner: r.owner,
  resumedFrom: r.resumed_from,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  error: errorOf(r.error_code, r.error_message),
});

export const toStep = (r: StepRow): StepRecord => ({
  runId: r.run_id,
  step: r.step,
  status: r.status,
  attempts: r.attempts,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  error: errorOf(r.error_code, r.error_message),
  output: r.output === null ? null : (JSON.parse(r.output) as StoredOutput),
  reusedFrom: r.reused_from,
});

export const toAttempt = (r: AttemptRow): AttemptRecord => ({
  runId: r.run_id,
  step: r.step,
  attempt: r.attempt,
  status: r.status,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  error:
    r.error_code === null
      ? null
      : { code: r.error_code, message: r.error_message ?? "", retryable: r.retryable === true || r.retryable === 1 },
});

export const toLog = (r: LogRow): LogRecord => ({
  runId: r.run_id,
  step: r.step,
  attempt: r.attempt,
  time: r.time,
  level: r.level,
  line: r.line,
});

export interface VersionRow {
  dataset: string;
  version: number;
  storage: string;
  status: DatasetVersion["status"];
  rows: number | null;
  run_id: string | null;
  step: string | null;
  partition: string | null;
  created_at: number;
  finished_at: number | null;
  error: string | null;
  /** 0 or 1 in SQLite, a boolean in Postgres. */
  live: boolean | number;
}

export const toDatasetVersion = (r: VersionRow): DatasetVersion => ({
  dataset: r.dataset,
  version: r.version,
  storage: r.storage,
  status: r.status,
  rows: r.rows,
  runId: r.run_id,
  step: r.step,
  partition: r.partition,
  createdAt: r.created_at,
  finishedAt: r.finished_at,
  error: r.error,
  live: r.live === true || r.live === 1,
});

export interface StorageRow {
  name: string;
  technology: string;
  format: string;
  options: string;
}

export const toStorageDefinition = (r: StorageRow): StorageDefinition => ({
  name: r.name,
  technology: r.technology as StorageDefinition["technology"],
  format: r.format as StorageDefinition["format"],
  options: JSON.parse(r.options) as StorageDefinition["options"],
});

export interface LineageRow {
  run_id: string;
  step: string;
  dataset: string;
  version: number;
  direction: "read" | "write";
  at: number;
}

export const toLineage = (r: LineageRow): LineageRecord => ({
  runId: r.run_id,
  step: r.step,
  dataset: r.dataset,
  version: r.version,
  direction: r.direction,
  at: r.at,
});

export interface ModelRow {
  name: string;
  version: number;
  algorithm: string;
  params: string;
  metrics: string;
  artifact: string | null;
  run_id: string | null;
  step: string | null;
  created_at: number;
}

export const toModelVersion = (row: ModelRow, aliases: readonly string[]): ModelVersion => ({
  name: row.name,
  version: row.version,
  algorithm: row.algorithm,
  params: JSON.parse(row.params) as Record<string, unknown>,
  metrics: JSON.parse(row.metrics) as Record<string, number>,
  runId: row.run_id,
  step: row.step,
  createdAt: row.created_at,
  artifact: row.artifact === null ? null : (JSON.parse(row.artifact) as unknown),
  aliases,
});

export interface ApiKeyRow {
  id: string;
  name: string;
  hash: string;
  scopes: string;
  hint: string;
  created_at: number;
  revoked_at: number | null;
}

export const toApiKeyRecord = (row: ApiKeyRow): ApiKeyRecord => ({
  id: row.id,
  name: row.name,
  scopes: JSON.parse(row.scopes) as ApiScope[],
  createdAt: row.created_at,
  revokedAt: row.revoked_at,
  hint: row.hint,
});

/** The columns of a new model version's row, and its values in that order (both dialects insert them). */
export const MODEL_INSERT_COLUMNS = "name, version, algorithm, params, metrics, artifact, run_id, step, created_at";

export function modelRowValues(entry: NewModelVersion, version: number): unknown[] {
  return [
    entry.name,
    version,
    entry.algorithm,
    JSON.stringify(entry.params),
    JSON.stringify(entry.metrics ?? {}),
    entry.artifact === undefined ? null : JSON.stringify(entry.artifact),
    entry.runId,
    entry.step,
    entry.at,
  ];
}
