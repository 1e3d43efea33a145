/** One shadow call compared with the answer that was sent. */
export interface ShadowComparison {
  readonly at: number;
  readonly primary: string;
  readonly shadow: string;
  readonly result: "match" | "mismatch" | "error";
  readonly input: unknown;
  /** Outputs as JSON text, as the caller got them and as the shadow would have answered. */
  readonly primaryOutput: string;
  readonly shadowOutput?: string;
  /** The shadow's error code, when it failed. */
  readonly error?: string;
}

export interface ShadowSummary {
  readonly counts: Readonly<Record<ShadowComparison["result"], number>>;
  /** The latest comparisons that did not match (mismatches and errors), newest first. */
  readonly recent: readonly ShadowComparison[];
}

const KEEP = 50;

/** Counts per endpoint type, and the last few disagreements to look at (`GET /v1/endpoints/:type/shadow`). */
export class ShadowLog {
  readonly #byEndpoint = new Map<string, { counts: Record<ShadowComparison["result"], number>; recent: ShadowComparison[] }>();

  record(endpoint: string, comparison: ShadowComparison): void {
    let entry = this.#byEndpoint.get(endpoint);
    if (!entry) this.#byEndpoint.set(endpoint, (entry = { counts: { match: 0, mismatch: 0, error: 0 }, recent: [] }));
    entry.counts[comparison.result]++;
    if (comparison.result === "match") return;
    entry.recent.unshift(comparison);
    if (entry.recent.length > KEEP) entry.recent.pop();
  }

  summary(endpoint: string): ShadowSummary {
    const entry = this.#byEndpoint.get(endpoint);
    return entry ? { counts: { ...entry.counts }, recent: [...entry.recent] } : { counts: { match: 0, mismatch: 0, error: 0 }, recent: [] };
  }
}
