import type { AnyPipeline } from "../pipeline/pipeline.js";
import type { Trigger } from "../storage/run-store.js";

export interface LaunchRequest {
  readonly pipeline: AnyPipeline;
  /** Raw params: validated before anything is recorded (ParamError, 400). */
  readonly params: Record<string, unknown>;
  readonly trigger: Trigger;
  /** Id of an earlier run to retry: its failed steps and what depends on them run again. */
  readonly resume?: string;
}

/** What became of a trigger. */
export type Launch =
  | { readonly status: "started"; readonly runId: string; readonly trigger: Trigger }
  | { readonly status: "queued"; readonly position: number; readonly trigger: Trigger }
  | { readonly status: "skipped"; readonly reason: string; readonly trigger: Trigger };

/**
 * Where the control plane's runs execute: in its own process (`RunLauncher`, the embedded
 * default) or as step jobs on a Redis queue that `strata worker` processes take
 * (`QueueExecutor`, src/queue/). Both apply each pipeline's overlap policy.
 */
export interface Executor {
  launch(request: LaunchRequest): Promise<Launch>;
  /** Asks a run to stop; false when this executor did not start it or cannot reach it. */
  cancel(runId: string): Promise<boolean>;
  /** Ids of the runs of `pipeline` (all when left out) in flight. */
  inFlight(pipeline?: string): Promise<string[]>;
  /** Triggers of `pipeline` waiting for its run in flight to end (overlap: queue). */
  queued(pipeline: string): number;
  /** Starts the oldest waiting trigger of each pipeline with no run in flight (after a restart). */
  startWaiting(): Promise<void>;
  /** Resolves once a run this executor started has ended. */
  finished(runId: string): Promise<void>;
  /** Stops taking triggers and lets the runs it drives finish, cancelling them after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}
