import { StrataError } from "../errors/strata-error.js";

/** How long an attempt runs before its start is recorded on its own. */
export const START_RECORD_MS = 100;

/**
 * An attempt's start, recorded only when it matters, since a fleet of short steps paid a write per
 * attempt for it: before the step writes a dataset (a version a lost attempt began is found through
 * the attempt's record), once it has run START_RECORD_MS (a long step shows as running), or else
 * with the attempt's end, in one write. Of an attempt that dies in its first tenth of a second
 * nothing is recorded, and it is run again under the same number. A retry records its start at
 * once: after its backoff, its run may have ended meanwhile.
 */
export class AttemptStart {
  readonly #write: () => Promise<boolean>;
  readonly #timer: NodeJS.Timeout;
  #recording: Promise<boolean> | undefined;

  /** `write` records the start, false when the run has ended (see RunStore.saveAttempt). */
  constructor(write: () => Promise<boolean>, delayMs = START_RECORD_MS) {
    this.#write = write;
    // A visibility delay, not a schedule: on the process's timers, not the injected clock.
    this.#timer = setTimeout(() => void this.record().catch(() => undefined), delayMs);
    this.#timer.unref();
  }

  /** Records the start now, once: false when its run has ended. */
  record(): Promise<boolean> {
    return (this.#recording ??= this.#write());
  }

  /** Records the start now, once; RUN_FINISHED when its run has ended, and the attempt must not go on. */
  async ensure(runId: string, step: string): Promise<void> {
    if (!(await this.record())) throw runFinished(runId, step);
  }

  /**
   * The attempt is over: no start is recorded from now on. Resolves to whether the start was
   * recorded (true), refused (false), or not written, so the end opens the attempt (undefined).
   * A start whose write failed counts as not written.
   */
  async end(): Promise<boolean | undefined> {
    clearTimeout(this.#timer);
    return this.#recording?.catch(() => undefined);
  }
}

/** The run ended before the step's attempt could be recorded: the attempt does not count. */
export function runFinished(runId: string, step: string): StrataError {
  return new StrataError("RUN_FINISHED", `run ${runId} has already ended: step "${step}" is not run`, { details: { runId, step } });
}
