import type { LevelWithSilent } from "pino";
import type { Clock } from "../clock/clock.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import { endRun, skippedStep, stepFailures } from "../runtime/run-end.js";
import { RunLogger } from "../runtime/run-logger.js";
import type { Workspace } from "../runtime/workspace.js";
import type { AttemptEnd, RunRecord, StepRecord, StepStatus } from "../storage/run-store.js";
import type { RunMarks, StepQueue } from "./step-queue.js";

export interface ProgressDeps {
  readonly workspace: Workspace;
  readonly queue: StepQueue;
  readonly marks: RunMarks;
  readonly clock: Clock;
  readonly logLevel?: LevelWithSilent;
}

const DONE: ReadonlySet<StepStatus> = new Set(["succeeded", "reused"]);
const DEAD: ReadonlySet<StepStatus> = new Set(["failed", "cancelled", "skipped"]);
/** A step that will not run again in this run: done, or failed, cancelled or skipped. */
export const isEnded = (status: StepStatus): boolean => DONE.has(status) || DEAD.has(status);

/**
 * Moves a queued run on from what its step records say, after a step ended (or at launch): steps
 * that can no longer run are recorded skipped, steps whose inputs are all done are enqueued, and
 * once every step has ended the run is ended and its hooks called. Any worker may call it at any
 * time, as often as it likes: job ids make each enqueue happen once, and a mark in Redis the end. Of
 * two workers ending the last two steps at once, at least one reads both records (each writes its
 * own before reading), so a run is never left waiting. `known` are records the caller has and that
 * nobody else can be changing (at launch; or every other step had ended): they save the read.
 * `after`: the step whose end moves the run on. Only its downstream steps are enqueued then: the
 * steps ready at launch were enqueued at launch, perhaps in a pack whose job id is not theirs (see
 * StepQueue.add), and a step's record may say pending while it runs (see AttemptStart).
 * `attempt`: that step's last attempt's end, not written yet; with `known`, every step has ended
 * once it is, and it is written with the run's end (see endRun). Resolves to the run as this call
 * ended it; undefined when it did not (steps left to run, or ended by another caller).
 */
export async function advanceRun(
  deps: ProgressDeps,
  pipeline: AnyPipeline,
  run: RunRecord,
  options: { known?: readonly StepRecord[]; logger?: RunLogger; cancelled?: boolean; after?: string; attempt?: AttemptEnd } = {},
): Promise<RunRecord | undefined> {
  const { workspace, queue, marks } = deps;
  const { store } = workspace;
  const records = new Map((options.known ?? (await store.getSteps(run.id))).map((s) => [s.step, s]));
  const status = (name: string): StepStatus => records.get(name)?.status ?? "pending";
  const cancelled = options.cancelled ?? (await marks.isCancelled(run.id));

  const ready: string[] = [];
  for (const step of pipeline.steps) {
    if (status(step.name) !== "pending") continue;
    const upstream = pipeline.dag.upstream.get(step.name) ?? [];
    const failed = upstream.find((name) => DEAD.has(status(name)));
    if (cancelled || failed !== undefined) {
      const reason = cancelled ? "the run was cancelled" : `upstream step "${failed}" failed`;
      const skipped = skippedStep(run.id, step.name, reason);
      await store.saveStep(skipped);
      records.set(step.name, skipped);
    } else if (upstream.every((name) => DONE.has(status(name))) && (options.after === undefined || upstream.includes(options.after)))
      ready.push(step.name);
  }
  // A step already enqueued keeps its job (its job id), and one that ended is seen as ended by its
  // worker: after an add that failed, moving the run on again is safe.
  // Moved on by the control plane (at launch, say), not by a step's end: no worker enqueues these steps.
  const pack = options.after === undefined;
  await queue.add(
    ready.map((step) => ({ runId: run.id, pipeline: pipeline.name, step, run })),
    pack,
  );
  if (!pipeline.steps.every((s) => isEnded(status(s.name)))) return undefined;
  // The store ends a run once: of workers that both saw every step ended, one ends it and says so.
  const finished = await endRunOf(deps, pipeline, run, [...records.values()], cancelled, options.logger, options.attempt);
  if (finished)
    await marks.announceEnd(
      run.id,
      pipeline.name,
      finished.status,
      pipeline.steps.map((s) => s.name),
    );
  return finished;
}

async function endRunOf(
  deps: ProgressDeps,
  pipeline: AnyPipeline,
  run: RunRecord,
  records: readonly StepRecord[],
  cancelled: boolean,
  given: RunLogger | undefined,
  attempt: AttemptEnd | undefined,
): Promise<RunRecord | undefined> {
  const { store } = deps.workspace;
  const logger = given ?? new RunLogger(store, run.id, run.trigger.id, pipeline.name, deps.logLevel ? { level: deps.logLevel } : {});
  try {
    const failures = stepFailures(pipeline, records);
    const ending = { store, clock: deps.clock, logger, emit: () => undefined, cancelled, failures };
    return await endRun(pipeline, run, attempt ? { ...ending, attempt } : ending);
  } finally {
    if (!given) await logger.close().catch(() => undefined);
  }
}

/** The step records of a run just recorded: pending, or reused from the run it resumes. */
export function launchRecords(pipeline: AnyPipeline, runId: string, reused: ReadonlyMap<string, { from: string }>): StepRecord[] {
  return pipeline.steps.map((s) => ({
    runId,
    step: s.name,
    status: reused.has(s.name) ? "reused" : "pending",
    attempts: 0,
    startedAt: null,
    endedAt: null,
    error: null,
    output: null,
    reusedFrom: reused.get(s.name)?.from ?? null,
  }));
}
