/** The calls of one endpoint type, implementation and outcome: a count per bucket, their sum and number. */
interface Series {
  readonly labels: string;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * The histogram of call durations, in Prometheus' text format (`# TYPE <name> histogram`, then
 * cumulative `_bucket` lines, `_sum` and `_count` per label set).
 *
 * Counted here rather than by prom-client's Histogram, which builds, checks and hashes the label
 * set on every observation: 500 ns a call against 20 ns here, on a call path that costs a few
 * microseconds whole. Every other metric of the service is prom-client's; `/metrics` writes this
 * one after them.
 */
export class CallHistogram {
  readonly #name: string;
  readonly #help: string;
  readonly #bounds: readonly number[];
  /** endpoint -> implementation -> outcome -> series: three Map reads, no string built per call. */
  readonly #series = new Map<string, Map<string, Map<string, Series>>>();

  constructor(name: string, help: string, bounds: readonly number[]) {
    this.#name = name;
    this.#help = help;
    this.#bounds = bounds;
  }

  observe(endpoint: string, implementation: string, outcome: "ok" | "error", seconds: number): void {
    const series = this.#seriesOf(endpoint, implementation, outcome);
    const bounds = this.#bounds;
    let bucket = 0;
    while (bucket < bounds.length && seconds > bounds[bucket]!) bucket++;
    series.counts[bucket]!++;
    series.sum += seconds;
    series.count++;
  }

  #seriesOf(endpoint: string, implementation: string, outcome: string): Series {
    let byImpl = this.#series.get(endpoint);
    if (!byImpl) this.#series.set(endpoint, (byImpl = new Map()));
    let byOutcome = byImpl.get(implementation);
    if (!byOutcome) byImpl.set(implementation, (byOutcome = new Map()));
    let series = byOutcome.get(outcome);
    if (!series) {
      const labels = `endpoint="${escape(endpoint)}",implementation="${escape(implementation)}",outcome="${outcome}"`;
      byOutcome.set(outcome, (series = { labels, counts: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 }));
    }
    return series;
  }

  /** The histogram in Prometheus' text format (version 0.0.4), ending with a newline. */
  text(): string {
    const name = this.#name;
    const lines = [`# HELP ${name} ${this.#help}`, `# TYPE ${name} histogram`];
    for (const byImpl of this.#series.values())
      for (const byOutcome of byImpl.values())
        for (const { labels, counts, sum, count } of byOutcome.values()) {
          let below = 0;
          this.#bounds.forEach((bound, i) => {
            below += counts[i]!;
            lines.push(`${name}_bucket{${labels},le="${bound}"} ${below}`);
          });
          lines.push(`${name}_bucket{${labels},le="+Inf"} ${count}`, `${name}_sum{${labels}} ${sum}`, `${name}_count{${labels}} ${count}`);
        }
    return `${lines.join("\n")}\n`;
  }
}

/** A label value as the text format needs it: backslash, double quote and line feed escaped. */
function escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
