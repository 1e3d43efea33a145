import { Queue, type JobState } from "bullmq";
import DataLoader from "dataloader";
import { Redis } from "ioredis";
import { describeError, StrataError } from "../errors/strata-error.js";
import type { QueueTarget } from "../project/queue-config.js";
import type { ErrorInfo, RunRecord } from "../storage/run-store.js";

/** The BullMQ queue every step job goes through. */
export const STEP_QUEUE = "steps";

/**
 * One step of one run, for a worker to take. It carries the run's record as it was recorded at
 * the start (params are validated again from `inputParams`), which saves every step a read of it;
 * a cancel is seen through the run's mark in Redis.
 */
export interface StepJob {
  readonly runId: string;
  readonly pipeline: string;
  readonly step: string;
  readonly run: RunRecord;
  /** Enqueued again by the control plane after the step's job was lost (see LostRuns): it may have records already. */
  readonly retaken?: true;
}

/**
 * What a BullMQ job carries: one step, or a pack of steps launched together (see StepQueue.add),
 * which a worker runs side by side.
 */
export interface QueueJob {
  readonly steps: readonly StepJob[];
}

/** A job's steps. A job enqueued before packs carried one step as its data: a worker upgraded under a full queue still runs it. */
export const stepsOf = (data: QueueJob | StepJob): readonly StepJob[] => ("steps" in data ? data.steps : [data]);

/** BullMQ job ids may not hold ":"; run ids and step names never hold "~". */
export const jobIdOf = (runId: string, step: string): string => `${runId}~${step}`;

/** Steps launched in one turn go in jobs of up to this many. */
export const PACK_SIZE = 8;

/** The Redis hash that finds a packed step's job: its own job id -> its pack's. */
const packsKey = (prefix: string): string => `${prefix}:${STEP_QUEUE}:packs`;

const CONNECT_TIMEOUT_MS = 3000;

/** How long cancel marks are kept: longer than any run should last. */
const MARK_TTL_S = 7 * 24 * 3600;

/**
 * A connection to the queue's server, once it is ready (QUEUE_UNAVAILABLE naming host:port when
 * it is not within the connect timeout). Workers block on it, so their commands wait through a
 * reconnect (`maxRetriesPerRequest: null`, which BullMQ requires); the control plane's fail fast
 * instead, so a trigger answers QUEUE_UNAVAILABLE rather than hanging while Redis is down.
 * `pipelined`: commands issued in one turn of the event loop go out in one write (not for blocking ones).
 */
export async function queueConnection(target: QueueTarget, role: "worker" | "producer", pipelined = false): Promise<Redis> {
  const redis = new Redis(target.url, {
    maxRetriesPerRequest: role === "worker" ? null : 1,
    enableOfflineQueue: role === "worker",
    connectTimeout: CONNECT_TIMEOUT_MS,
    enableAutoPipelining: pipelined,
  });
  redis.on("error", () => undefined); // reported where a command fails; ioredis reconnects by itself
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      redis.once("ready", () => (clearTimeout(timer), resolve()));
      redis.once("error", (error) => (clearTimeout(timer), reject(error)));
    });
  } catch (error) {
    redis.disconnect();
    throw queueUnavailable(target, error);
  }
  return redis;
}

/** A failed queue command as QUEUE_UNAVAILABLE naming host:port (never the URL: it may hold a password). */
export function queueUnavailable(target: QueueTarget, error: unknown): StrataError {
  const reason = error instanceof Error ? error.message : String(error);
  return new StrataError("QUEUE_UNAVAILABLE", `queue (redis at ${target.endpoint}) is out of reach: ${reason}`, {
    details: { endpoint: target.endpoint },
    cause: error,
  });
}

/**
 * The shared marks of a run's progress across workers: a cancel is seen by every worker, and a
 * run's end is announced. (That a run ends once is the metadata store's: see finishRun.)
 */
export class RunMarks {
  // The cancel checks of one turn (a pack's steps start together) go as one EXISTS over all their
  // marks: nearly always none is set, and one command says so. When some is, each is asked.
  readonly #cancelled = new DataLoader<string, boolean>(
    async (runIds) => {
      const keys = runIds.map((id) => this.#cancelMark(id));
      if ((await this.redis.exists(...keys)) === 0) return runIds.map(() => false);
      return Promise.all(keys.map(async (key) => (await this.redis.exists(key)) === 1));
    },
    { cache: false },
  );

