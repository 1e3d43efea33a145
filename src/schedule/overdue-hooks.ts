import type { Logger } from "pino";
import type { Clock } from "../clock/clock.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import { deliveryBudgetMs } from "../runtime/hook-retry.js";
import { hooksDelivered, hooksFor, runHooks, stepFailures } from "../runtime/run-end.js";
import { RunLogger } from "../runtime/run-logger.js";
import type { DueHooks, RunStore } from "../storage/run-store.js";

export interface OverdueHooksOptions {
  readonly pipelines: ReadonlyMap<string, AnyPipeline>;
  readonly store: RunStore;
  readonly clock: Clock;
  readonly log: Logger;
}

/** Runs looked at per sweep; the rest wait for the next one. */
const BATCH = 100;
/** Hooks of a pipeline this control plane lacks are left for one that has it (a newer deploy) for this long. */
const KEEP_UNKNOWN_MS = 24 * 3600_000;
/** How often such hooks are looked at again meanwhile. */
const RECHECK_UNKNOWN_MS = 10 * 60_000;

/**
 * The hooks of ended runs that nobody delivered, delivered by the control plane: the process that
 * ended the run died before it had delivered them (a worker killed right after the run's end), or
 * the run was ended by someone who could not (an abandoned run settled at start-up, a worker that
 * lacks the pipeline, a run whose steps could not be enqueued). Each run's hooks are claimed (moved
 * forward by their delivery budget, so that one sweep has them), delivered, then cleared: an alert
 * goes out at least once. Each run's delivery goes on its own, so a hook that hangs holds up no
 * other run's. A delivery cut short (the process stopped) is taken up again once its claim runs out.
 */
export class OverdueHooks {
  readonly #o: OverdueHooksOptions;
  /** Deliveries under way here, by run id: a sweep leaves them to finish. */
  readonly #delivering = new Map<string, Promise<boolean>>();

  constructor(options: OverdueHooksOptions) {
    this.#o = options;
  }

  /** Reads the hooks due and delivers each not already under way here; resolves with how many runs' hooks it delivered. */
  async sweep(): Promise<number> {
    const due = await this.#o.store.dueHooks(this.#o.clock.now(), BATCH);
    const started = due
      .filter((d) => !this.#delivering.has(d.run.id))
      .map((d) => {
        const delivery = this.#deliver(d)
          .catch((error: unknown) => {
            this.#o.log.error(
              { err: error, runId: d.run.id },
              "overdue hooks could not be delivered; tried again once their claim runs out",
            );
            return false;
          })
          .finally(() => this.#delivering.delete(d.run.id));
        this.#delivering.set(d.run.id, delivery);
        return delivery;
      });
    return (await Promise.all(started)).filter(Boolean).length;
  }

  async #deliver({ run, dueAt }: DueHooks): Promise<boolean> {
    const { store, clock, log } = this.#o;
    const pipeline = this.#o.pipelines.get(run.pipeline);
    if (!pipeline) {
      // Another control plane (a newer deploy) may have it: left due for a while, then dropped.
      const keep = clock.now() - (run.endedAt ?? dueAt) < KEEP_UNKNOWN_MS;
      log.warn(
        { runId: run.id, pipeline: run.pipeline },
        keep
          ? "hooks due for a run of a pipeline this control plane lacks: left for one that has it"
          : "hooks of a run of an unknown pipeline: dropped",
      );
      await store.moveHooks(run.id, dueAt, keep ? clock.now() + RECHECK_UNKNOWN_MS : null);
      return false;
    }
    const hooks = hooksFor(pipeline, run.status);
    if (!hooks.length) {
      await store.moveHooks(run.id, dueAt, null);
      return false;
    }
    const claimedUntil = clock.now() + deliveryBudgetMs(hooks);
    if (!(await store.moveHooks(run.id, dueAt, claimedUntil))) return false; // another sweep has them
    const logger = new RunLogger(store, run.id, run.trigger.id, run.pipeline);
    try {
      logger.root.warn({ dueAt }, "hooks delivered by the control plane: whoever ended the run did not deliver them");
      const failedStep = stepFailures(pipeline, await store.getSteps(run.id))[0]?.step ?? null;
      await runHooks(hooks, run, failedStep, logger, () => undefined);
      await hooksDelivered(store, run.id, claimedUntil, logger);
      log.info({ runId: run.id, pipeline: run.pipeline }, "overdue hooks delivered");
      return true;
    } finally {
      await logger.close().catch(() => undefined);
    }
  }
}
