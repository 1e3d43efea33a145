import type { Logger, LevelWithSilent } from "pino";
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
  readonly logLevel?: LevelWithSilent;
}

/** Runs looked at per sweep; the rest wait for the next one. */
const BATCH = 100;

/**
 * The hooks of ended runs that nobody delivered, delivered by the control plane: the process that
 * ended the run died before it had delivered them (a worker killed right after the run's end), or
 * the run was ended by someone who could not (an abandoned run settled at start-up, a worker that
 * lacks the pipeline, a run whose steps could not be enqueued). Each run's hooks are claimed (moved
 * forward by their delivery budget, so that one sweep has them), delivered, then cleared: an alert
 * goes out at least once, and twice only when its deliverer died between delivering and clearing.
 */
export class OverdueHooks {
  readonly #o: OverdueHooksOptions;
  #sweeping: Promise<number> | undefined;

  constructor(options: OverdueHooksOptions) {
    this.#o = options;
  }

  /** One sweep (or the one under way): resolves with how many runs' hooks it delivered. */
  sweep(): Promise<number> {
    this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  /** Waits for a sweep under way, if any. */
  async settled(): Promise<void> {
    await this.#sweeping?.catch(() => undefined);
  }

  async #sweep(): Promise<number> {
    const due = await this.#o.store.dueHooks(this.#o.clock.now(), BATCH);
    const outcomes = await Promise.allSettled(due.map((d) => this.#deliver(d)));
    outcomes.forEach((o, i) => {
      if (o.status === "rejected")
        this.#o.log.error({ err: o.reason, runId: due[i]!.run.id }, "overdue hooks could not be delivered; tried again at the next sweep");
    });
    return outcomes.filter((o) => o.status === "fulfilled" && o.value).length;
  }

  async #deliver({ run, dueAt }: DueHooks): Promise<boolean> {
    const { store, clock, log } = this.#o;
    const pipeline = this.#o.pipelines.get(run.pipeline);
    const hooks = pipeline ? hooksFor(pipeline, run.status) : [];
    if (!pipeline || !hooks.length) {
      if (!pipeline)
        log.warn({ runId: run.id, pipeline: run.pipeline }, "hooks due for a run of a pipeline this control plane lacks: dropped");
      await store.moveHooks(run.id, dueAt, null);
      return false;
    }
    const claimedUntil = clock.now() + deliveryBudgetMs(hooks);
    if (!(await store.moveHooks(run.id, dueAt, claimedUntil))) return false; // another sweep has them
    const logger = new RunLogger(store, run.id, run.trigger.id, run.pipeline, this.#o.logLevel ? { level: this.#o.logLevel } : {});
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
