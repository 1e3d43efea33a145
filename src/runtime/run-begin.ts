import type { Clock } from "../clock/clock.js";
import { StrataError } from "../errors/strata-error.js";
import { downstreamOf } from "../pipeline/dag.js";
import { validateParams } from "../pipeline/params.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import type { RunRecord, StoredOutput, Trigger } from "../storage/run-store.js";
import { settleAbandoned } from "./abandoned-runs.js";
import { newId } from "./ids.js";
import { decodeOutput } from "./output-codec.js";
import type { Workspace } from "./workspace.js";

export interface BeginRunOptions {
  /** Raw params (CLI strings or JSON values). */
  readonly params?: Record<string, unknown>;
  readonly trigger?: Trigger;
  /** Id (or unique prefix) of an earlier run of this pipeline: reuse what it finished. */
  readonly resume?: string;
  readonly clock: Clock;
  /** Who drives the run: `host:pid` of a process, or `queue:<prefix>` for the worker fleet. */
  readonly owner: string;
}

export interface BegunRun {
  readonly run: RunRecord;
  /** Steps reused from the resumed run (already recorded as "reused"), with their values. */
  readonly reused: ReadonlyMap<string, { readonly value: unknown; readonly from: string }>;
}

interface ResumePlan {
  readonly from: RunRecord;
  readonly reuse: Map<string, { value: unknown; stored: StoredOutput | null }>;
}

async function planResume(pipeline: AnyPipeline, workspace: Workspace, runId: string, now: number): Promise<ResumePlan> {
  const from = await settleAbandoned(workspace, await workspace.store.getRun(runId), now);
  if (from.pipeline !== pipeline.name) {
    throw new StrataError("RESUME_INVALID", `run ${from.id} is a run of "${from.pipeline}", not of "${pipeline.name}"`, {
      details: { runId: from.id },
    });
  }
  if (from.status === "running") {
    throw new StrataError(
      "RESUME_INVALID",
      `run ${from.id} is still running (${from.owner ?? "owner unknown"}); wait for it or cancel it before resuming`,
      { details: { runId: from.id } },
    );
  }
  const records = new Map((await workspace.store.getSteps(from.id)).map((s) => [s.step, s]));
  const done = (name: string): boolean => {
    const record = records.get(name);
    return !!record?.output && (record.status === "succeeded" || record.status === "reused");
  };
  // Everything downstream of a step that did not finish runs again; only the rest is decoded.
  const redo = downstreamOf(
    pipeline.dag,
    pipeline.steps.filter((s) => !done(s.name)).map((s) => s.name),
  );
  const reuse = new Map<string, { value: unknown; stored: StoredOutput | null }>();
  for (const step of pipeline.steps) {
    if (redo.has(step.name)) continue;
    const stored = records.get(step.name)!.output!;
    const decoded = await decodeOutput(stored, () => workspace.engine());
    if (decoded) reuse.set(step.name, { ...decoded, stored });
  }
  // A step whose output cannot be reused (opaque, or its table is gone) reruns with its dependents.
  const lost = pipeline.steps.filter((s) => !redo.has(s.name) && !reuse.has(s.name)).map((s) => s.name);
  for (const name of downstreamOf(pipeline.dag, lost)) reuse.delete(name);
  return { from, reuse };
}

function resumeParams(pipeline: AnyPipeline, params: Record<string, unknown> | undefined, from: RunRecord): Record<string, unknown> {
  const validated = validateParams(pipeline, from.inputParams);
  if (params && Object.keys(params).length) {
    if (JSON.stringify(validateParams(pipeline, params)) !== JSON.stringify(validated)) {
      throw new StrataError("RESUME_INVALID", `a resume reuses the params of run ${from.id}; start a new run to change them`, {
        details: { runId: from.id },
      });
    }
  }
  return validated;
}

/**
 * Records a new run: params validated first (ParamError before anything is written), then the
 * run and its steps, and for a resume the steps reused from the earlier run. Shared by the local
 * executor (`runPipeline`) and the queue executor, which differ only in who runs the steps.
 */
export async function beginRun(pipeline: AnyPipeline, workspace: Workspace, options: BeginRunOptions): Promise<BegunRun> {
  const { clock } = options;
  const resume = options.resume ? await planResume(pipeline, workspace, options.resume, clock.now()) : undefined;
  const params = resume ? resumeParams(pipeline, options.params, resume.from) : validateParams(pipeline, options.params ?? {});
  const startedAt = clock.now();
  const trigger = options.trigger ?? { kind: "manual", id: newId("t", startedAt) };
  const run: RunRecord = {
    id: newId("r", startedAt),
    pipeline: pipeline.name,
    status: "running",
    trigger,
    params,
    inputParams: resume ? resume.from.inputParams : (options.params ?? {}),
    owner: options.owner,
    resumedFrom: resume?.from.id ?? null,
    startedAt,
    endedAt: null,
    error: null,
  };
  await workspace.store.createRun(
    run,
    pipeline.steps.map((s) => s.name),
  );
  const reused = new Map<string, { value: unknown; from: string }>();
  for (const step of pipeline.steps) {
    const entry = resume?.reuse.get(step.name);
    if (!entry) continue;
    const from = resume!.from.id;
    reused.set(step.name, { value: entry.value, from });
    await workspace.store.saveStep({
      runId: run.id,
      step: step.name,
      status: "reused",
      attempts: 0,
      startedAt: null,
      endedAt: null,
      error: null,
      output: entry.stored,
      reusedFrom: from,
    });
  }
  return { run, reused };
}
