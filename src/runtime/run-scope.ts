import type { Clock } from "../clock/clock.js";
import type { RunRecord } from "../storage/run-store.js";
import type { RunEventListener } from "./events.js";
import type { RunLogger } from "./run-logger.js";
import type { RunScope } from "./step-executor.js";
import type { Workspace } from "./workspace.js";

export interface RunScopeOptions {
  readonly logger: RunLogger;
  readonly clock: Clock;
  readonly random?: () => number;
  readonly signal: AbortSignal;
  readonly emit: RunEventListener;
  readonly interpreters?: Readonly<Record<string, string>>;
  readonly lease?: () => Promise<void>;
}

/** What the steps of `run` share, empty: outputs and pinned reads fill in as steps run. */
export function newRunScope(workspace: Workspace, run: RunRecord, options: RunScopeOptions): RunScope {
  return {
    runId: run.id,
    triggerId: run.trigger.id,
    pipeline: run.pipeline,
    params: run.params,
    store: workspace.store,
    catalog: workspace.catalog,
    models: workspace.models,
    storages: workspace.storages,
    engine: () => workspace.engine(),
    quarantine: () => workspace.quarantine(),
    logger: options.logger,
    clock: options.clock,
    random: options.random ?? Math.random,
    signal: options.signal,
    emit: options.emit,
    outputs: new Map(),
    loadedTables: new Map(),
    datasetReads: new Map(),
    writtenVersions: new Map(),
    scratch: [],
    starts: new Map(),
    interpreters: { ...(process.env.STRATA_PYTHON ? { python: process.env.STRATA_PYTHON } : {}), ...options.interpreters },
    ...(options.lease ? { lease: options.lease } : {}),
  };
}

/** Drops the tables a run made only to read its inputs; a failure costs disk, never a result. */
export async function dropScratch(scope: RunScope): Promise<void> {
  for (const { engine, table } of scope.scratch.splice(0)) await engine.drop(table).catch(() => undefined);
}
