import { UnrecoverableError, Worker, type Job } from "bullmq";
import pLimit from "p-limit";
import type { Redis } from "ioredis";
import type { LevelWithSilent, Logger } from "pino";
import { systemClock, type Clock } from "../clock/clock.js";
import { CancelledError } from "../errors/errors.js";
import { describeError, isStrataError, StrataError } from "../errors/strata-error.js";
import { validateParams } from "../pipeline/params.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import type { StepDefinition } from "../pipeline/step.js";
import type { QueueTarget } from "../project/queue-config.js";
import { RunLogger } from "../runtime/run-logger.js";
import { dropScratch, newRunScope } from "../runtime/run-scope.js";
import { executeStep } from "../runtime/step-executor.js";
import type { Workspace } from "../runtime/workspace.js";
import type { ErrorInfo, RunRecord, StepRecord } from "../storage/run-store.js";
import { MAX_LOST, recoverLostAttempt } from "./lost-attempt.js";
import { readInputs } from "./step-inputs.js";
import { advanceRun, isEnded, launchRecords, type ProgressDeps } from "./run-progress.js";
import {
  jobFailure,
  queueConnection,
  RunMarks,
  stalledOut,
  STEP_QUEUE,
  StepQueue,
  stepsOf,
  type QueueJob,
  type StepJob,
} from "./step-queue.js";

export interface StepWorkerOptions {
  readonly pipelines: ReadonlyMap<string, AnyPipeline>;
  readonly workspace: Workspace;
  readonly target: QueueTarget;
  /** Steps this process runs at once. */
  readonly concurrency: number;
  readonly log: Logger;
  /**
   * How long a job stays locked to a worker that stopped renewing it (killed, frozen) before
   * another worker takes the step again. Default 30 s; the lock is renewed every half of it.
   */
  readonly lockMs?: number;
  readonly clock?: Clock;
  readonly logLevel?: LevelWithSilent;
  readonly interpreters?: Readonly<Record<string, string>>;
}

export interface StepWorker {
  /** Stops taking jobs and waits for the steps running here to end. */
  close(): Promise<void>;
}

/**
 * The step's lease: resolves while this worker holds the job, throws STEP_TAKEN_OVER once it may
 * not. BullMQ locks a job for `lockMs` when it is taken and renews the lock on a timer, which an
 * event loop blocked by a step stops; the lock then runs out and another worker may take the
 * step. Within half the lock of the time it was taken or last extended here, it must still be
 * ours: no round trip; after that, extending it says. Once BullMQ has failed to renew it, it is
 * lost whatever the clock says.
 */
function leaseOf(
  job: Job<QueueJob>,
  member: StepJob,
  token: string | undefined,
  lockMs: number,
  unrenewed: ReadonlySet<string>,
): () => Promise<void> {
  // Held since the job was taken (BullMQ's own clock for the lock), not since this was called.
  let heldAt = job.processedOn ?? Date.now();
  return async () => {
    const asked = Date.now();
    if (!unrenewed.has(job.id!)) {
      if (asked - heldAt < lockMs / 2) return;
      if (token && (await job.extendLock(token, lockMs)) === 1) {
        heldAt = asked;
        return;
      }
    }
    throw new StrataError(
      "STEP_TAKEN_OVER",
      `step "${member.step}" of run ${member.runId} was taken over by another worker: this worker's lock on it ran out (its event loop was blocked longer than the lock, ${lockMs} ms), so this attempt's results are not kept`,
      { details: { runId: member.runId, step: member.step } },
    );
  };
}

/** A step failed without a further attempt (its inputs cannot be had, its worker cannot run it). */
function failedRecord(runId: string, step: string, mine: StepRecord | undefined, at: number, error: ErrorInfo): StepRecord {
  const started = { attempts: mine?.attempts ?? 0, startedAt: mine?.startedAt ?? null };
  return { runId, step, status: "failed", ...started, endedAt: at, error, output: null, reusedFrom: null };
}

/**
 * `strata worker`: takes step jobs from the queue and runs each step as the local executor would
 * (attempts, retries, timeouts, expectations, dataset writes), then moves its run on. Everything a
 * step reads from earlier steps comes from the metadata store and the storages, never from memory:
 * any worker on any machine can take any step.
 */
