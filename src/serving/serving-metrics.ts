import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { CatalogStore } from "../storage/catalog-store.js";
import { CallHistogram } from "./call-histogram.js";

/** What `/metrics` exposes, in Prometheus' text format. */
export class ServingMetrics {
  readonly #registry = new Registry();
  readonly #duration = new CallHistogram(
    "strata_endpoint_duration_seconds",
    "Time to answer an endpoint call, per endpoint type and implementation (outcome ok or error)",
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );
  readonly #errors: Counter<"endpoint" | "implementation" | "code">;
  readonly #fallbacks: Counter<"endpoint" | "from" | "to">;
  readonly #shadow: Counter<"endpoint" | "primary" | "shadow" | "result">;
  readonly #reloads: Counter<"result">;

  constructor(catalog: CatalogStore, now: () => number) {
    const registers = [this.#registry];
    this.#errors = new Counter({
      name: "strata_endpoint_errors_total",
      help: "Endpoint calls that ended in an error, by error code",
      labelNames: ["endpoint", "implementation", "code"],
      registers,
    });
    this.#fallbacks = new Counter({
      name: "strata_endpoint_fallbacks_total",
      help: "Calls answered by the fallback implementation after the chosen one failed or timed out",
      labelNames: ["endpoint", "from", "to"],
      registers,
    });
    this.#shadow = new Counter({
      name: "strata_endpoint_shadow_comparisons_total",
      help: "Shadow calls compared with the answer sent: match, mismatch or error",
      labelNames: ["endpoint", "primary", "shadow", "result"],
      registers,
    });
    this.#reloads = new Counter({
      name: "strata_endpoint_reloads_total",
      help: "Reloads of the endpoint implementations, by result",
      labelNames: ["result"],
      registers,
    });
    // Read at each scrape: how old each storage's live data is (seconds since its version went live).
    new Gauge({
      name: "strata_storage_freshness_seconds",
      help: "Age of the live version of each dataset, per storage",
      labelNames: ["storage", "dataset"],
      registers,
      async collect() {
        this.reset();
        for (const dataset of await catalog.datasets()) {
          const live = await catalog.liveVersion(dataset);
          if (live) this.set({ storage: live.storage, dataset }, (now() - (live.finishedAt ?? live.createdAt)) / 1000);
        }
      },
    });
    collectDefaultMetrics({ register: this.#registry, prefix: "strata_" });
  }

  /** Every metric, in Prometheus' text format (`contentType`). */
  async text(): Promise<string> {
    return `${await this.#registry.metrics()}\n${this.#duration.text()}`;
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  observe(endpoint: string, implementation: string, seconds: number, errorCode?: string): void {
    this.#duration.observe(endpoint, implementation, errorCode === undefined ? "ok" : "error", seconds);
    if (errorCode !== undefined) this.#errors.inc({ endpoint, implementation, code: errorCode });
  }

  fallback(endpoint: string, from: string, to: string): void {
    this.#fallbacks.inc({ endpoint, from, to });
  }

  shadow(endpoint: string, primary: string, shadow: string, result: "match" | "mismatch" | "error"): void {
    this.#shadow.inc({ endpoint, primary, shadow, result });
  }

  reload(result: "ok" | "failed"): void {
    this.#reloads.inc({ result });
  }
}
