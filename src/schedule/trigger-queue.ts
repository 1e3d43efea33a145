import type { AnyPipeline } from "../pipeline/pipeline.js";
import type { RunStore } from "../storage/run-store.js";
import type { WaitingTriggerStore } from "../storage/waiting-trigger-store.js";
import type { LaunchRequest } from "./executor.js";

interface Waiting {
  readonly seq: number;
  readonly request: LaunchRequest;
}

/**
 * The triggers of each pipeline with `overlap: "queue"` waiting for its run in flight to end, in
 * order, kept in a store so that a restart of the control plane neither loses nor repeats one: a
 * trigger leaves the store only once its run has started (`started`), and at `restore` a trigger
 * whose id is among the pipeline's recent runs has started already and is dropped.
 */
export class TriggerQueue {
  readonly #waiting = new Map<string, Waiting[]>();

  constructor(readonly store: WaitingTriggerStore) {}

  /** Its position in the pipeline's queue, from 1. */
  async push(request: LaunchRequest): Promise<number> {
    const seq = await this.store.add({
      pipeline: request.pipeline.name,
      params: request.params,
      trigger: request.trigger,
      resume: request.resume ?? null,
    });
    const list = this.#waiting.get(request.pipeline.name) ?? [];
    list.push({ seq, request });
    this.#waiting.set(request.pipeline.name, list);
    return list.length;
  }

  /** Takes the pipeline's oldest trigger; call `started` once its run is recorded. */
  take(pipeline: string): Waiting | undefined {
    const list = this.#waiting.get(pipeline);
    const next = list?.shift();
    if (!list?.length) this.#waiting.delete(pipeline);
    return next;
  }

  async started(waiting: Waiting): Promise<void> {
    await this.store.remove(waiting.seq);
  }

  size(pipeline: string): number {
    return this.#waiting.get(pipeline)?.length ?? 0;
  }

  pipelines(): string[] {
    return [...this.#waiting.keys()];
  }

  /** Reads the triggers that waited when the control plane stopped. */
  async restore(pipelines: ReadonlyMap<string, AnyPipeline>, runs: RunStore): Promise<void> {
    const started = new Map<string, Set<string>>();
    for (const w of await this.store.list()) {
      const pipeline = pipelines.get(w.pipeline);
      if (!pipeline) continue; // its pipeline is gone from the project: kept, in case it comes back
      let ids = started.get(w.pipeline);
      if (!ids)
        started.set(w.pipeline, (ids = new Set((await runs.listRuns({ pipeline: w.pipeline, limit: 500 })).map((r) => r.trigger.id))));
      if (ids.has(w.trigger.id)) {
        await this.store.remove(w.seq);
        continue;
      }
      const list = this.#waiting.get(w.pipeline) ?? [];
      list.push({ seq: w.seq, request: { pipeline, params: w.params, trigger: w.trigger, ...(w.resume ? { resume: w.resume } : {}) } });
      this.#waiting.set(w.pipeline, list);
    }
  }
}
