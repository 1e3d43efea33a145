/** How a step is retried. `retries: 3` is shorthand for `{ max: 3 }`. */
export interface RetryOptions {
  /** Retries after the first attempt (so attempts = max + 1). */
  max: number;
  /** Delay before the first retry. Default 1000 ms. */
  delayMs?: number;
  /** Growth of the delay per retry. Default 2 (exponential). */
  factor?: number;
  /** Upper bound of one delay. Default 60 000 ms. */
  maxDelayMs?: number;
  /** Fraction of each delay drawn at random and taken off, to spread retries (0..1). Default 0.2. */
  jitter?: number;
}

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly delayMs: number;
  readonly factor: number;
  readonly maxDelayMs: number;
  readonly jitter: number;
}

export function retryPolicy(retries: number | RetryOptions | undefined): RetryPolicy {
  const options = typeof retries === "number" ? { max: retries } : (retries ?? { max: 0 });
  return {
    maxAttempts: Math.max(0, Math.floor(options.max)) + 1,
    delayMs: options.delayMs ?? 1000,
    factor: options.factor ?? 2,
    maxDelayMs: options.maxDelayMs ?? 60_000,
    jitter: Math.min(1, Math.max(0, options.jitter ?? 0.2)),
  };
}

/** Delay before attempt `nextAttempt` (2 for the first retry). `random` is in [0, 1). */
export function backoffDelay(policy: RetryPolicy, nextAttempt: number, random: number): number {
  const base = Math.min(policy.maxDelayMs, policy.delayMs * policy.factor ** (nextAttempt - 2));
  return Math.round(base * (1 - policy.jitter * random));
}
