import { performance } from "node:perf_hooks";

/** A time budget being watched; `cancel()` once the work is done. */
export interface Deadline {
  cancel(): void;
}

interface Entry extends Deadline {
  readonly at: number;
  readonly expire: () => void;
}

/**
 * The time budgets of calls in flight, watched by one timer that ticks while any is pending,
 * instead of a timer per call: the hot path makes tens of thousands of calls a second, and
 * arming and clearing a timer for each costs more than the rest of a cached lookup. A budget
 * expires up to one tick late.
 */
export class Deadlines {
  readonly #pending = new Set<Entry>();
  readonly #tickMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(tickMs = 5) {
    this.#tickMs = tickMs;
  }

  /** Calls `expire` once `ms` milliseconds have passed, unless cancelled first. */
  watch(ms: number, expire: () => void): Deadline {
    const pending = this.#pending;
    const entry: Entry = {
      at: performance.now() + ms,
      expire,
      cancel: () => void pending.delete(entry),
    };
    pending.add(entry);
    // Unref'd: a pending budget never keeps the process alive on its own.
    this.#timer ??= setInterval(() => this.#tick(), this.#tickMs).unref();
    return entry;
  }

  #tick(): void {
    const now = performance.now();
    for (const entry of this.#pending) {
      if (entry.at > now) continue;
      this.#pending.delete(entry);
      entry.expire();
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
