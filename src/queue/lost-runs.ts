import type { Logger } from "pino";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import { nextBefore, type RunRecord } from "../storage/run-store.js";
import { advanceRun, isEnded, type ProgressDeps } from "./run-progress.js";
import { LIVE_JOB_STATES, type StepJobState } from "./step-queue.js";

export interface LostRunsOptions {
  readonly deps: ProgressDeps;
  readonly pipelines: ReadonlyMap<string, AnyPipeline>;
  /** The runs of this queue: `queue:<prefix>`. */
  readonly owner: string;
  readonly log: Logger;
  /** How long a run must have looked lost, over two checks, before it is moved on. Default 60 s. */
  readonly graceMs?: number;
  /** Running runs looked at per check (default 1000); more are looked at over the next checks. */
  readonly batch?: number;
}

/**
 * Runs on the queue that nothing moves on any more: running in the metadata store, yet no job of
 * theirs is on the queue. Redis lost the jobs (a restart without an append-only file, a flush), or
 * a job failed for good while its failure could not be recorded (the store was down then). Workers
 * move runs on; with no job, no worker ever will, and the run would show "running" forever.
 *
 * A run that looks so in two checks at least `graceMs` apart (a run between two of its steps always
 * has a job: the next one is enqueued before the last one is acknowledged) is moved on here as a
 * worker would have: a step whose job failed for good is recorded failed with the job's reason, a
 * step whose job is gone is enqueued again (a worker then treats its attempt as lost with its
 * worker, see lost-attempt.ts, which bounds how often), and the run goes on or ends.
 *
 * A check looks at one page of running runs (each costs a queue lookup per step), the next check
 * at the page after it, and after the oldest page the newest again: every running run is looked
 * at, however many are in flight, each once per round of pages.
 */
export class LostRuns {
  readonly #o: LostRunsOptions;
  /** Run id -> when a check first saw it with no job. */
  readonly #suspects = new Map<string, number>();
  /** The id the next check's page starts below; undefined: from the newest. */
  #next: string | undefined;

  constructor(options: LostRunsOptions) {
    this.#o = options;
  }

  /** One check; resolves with the ids of the runs it moved on. */
  async check(): Promise<string[]> {
    const { deps, owner } = this.#o;
    const now = deps.clock.now();
    const graceMs = this.#o.graceMs ?? 60_000;
    const batch = this.#o.batch ?? 1000;
    const from = this.#next;
    const page = await deps.workspace.store.listRuns({ status: "running", limit: batch, ...(from === undefined ? {} : { before: from }) });
    const last = nextBefore(page, batch); // undefined: the oldest page
    this.#next = last;
    // The ids this page spans: a suspect among them that it does not show has a job again, or ended.
    const spanned = (id: string): boolean => (from === undefined || id < from) && (last === undefined || id >= last);
    const running = page.filter((r) => r.owner === owner && now - r.startedAt >= graceMs);
    const moved: string[] = [];
    const seen = new Set<string>();
    for (const run of running) {
      const pipeline = this.#o.pipelines.get(run.pipeline);
      if (!pipeline) continue; // another deploy's: left to a control plane that has it
      const jobs = await Promise.all(pipeline.steps.map(async (s) => [s.name, await deps.queue.jobOf(run.id, s.name)] as const));
      if (jobs.some(([, job]) => LIVE_JOB_STATES.has(job.state))) continue;
      seen.add(run.id);
      const since = this.#suspects.get(run.id);
      if (since === undefined) this.#suspects.set(run.id, now);
      else if (now - since >= graceMs) {
        await this.#moveOn(pipeline, run, new Map(jobs));
        this.#suspects.delete(run.id);
        moved.push(run.id);
      }
    }
    for (const id of this.#suspects.keys()) if (spanned(id) && !seen.has(id)) this.#suspects.delete(id);
    return moved;
  }

  async #moveOn(pipeline: AnyPipeline, run: RunRecord, jobs: ReadonlyMap<string, StepJobState>): Promise<void> {
    const { deps, log } = this.#o;
    const { store } = deps.workspace;
    const failed: string[] = [];
    const again: string[] = [];
    for (const record of await store.getSteps(run.id)) {
      if (isEnded(record.status)) continue;
      const failure = jobs.get(record.step)?.failure;
      if (failure) {
        await store.saveStep({ ...record, status: "failed", endedAt: deps.clock.now(), error: failure, output: null });
        failed.push(record.step);
      } else if (record.status !== "pending") again.push(record.step); // taken once, its job gone: taken again
    }
    log.warn({ runId: run.id, pipeline: run.pipeline, failed, again }, "run with no job on the queue: moved on by the control plane");
    await deps.queue.unpacked(pipeline.steps.map((s) => ({ runId: run.id, step: s.name })));
    await deps.queue.add(again.map((step) => ({ runId: run.id, pipeline: pipeline.name, step, run, retaken: true as const })));
    await advanceRun(deps, pipeline, run);
  }
}
