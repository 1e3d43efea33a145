import { pino, type Logger, type LevelWithSilent } from "pino";
import type { LogRecord, RunStore } from "../storage/run-store.js";

/**
 * Structured logs of one run: pino lines carrying run id, trigger id, step and attempt, kept in
 * the metadata store so `strata runs logs` can read them back from any machine.
 */
export class RunLogger {
  readonly root: Logger;
  #buffer: LogRecord[] = [];

  constructor(
    readonly store: RunStore,
    readonly runId: string,
    triggerId: string,
    pipeline: string,
    options: { level?: LevelWithSilent; tee?: (line: string) => void } = {},
  ) {
    const tee = options.tee;
    const sink = {
      write: (line: string): void => {
        const parsed = JSON.parse(line) as { time: number; level: number; step?: string; attempt?: number };
        this.#buffer.push({
          runId,
          step: parsed.step ?? null,
          attempt: parsed.attempt ?? null,
          time: parsed.time,
          level: parsed.level,
          line: line.trimEnd(),
        });
        tee?.(line);
      },
    };
    this.root = pino({ level: options.level ?? "info", base: { runId, triggerId, pipeline } }, sink);
  }

  forAttempt(step: string, attempt: number): Logger {
    return this.root.child({ step, attempt });
  }

  /** Writes buffered lines to the store; called at each step's end and at the run's end. */
  async flush(): Promise<void> {
    if (!this.#buffer.length) return;
    const lines = this.#buffer;
    this.#buffer = [];
    await this.store.appendLogs(lines);
  }
}
