import { systemClock } from "../clock/clock.js";
import { isStrataError } from "../errors/strata-error.js";
import type { Hook } from "../pipeline/hooks.js";
import { deliverHook } from "./hook-runner.js";
import type { HookPayload } from "./hook-payload.js";

export interface HookRetryOptions {
  /** How a wait between tries is spent; inject one that returns at once to keep tests fast. */
  sleep?: (ms: number) => Promise<void>;
  /** Told of each failed try that will be tried again. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

export type HookOutcome =
  { readonly ok: true; readonly attempts: number } | { readonly ok: false; readonly attempts: number; readonly error: unknown };

/**
 * Tries a hook up to `hook.retry.attempts` times, waiting `delayMs * factor^(n-1)` between tries.
 * Never throws: an alert that cannot be delivered is the caller's to log, not the run's to fail.
 */
export async function deliverWithRetry(hook: Hook, payload: HookPayload, options: HookRetryOptions = {}): Promise<HookOutcome> {
  const { sleep = (ms: number) => systemClock.sleep(ms), onRetry } = options;
  const { attempts, delayMs, factor } = hook.retry;
  for (let attempt = 1; ; attempt++) {
    try {
      await deliverHook(hook, payload);
      return { ok: true, attempts: attempt };
    } catch (error) {
      // A missing variable or a refused address fails the same way every time.
      const retryable = !isStrataError(error) || error.retryable;
      if (attempt >= attempts || !retryable) return { ok: false, attempts: attempt, error };
      const wait = Math.round(delayMs * factor ** (attempt - 1));
      onRetry?.({ attempt, delayMs: wait, error });
      await sleep(wait);
    }
  }
}

/** Time beyond the tries themselves: a slow store write, a pause of the process. */
const BUDGET_MARGIN_MS = 30_000;
/** Hooks whose tries would take longer are taken over by a sweep after this anyway. */
const BUDGET_MAX_MS = 24 * 3600_000;

/**
 * The longest `deliverWithRetry` can take for these hooks (delivered together): every try timing
 * out, every wait in between, plus a margin. Until then, a run's hooks are the ender's to deliver;
 * after it, a sweep takes them over (see OverdueHooks).
 */
export function deliveryBudgetMs(hooks: readonly Hook[]): number {
  let longest = 0;
  for (const { timeoutMs, retry } of hooks) {
    let total = timeoutMs;
    for (let attempt = 1; attempt < retry.attempts; attempt++) total += retry.delayMs * retry.factor ** (attempt - 1) + timeoutMs;
    longest = Math.max(longest, total);
  }
  // Whole milliseconds (the stores keep integers; a factor of 1.5 makes fractions), and bounded.
  return Math.min(Math.ceil(longest) + BUDGET_MARGIN_MS, BUDGET_MAX_MS);
}
