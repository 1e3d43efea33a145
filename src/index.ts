/**
 * Strata's public API. The CLI and the server are thin shells over these functions.
 * @module
 */
export { z } from "zod";
export {
  pipeline,
  isPipeline,
  type PipelineDefinition,
  type PipelineOptions,
  type ParamRefs,
  type AnyPipeline,
} from "./pipeline/pipeline.js";
export { step, type StepOptions, type StepFn, type StepDefinition } from "./pipeline/step.js";
export { expect } from "./pipeline/pipeline.js";
export { ingest, type IngestOptions } from "./pipeline/ingest.js";
export {
  rowCount,
  notNull,
  nullRate,
  unique,
  inSet,
  range,
  regex,
  freshness,
  references,
  drift,
  satisfies,
  type Expectation,
  type ExpectationOptions,
  type ExpectationResult,
  type Severity,
} from "./validation/expectations.js";
export { rule, type RecordRule, type UnknownFields } from "./validation/record-rules.js";
export * as cltv from "./models/cltv/index.js";
export { REASON_CODES, type ReasonCode, type RejectReason } from "./validation/reason-codes.js";
export { sql, type SqlQuery, type SqlLiteral } from "./pipeline/sql.js";
export { command, type CommandSpec, type CommandOptions } from "./pipeline/command.js";
export { dataset, type DatasetRef, type DatasetOptions, type CsvOptions } from "./pipeline/dataset.js";
export { t, type Column, type ColumnKind, type ColumnSpec, type Schema, type RowOf } from "./data/column-types.js";
export { storage, type StorageDefinition, type Technology, type Format } from "./storage/storage-definition.js";
export type { StepRef, ParamRef, Inputs, InputValues } from "./pipeline/refs.js";
export type { Table, Batch } from "./pipeline/table.js";
export type { StepContext } from "./pipeline/step-context.js";
export type { RetryOptions } from "./pipeline/retry-policy.js";
export {
  notify,
  type Hook,
  type WebhookHook,
  type CommandHook,
  type EmailHook,
  type HookOptions,
  type HookRetry,
} from "./pipeline/hooks.js";
export { parseParamArgs, validateParams } from "./pipeline/params.js";
export { runPipeline, type RunOptions, type RunResult, type StepSummary } from "./runtime/run-pipeline.js";
export { openWorkspace, type Workspace, type WorkspaceOptions } from "./runtime/workspace.js";
export type { MetadataChoice } from "./storage/metadata-stores.js";
export type { RunEvent, RunEventListener } from "./runtime/events.js";
export type { HookPayload } from "./runtime/hook-runner.js";
export type {
  RunStore,
  RunRecord,
  RunQuery,
  StepRecord,
  AttemptRecord,
  LogRecord,
  RunStatus,
  StepStatus,
  AttemptStatus,
  Trigger,
  TriggerKind,
  ErrorInfo,
  StoredOutput,
  ValidationReport,
} from "./storage/run-store.js";
export type { ModelRegistry, ModelVersion, NewModelVersion } from "./storage/model-registry.js";
export type { QuarantineStore, QuarantinedRecord, QuarantineStatus, ReasonGroup } from "./storage/quarantine-store.js";
export type { TableEngine } from "./storage/table-engine.js";
export { systemClock, TestClock, type Clock } from "./clock/clock.js";
export { ERROR_CODES, type ErrorCode } from "./errors/codes.js";
export { StrataError, isStrataError } from "./errors/strata-error.js";
export {
  NonRetryableError,
  StepTimeoutError,
  CancelledError,
  ParamError,
  DagError,
  ProjectError,
  NotFoundError,
  SqlError,
  StoreError,
  HookError,
  ValidationError,
} from "./errors/errors.js";
export { defineProject, type ProjectConfig } from "./project/define-project.js";
export type { MetadataConfig } from "./project/metadata-config.js";
export type { QueueConfig } from "./project/queue-config.js";
export { addStorage } from "./project/add-storage.js";
export { StorageSet, type StorageStatus } from "./data/storage-set.js";
export type { Health, OpenStorage, StorageAdapter } from "./storage/adapter.js";
export type { KvStore } from "./storage/kv-store.js";
export type { CatalogStore, DatasetVersion, LineageRecord } from "./storage/catalog-store.js";
export { loadProject, openProject, type LoadedProject, type ProjectInfo } from "./project/load-project.js";
export {
  endpoint,
  implement,
  type EndpointType,
  type EndpointOptions,
  type Implementation,
  type ImplementationFn,
  type Routing,
  type InputOf,
  type OutputOf,
} from "./serving/endpoint.js";
export type { EndpointContext, KvReader, TableReader } from "./serving/endpoint-context.js";
export { startModelsServer, type ModelsServer, type ModelsServerOptions } from "./server/models-server.js";
export { cron, type CronSchedule, type CronOptions, type CatchUp } from "./schedule/cron.js";
export {
  on,
  type EventTrigger,
  type DatasetTrigger,
  type PartitionTrigger,
  type StreamTrigger,
  type OverlapPolicy,
} from "./schedule/triggers.js";
export { startControlServer, type ControlServer, type ControlServerOptions } from "./server/control-server.js";
export type { Executor, Launch, LaunchRequest } from "./schedule/executor.js";
export { startStepWorker, type StepWorker, type StepWorkerOptions } from "./queue/step-worker.js";
export { planBackfill, runBackfill } from "./schedule/backfill.js";
export type { ApiKeyStore, ApiKeyRecord, ApiScope } from "./storage/api-key-store.js";
