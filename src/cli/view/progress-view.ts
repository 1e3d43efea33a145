import type { RunEvent } from "../../runtime/events.js";

/** Shows a run's progress as it goes (on stderr, so stdout keeps only the result). */
export interface ProgressView {
  onEvent(event: RunEvent): void;
  /** Leaves the terminal clean before the summary is printed. */
  stop(): void;
}
