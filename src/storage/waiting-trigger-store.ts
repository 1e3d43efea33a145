import type { Trigger } from "./run-store.js";

/** A trigger waiting for its pipeline's run in flight to end (overlap: queue). */
export interface WaitingTrigger {
  /** Order of arrival, from 1. */
  readonly seq: number;
  readonly pipeline: string;
  /** Raw params, as the trigger gave them (validated again when the run starts). */
  readonly params: Record<string, unknown>;
  readonly trigger: Trigger;
  /** For a retry: the run it resumes. */
  readonly resume: string | null;
}

/**
 * Where waiting triggers are kept, so that they survive a restart of the control plane: a
 * trigger is removed once its run has started.
 */
export interface WaitingTriggerStore {
  add(waiting: Omit<WaitingTrigger, "seq">): Promise<number>;
  remove(seq: number): Promise<void>;
  /** Oldest first. */
  list(): Promise<WaitingTrigger[]>;
  close(): Promise<void>;
}