  // The ends announced in one turn (a pack's runs end together) go as one message: a message per
  // run was a command here, and a wake-up of every control plane, per run. The ended runs' pack
  // entries (see StepQueue.add) are dropped in the same write: nothing looks for an ended run's
  // jobs. A worker dropped them with a command of its own when each pack ended, a round trip a pack.
  readonly #ends = new DataLoader<{ readonly end: RunEnd; readonly steps: readonly string[] }, void>(
    async (ends) => {
      const entries = ends.flatMap(({ end, steps }) => steps.map((step) => jobIdOf(end.runId, step)));
      // One left behind is stale, and harmless: it points at a job that has ended.
      const dropped = entries.length ? this.redis.hdel(packsKey(this.prefix), ...entries).catch(() => undefined) : undefined;
      await Promise.all([this.redis.publish(this.endedChannel, JSON.stringify(ends.map((e) => e.end))), dropped]);
      return ends.map(() => undefined);
    },
    { cache: false },
  );

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {}

  #cancelMark(runId: string): string {
    return `${this.prefix}:runs:${runId}:cancelled`;
  }

  /** Channel on which cancels are announced to workers (payload: the run id). */
  get cancelChannel(): string {
    return `${this.prefix}:runs:cancel`;
  }

  /** Channel on which runs' ends are announced (payload: JSON, see endsIn). */
  get endedChannel(): string {
    return `${this.prefix}:runs:ended`;
  }

  async cancel(runId: string): Promise<void> {
    await this.redis.set(this.#cancelMark(runId), "1", "EX", MARK_TTL_S);
    await this.redis.publish(this.cancelChannel, runId);
  }

  isCancelled(runId: string): Promise<boolean> {
    return this.#cancelled.load(runId);
  }

  /**
   * Announces a run's end, and drops the pack entries of its `steps` (see StepQueue.add) in the
   * same write (its connection is auto-pipelined). An entry whose run's end is never announced (its
   * worker died in between) stays, pointing at a job that has ended: stale, and harmless.
   */
  announceEnd(runId: string, pipeline: string, status: string, steps: readonly string[]): Promise<void> {
    return this.#ends.load({ end: { runId, pipeline, status }, steps });
  }

  /**
   * The ends an announcement carries: an array of them, or one, as earlier workers sent. Upgrade
   * control planes before workers: an earlier control plane reads no end from an array, and then
   * sees runs end only by its polls (`finished`, within a second; queued triggers, every 2 s).
   * What is not an end (not JSON, no run id) is left out.
   */
  static endsIn(message: string): RunEnd[] {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      return [];
    }
    const isEnd = (e: unknown): e is RunEnd =>
      typeof e === "object" && e !== null && typeof (e as RunEnd).runId === "string" && typeof (e as RunEnd).pipeline === "string";
    return (Array.isArray(parsed) ? parsed : [parsed]).filter(isEnd);
  }
}

/** A run's end, as announced on RunMarks.endedChannel. */
export interface RunEnd {
  readonly runId: string;
  readonly pipeline: string;
  readonly status: string;
}

/**
 * The step queue, for adding jobs. Attempts cover Strata's own failures (a store down); a step's
 * retries are its own.
 */
