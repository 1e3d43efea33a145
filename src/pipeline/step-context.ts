import type { Logger } from "pino";
import type { ModelVersion } from "../storage/model-registry.js";

/** What a step's function gets besides its inputs. */
export interface StepContext {
  readonly runId: string;
  readonly triggerId: string;
  readonly pipeline: string;
  readonly step: string;
  /** 1 for the first attempt, 2 for the first retry... */
  readonly attempt: number;
  /** Fires when the step times out or the run is cancelled: pass it to fetch, child processes... */
  readonly signal: AbortSignal;
  /** Structured logger; every line carries the run id, trigger id, step and attempt. */
  readonly log: Logger;
  /** All run parameters (declare the ones you use as inputs to get them typed). */
  readonly params: Readonly<Record<string, unknown>>;
  /**
   * Registers a trained model as the next version of `name`, with this run and step as its
   * lineage; `alias` (e.g. "candidate") then points at it.
   */
  registerModel(
    name: string,
    model: { algorithm: string; params: Readonly<Record<string, unknown>>; metrics?: Readonly<Record<string, number>>; artifact?: unknown },
    options?: { alias?: string },
  ): Promise<ModelVersion>;
}
