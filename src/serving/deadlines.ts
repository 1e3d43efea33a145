import { performance } from "node:perf_hooks";

/** A time budget being watched; `cancel()` once the work is done. */
export interface Deadline {
  cancel(): void;
}

/** A budget in the list: cancelling only marks it (and lets go of its callback); the next tick drops it. */
class Entry implements Deadline {
  done = false;

  constructor(
    readonly at: number,
    public expire: (() => void) | undefined,
  ) {}

  cancel(): void {
    this.done = true;
    this.expire = undefined;
  }
}

/**
 * The time budgets of calls in flight, watched by one timer that ticks while any is pending,
 * instead of a timer per call: the hot path makes tens of thousands of calls a second, and
 * arming and clearing a timer for each costs more than the rest of a cached lookup. A budget
 * expires up to one tick late.
 *
 * The budgets are a plain list that each tick rebuilds without the ended ones. A Set, which a
 * cancel would delete from, cost twice as much on a models service: its table was reallocated
 * over and over as calls came and went, and the garbage collector's threads spent as much again.
 */
export class Deadlines {
  #pending: Entry[] = [];
  readonly #tickMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(tickMs = 5) {
    this.#tickMs = tickMs;
  }

  /** Calls `expire` once `ms` milliseconds have passed, unless cancelled first. */
  watch(ms: number, expire: () => void): Deadline {
    const entry = new Entry(performance.now() + ms, expire);
    this.#pending.push(entry);
    // Unref'd: a pending budget never keeps the process alive on its own.
    this.#timer ??= setInterval(() => this.#tick(), this.#tickMs).unref();
    return entry;
  }

  #tick(): void {
    const now = performance.now();
    const list = this.#pending;
    // A new list before any callback runs: one that watches another budget adds to it.
    this.#pending = [];
    for (const entry of list) {
      if (entry.done) continue;
      if (entry.at > now) {
        this.#pending.push(entry);
        continue;
      }
      const expire = entry.expire!;
      entry.cancel();
      expire();
    }
    if (this.#pending.length === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