export class StepQueue {
  readonly #queue: Queue<QueueJob>;
  readonly #redis: Redis;
  readonly #packs: string;
  // The steps enqueued by every caller in one turn of the event loop go in one pipeline (one write,
  // one round trip): a control plane launching many runs at once paid both per run.
  readonly #adds = new DataLoader<{ readonly steps: readonly StepJob[]; readonly pack: boolean }, void>(
    async (batches) => {
      const own = (step: StepJob) => ({ id: jobIdOf(step.runId, step.step), steps: [step] });
      const jobs = batches.flatMap((b) => (b.pack ? [] : b.steps.map(own)));
      const packable = batches.flatMap((b) => (b.pack ? b.steps : []));
      const members: Record<string, string> = {};
      for (let i = 0; i < packable.length; i += PACK_SIZE) {
        const steps = packable.slice(i, i + PACK_SIZE);
        if (steps.length === 1) {
          jobs.push(own(steps[0]!));
          continue;
        }
        const id = `pack~${own(steps[0]!).id}`;
        for (const step of steps) members[own(step).id] = id;
        jobs.push({ id, steps });
      }
      // Sent before the packs on the same connection, so a packed step's job can always be found.
      const found = Object.keys(members).length ? this.#redis.hset(this.#packs, members) : undefined;
      await Promise.all([
        found,
        this.#queue.addBulk(jobs.map(({ id, steps }) => ({ name: steps[0]!.pipeline, data: { steps }, opts: { jobId: id } }))),
      ]);
      return batches.map(() => undefined);
    },
    { cache: false },
  );

  constructor(target: QueueTarget, connection: Redis) {
    this.#redis = connection;
    this.#packs = packsKey(target.prefix);
    this.#queue = new Queue<QueueJob>(STEP_QUEUE, {
      connection,
      prefix: target.prefix,
      defaultJobOptions: {
        attempts: 3,
        backoff: { type: "exponential", delay: 1000 },
        removeOnComplete: true,
        removeOnFail: { age: 7 * 24 * 3600 },
      },
    });
  }

  /**
   * Puts these steps of a run on the queue. When Redis fails, every caller of the turn gets the
   * error (a pipeline is not a transaction: a connection lost in the middle of it may leave some of
   * the jobs in). A step already enqueued keeps its job, by its job id. `pack`: the steps ready at a
   * run's launch, which nobody else enqueues (see advanceRun's `after`), go in packs with those of
   * the other runs launched in the same turn: a BullMQ job costs more than a short step, and a
   * burst of launches (a backfill, a stream of events) is many short jobs at once.
   */
  add(steps: readonly StepJob[], pack = false): Promise<void> {
    return steps.length ? this.#adds.load({ steps, pack }) : Promise.resolve();
  }

  /** Forgets where these packed steps' job is (see jobOf): for steps that get jobs of their own (LostRuns). */
  async unpacked(steps: readonly { readonly runId: string; readonly step: string }[]): Promise<void> {
    await this.#redis.hdel(this.#packs, ...steps.map((s) => jobIdOf(s.runId, s.step)));
  }

  /**
   * Where a step's job is: on the queue ("waiting", "active", "delayed", ...), "failed" for good
   * (with why), or "unknown": there is none (it ended and was removed, was never added, or Redis lost it).
   */
  async jobOf(runId: string, step: string): Promise<StepJobState> {
    let id = jobIdOf(runId, step);
    let state = await this.#queue.getJobState(id);
    const pack = state === "unknown" ? await this.#redis.hget(this.#packs, id) : null;
    if (pack) state = await this.#queue.getJobState((id = pack));
    if (state !== "failed") return { state };
    const reason = (await this.#queue.getJob(id))?.failedReason ?? "the job failed";
    return { state, failure: jobFailure(new Error(reason)) };
  }

  close(): Promise<void> {
    return this.#queue.close();
  }
}

/** Where a step's job is (see StepQueue.jobOf), and for one failed for good, what it is recorded as. */
export interface StepJobState {
  readonly state: JobState | "unknown";
  readonly failure?: ErrorInfo;
}

/** The states of a job that a worker has or will take: a run with one of them is moving on. */
export const LIVE_JOB_STATES: ReadonlySet<JobState | "unknown"> = new Set([
  "waiting",
  "active",
  "delayed",
  "prioritized",
  "waiting-children",
]);

/** BullMQ gave the job up because its workers kept stopping (killed, frozen) while they held it. */
export const stalledOut = (error: Error): boolean => /stalled more than/.test(error.message);

/** What a step job's last failure (Strata's own: a store down, a project out of step) is recorded as. */
export function jobFailure(error: Error): ErrorInfo {
  if (stalledOut(error)) return { code: "WORKER_LOST", message: "the step's workers kept stopping before it ended: given up" };
  const coded = /^([A-Z_]+): /.exec(error.message); // an UnrecoverableError carries its code first
  return { code: coded?.[1] ?? describeError(error).code, message: error.message };
}