export async function startStepWorker(options: StepWorkerOptions): Promise<StepWorker> {
  const { workspace, target, log } = options;
  const clock = options.clock ?? systemClock;
  const connections: Redis[] = [];
  const connect = async (pipelined = false): Promise<Redis> => {
    const redis = await queueConnection(target, "worker", pipelined);
    connections.push(redis);
    return redis;
  };
  let producer: Redis, marking: Redis, subscriber: Redis, blocking: Redis;
  try {
    [producer, marking, subscriber, blocking] = [await connect(), await connect(true), await connect(), await connect()];
  } catch (error) {
    connections.forEach((r) => r.disconnect());
    throw error;
  }
  // Marks have a connection of their own: BullMQ defines its scripts on the queue's, and an
  // automatic pipeline copies every script of its connection (a tenth of a step's cost). For the
  // same reason the queue's is not pipelined: the adds of a turn already go as one BullMQ addBulk,
  // itself one pipeline (see StepQueue.add), and nothing else is sent on it per step.
  const marks = new RunMarks(marking, target.prefix);
  const queue = new StepQueue(target, producer);
  const deps: ProgressDeps = { workspace, queue, marks, clock, ...(options.logLevel ? { logLevel: options.logLevel } : {}) };
  const active = new Map<string, Set<AbortController>>(); // run id -> its steps running here
  const running = new Set<string>(); // ids of the jobs running here
  const unrenewed = new Set<string>(); // ids of jobs running here whose lock BullMQ could not renew
  const pipelineOf = (name: string): AnyPipeline => {
    const pipeline = options.pipelines.get(name);
    if (pipeline) return pipeline;
    // The control plane knows a pipeline this worker's project does not: a deploy out of step.
    throw new UnrecoverableError(`PIPELINE_NOT_FOUND: this worker's project has no pipeline "${name}"`);
  };

  const lockMs = options.lockMs ?? 30_000;
  // A pack's steps each take a place: `concurrency` bounds the steps running here, whatever their jobs.
  const places = pLimit(options.concurrency);
  /**
   * A job's steps, side by side. One that fails for Strata's own reason (a store down) fails the
   * job, once the others have ended: BullMQ then tries the job again, and its steps that ended
   * are seen to have ended.
   */
  const processJob = async (job: Job<QueueJob>, token: string | undefined, signal?: AbortSignal): Promise<string> => {
    running.add(job.id!);
    try {
      const steps = stepsOf(job.data);
      const ends = await Promise.allSettled(steps.map((member) => places(() => processStep(job, member, token, signal))));
      const failed = ends.find((end) => end.status === "rejected");
      if (failed) throw failed.reason;
      return ends.map((end) => (end.status === "fulfilled" ? end.value : "")).join(",");
    } finally {
      running.delete(job.id!);
      unrenewed.delete(job.id!);
    }
  };

  const processStep = async (job: Job<QueueJob>, member: StepJob, token: string | undefined, jobSignal?: AbortSignal): Promise<string> => {
    const { runId, step: stepName, run } = member;
    const pipeline = pipelineOf(member.pipeline);
    const step = pipeline.dag.byName.get(stepName);
    if (!step) throw new UnrecoverableError(`STEP_NOT_FOUND: pipeline "${pipeline.name}" of this worker has no step "${stepName}"`);
    // On a first delivery of the only step of its run, nothing can have recorded it yet: no read.
    const first = job.attemptsMade === 0 && !job.stalledCounter && !member.retaken && pipeline.steps.length === 1;
    const records = new Map(
      (first ? launchRecords(pipeline, runId, new Map()) : await workspace.store.getSteps(runId)).map((s) => [s.step, s]),
    );
    const mine = records.get(stepName);
    if (mine && isEnded(mine.status)) {
      // Delivered again after it ended (its worker died before the job was acknowledged).
      await advanceRun(deps, pipeline, run, { after: stepName });
      return "already-ended";
    }
    log.info({ runId, pipeline: pipeline.name, step: stepName, attempt: (mine?.attempts ?? 0) + 1 }, "step taken");
    // Its own signal: a cancel stops this step, not the others of its pack; the job's stops them all.
    const controller = new AbortController();
    const abort = (): void => controller.abort(new CancelledError("the step's job was stopped on this worker"));
    jobSignal?.addEventListener("abort", abort, { once: true });
    let controllers = active.get(runId);
    if (!controllers) active.set(runId, (controllers = new Set()));
    controllers.add(controller);
    try {
      if (jobSignal?.aborted) abort();
      // Checked once this step can hear a cancel: one announced before is seen here, one after aborts it.
      if (await marks.isCancelled(runId)) {
        await advanceRun(deps, pipeline, run, { cancelled: true });
        return "cancelled";
      }
      return await runStep(pipeline, step, run, records, mine, controller.signal, leaseOf(job, member, token, lockMs, unrenewed));
    } finally {
      jobSignal?.removeEventListener("abort", abort);
      controllers.delete(controller);
      if (!controllers.size) active.delete(runId);
    }
  };

  const runStep = async (
    pipeline: AnyPipeline,
    step: StepDefinition,
    stored: RunRecord,
    records: ReadonlyMap<string, StepRecord>,
    mine: StepRecord | undefined,
    signal: AbortSignal,
    lease: () => Promise<void>,
  ): Promise<string> => {
    const run = { ...stored, params: validateParams(pipeline, stored.inputParams) };
    const logger = new RunLogger(workspace.store, run.id, run.trigger.id, pipeline.name, {
      ...(options.logLevel ? { level: options.logLevel } : {}),
    });
    const scope = newRunScope(workspace, run, {
      logger,
      clock,
      signal,
      lease,
      emit: () => undefined,
      ...(options.interpreters ? { interpreters: options.interpreters } : {}),
    });
    try {
      try {
        await readInputs(scope, pipeline, step, records);
      } catch (error) {
        // An input that cannot be had fails the step at once: no attempt could do better.
        const { code, message } = describeError(error);
        logger.forAttempt(step.name, 0).error({ err: error, code }, "step failed: its inputs cannot be read");
        await failOutright(pipeline, run, step.name, mine, { code, message });
        return "failed";
      }
      const lost = mine?.attempts ?? 0;
      if (lost > 0 && (await recoverLostAttempt(scope, step, mine!, logger))) {
        await advanceRun(deps, pipeline, run, { after: step.name });
        return "adopted";
      }
      // When every other step had ended before this one began, nobody else is changing the run's
      // records: this step's end ends the run, and is written with it, in one write (keepEnd).
      const alone = pipeline.steps.every((s) => s.name === step.name || isEnded(records.get(s.name)?.status ?? "pending"));
      const stopped = (error: unknown): string => {
        if (isStrataError(error) && error.code === "RUN_FINISHED") {
          // Its run was ended meanwhile (failed when its steps could not all be enqueued, say): nothing to do.
          log.warn({ runId: run.id, step: step.name, code: error.code }, "step of a run that has ended: not run");
          return "run-ended";
        }
        if (!isStrataError(error) || error.code !== "STEP_TAKEN_OVER") throw error;
        // The other worker's attempt is the one that counts: nothing more is written from here.
        logger.root.warn({ step: step.name, code: error.code }, error.message);
        log.warn({ runId: run.id, step: step.name, code: error.code }, "step taken over by another worker: this attempt's results dropped");
        return "taken-over";
      };
      let outcome: Awaited<ReturnType<typeof executeStep>>;
      try {
        outcome = await executeStep(scope, step, lost + 1, { keepEnd: alone });
      } catch (error) {
        return stopped(error);
      } finally {
        await dropScratch(scope);
      }
      // The kept end is written after the scratch tables are dropped: still this worker's step?
      if (outcome.end) {
        try {
          await lease();
        } catch (error) {
          return stopped(error);
        }
      }
      // Alone, this step's kept end completes the run's records: they need not be read again.
      const known = outcome.end ? [...[...records.values()].filter((r) => r.step !== step.name), outcome.end.step] : undefined;
      // The last step, not cancelled while it ran: a cancel announced after it ended is too late
      // to change anything, so the mark need not be read again.
      const finished = await advanceRun(deps, pipeline, run, {
        logger,
        after: step.name,
        ...(known ? { known, ...(signal.aborted ? {} : { cancelled: false }) } : {}),
        ...(outcome.end ? { attempt: outcome.end } : {}),
      });
      if (outcome.end?.opens && !finished) {
        // Its run was ended meanwhile (failed when its steps could not all be enqueued, cancelled):
        // the attempt, whose start was never recorded, is refused with the end.
        log.warn({ runId: run.id, step: step.name, code: "RUN_FINISHED" }, "step of a run that has ended: its end is not kept");
        return "run-ended";
      }
      return outcome.ok ? "succeeded" : "failed";
    } finally {
      await logger.close().catch(() => undefined);
    }
  };

  const worker = new Worker<QueueJob, string>(STEP_QUEUE, (job, token, signal) => processJob(job, token, signal), {
    connection: blocking,
    prefix: target.prefix,
    concurrency: options.concurrency,
    lockDuration: lockMs,
    stalledInterval: Math.max(500, Math.floor(lockMs / 2)),
    maxStalledCount: MAX_LOST,
  });
  worker.on("error", (error) => log.error({ err: error }, "queue error"));
  // A lock that could not be renewed is another worker's now: the step here is told to stop.
  worker.on("lockRenewalFailed", (jobIds: string[]) => {
    for (const jobId of jobIds) {
      if (running.has(jobId)) unrenewed.add(jobId); // its steps' leases fail from now on
      worker.cancelJob(jobId, "taken over by another worker");
    }
  });
  worker.on("failed", (job, error) => {
    if (!job) return;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1) || error instanceof UnrecoverableError || stalledOut(error);
    const members = stepsOf(job.data);
    const steps = members.map((s) => ({ runId: s.runId, step: s.step }));
    log.error({ err: error, steps, final }, final ? "step job failed" : "step job failed, will be retried");
    if (!final) return;
    for (const member of members) {
      const recording = failStep(member, error, members)
        .catch((e: unknown) => log.error({ err: e, runId: member.runId }, "could not record the step's failure"))
        .finally(() => recordings.delete(recording));
      recordings.add(recording);
    }
  });
  const recordings = new Set<Promise<void>>(); // failures being recorded: close() waits for them

  /** Records a step failed without a further attempt, and moves its run on. */
  const failOutright = async (pipeline: AnyPipeline, run: RunRecord, step: string, mine: StepRecord | undefined, error: ErrorInfo) => {
    await workspace.store.saveStep(failedRecord(run.id, step, mine, clock.now(), error));
    await advanceRun(deps, pipeline, run, { after: step });
  };

  /** Strata's own failure (a store down, a project out of step) after the job's tries: the step is failed, the run moves on. */
  const failStep = async (data: StepJob, error: Error, members: readonly StepJob[]): Promise<void> => {
    const run = await workspace.store.getRun(data.runId);
    if (run.status !== "running") return;
    const mine = (await workspace.store.getSteps(run.id)).find((s) => s.step === data.step);
    if (mine && isEnded(mine.status)) return;
    const info = jobFailure(error);
    const pipeline = options.pipelines.get(data.pipeline);
    if (pipeline?.dag.byName.has(data.step)) return failOutright(pipeline, run, data.step, mine, info);
    // A pipeline or step this worker does not know cannot be moved on step by step: the run ends
    // here, and its hooks, which this worker does not know either, are due from the control plane.
    await workspace.store.saveStep(failedRecord(run.id, data.step, mine, clock.now(), info));
    const now = clock.now();
    const ended = await workspace.store.finishRun(
      run.id,
      "failed",
      now,
      { code: info.code, message: `step "${data.step}" failed: ${info.message}` },
      { hooksDueAt: now },
    );
    const packed = members.filter((m) => m.runId === run.id).map((m) => m.step); // all this worker knows of its steps
    if (ended) await marks.announceEnd(run.id, run.pipeline, "failed", packed);
  };

  // A cancel aborts the run's steps running here; its other steps are skipped where they are taken.
  await subscriber.subscribe(marks.cancelChannel);
  subscriber.on("message", (_channel: string, runId: string) => {
    for (const controller of active.get(runId) ?? []) controller.abort(new CancelledError());
  });
  await worker.waitUntilReady();
  log.info(
    { queue: `${target.endpoint}/${target.prefix}`, concurrency: options.concurrency, pipelines: [...options.pipelines.keys()] },
    "worker ready",
  );

  return {
    async close() {
      await worker.close();
      await Promise.all(recordings);
      await queue.close();
      await Promise.all(connections.map((r) => r.quit().catch(() => undefined)));
    },
  };
}
