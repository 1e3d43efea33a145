import type { RunEvent } from "../../runtime/events.js";
import { clockTime, formatDuration, statusSymbol } from "../format.js";
import type { ProgressView } from "./progress-view.js";

/** One line per event: for logs, CI and pipes, where a redrawn screen would be noise. */
export class PlainView implements ProgressView {
  constructor(
    private readonly write: (line: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  onEvent(e: RunEvent): void {
    const at = clockTime(this.now());
    switch (e.type) {
      case "run-started":
        return this.write(`${at} run ${e.run.id} of ${e.run.pipeline} started (${e.steps.length} steps)`);
      case "step-started":
        return this.write(`${at} ${statusSymbol("running")} ${e.step} started${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}`);
      case "step-succeeded":
        return this.write(`${at} ${statusSymbol("succeeded")} ${e.step} succeeded in ${formatDuration(e.durationMs)}`);
      case "step-retry":
        return this.write(
          `${at} ${statusSymbol("retrying")} ${e.step} attempt ${e.attempt} failed (${e.error.code}: ${e.error.message}); retrying in ${formatDuration(e.delayMs)}`,
        );
      case "step-failed":
        return this.write(
          `${at} ${statusSymbol("failed")} ${e.step} failed after ${e.attempt} attempt(s): ${e.error.code}: ${e.error.message}`,
        );
      case "step-skipped":
        return this.write(`${at} ${statusSymbol("skipped")} ${e.step} skipped: ${e.reason}`);
      case "step-reused":
        return this.write(`${at} ${statusSymbol("reused")} ${e.step} reused from run ${e.from}`);
      case "hook-failed":
        return this.write(`${at} ! hook ${e.hook} failed: ${e.error.message}`);
      case "run-finished":
        return this.write(`${at} run ${e.run.id} ${e.run.status}`);
    }
  }

  stop(): void {}
}
