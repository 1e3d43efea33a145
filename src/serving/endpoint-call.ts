import { performance } from "node:perf_hooks";
import { isStrataError, StrataError } from "../errors/strata-error.js";
import { describeIssues } from "./compiled-schema.js";
import { Deadlines } from "./deadlines.js";
import type { Logger } from "pino";
import type { ModelVersion } from "../storage/model-registry.js";
import type { EndpointContext, KvReader, TableReader } from "./endpoint-context.js";
import type { LoadedEndpoint, LoadedImplementation } from "./load-endpoints.js";
import { route } from "./router.js";
import type { ServingData } from "./serving-data.js";
import type { ServingMetrics } from "./serving-metrics.js";
import { ShadowLog } from "./shadow-log.js";

/** One answer: the implementation that gave it, and the output as JSON text. */
export interface CallResult {
  readonly implementation: string;
  readonly json: string;
  /** Set when the fallback answered: the implementation that failed first. */
  readonly fallbackFrom?: string;
}

/**
 * Calls implementations: the time budget, the output check, errors turned into codes (never a
 * stack trace to the caller), routing with fallback, and shadow calls. Knows nothing of HTTP.
 */
export class EndpointCaller {
  readonly shadows = new ShadowLog();
  readonly #data: ServingData;
  readonly #metrics: ServingMetrics;
  readonly #now: () => number;
  readonly #deadlines = new Deadlines();

  constructor(data: ServingData, metrics: ServingMetrics, now: () => number) {
    this.#data = data;
    this.#metrics = metrics;
    this.#now = now;
  }

  /**
   * A call to a checked input. With `implementation`, that one answers and nothing else runs;
   * without, the type's routing picks one, falls back on failure, and shadows.
   */
  async call(endpoint: LoadedEndpoint, input: unknown, implementation?: string): Promise<CallResult> {
    if (implementation !== undefined)
      return { implementation, json: await this.#run(endpoint, this.#implementation(endpoint, implementation), input) };
    const { routing } = endpoint;
    const chosen = route(routing, input);
    // The shadow gets its own copy: an implementation may change its input.
    const shadowInput = routing.shadow !== undefined && routing.shadow !== chosen ? structuredClone(input) : undefined;
    let result: CallResult;
    try {
      result = { implementation: chosen, json: await this.#run(endpoint, endpoint.implementations.get(chosen)!, input) };
    } catch (error) {
      const fallback = routing.fallback;
      // Only failures fall back: a 4xx (a key not found, a bad query) is the answer.
      if (fallback === undefined || fallback === chosen || (isStrataError(error) && error.status < 500)) throw error;
      this.#metrics.fallback(endpoint.type.name, chosen, fallback);
      endpoint.implementations.get(chosen)!.log.warn({ err: error, fallback }, "implementation failed; the fallback answers");
      result = {
        implementation: fallback,
        json: await this.#run(endpoint, endpoint.implementations.get(fallback)!, input),
        fallbackFrom: chosen,
      };
    }
    if (shadowInput !== undefined) void this.#shadow(endpoint, result, shadowInput);
    return result;
  }

  #implementation(endpoint: LoadedEndpoint, name: string): LoadedImplementation {
    const impl = endpoint.implementations.get(name);
    if (impl) return impl;
    throw new StrataError(
      "IMPLEMENTATION_NOT_FOUND",
      `endpoint "${endpoint.type.name}" has no implementation "${name}" (it has: ${[...endpoint.implementations.keys()].join(", ")})`,
      { details: { endpoint: endpoint.type.name, implementation: name, implementations: [...endpoint.implementations.keys()] } },
    );
  }

  /** Runs one implementation within the type's time budget; returns its checked output as JSON. */
  async #run(endpoint: LoadedEndpoint, impl: LoadedImplementation, input: unknown): Promise<string> {
    const started = performance.now();
    const name = endpoint.type.name;
    const budget = endpoint.routing.timeoutMs;
    try {
      const ctx = new CallContext(name, impl, this.#data, this.#now);
      const output = await this.#withinBudget(name, budget, impl, ctx, input);
      const issues = endpoint.schemas.checkOutput(output);
      if (issues) {
        impl.log.error({ issues }, "the implementation's output does not match the output schema");
        throw new StrataError(
          "OUTPUT_INVALID",
          `${name}/${impl.name} returned an output that does not match its schema: ${describeIssues(issues)}`,
          {
            details: { endpoint: name, implementation: impl.name, issues },
          },
        );
      }
      const json = endpoint.schemas.serialize(output);
      this.#metrics.observe(name, impl.name, (performance.now() - started) / 1000);
      return json;
    } catch (thrown) {
      const error = this.#asStrataError(name, impl, thrown);
      this.#metrics.observe(name, impl.name, (performance.now() - started) / 1000, error.code);
      throw error;
    }
  }

  /** The implementation's output, or IMPLEMENTATION_TIMEOUT (and `ctx.signal` aborted) once its budget has passed. */
  #withinBudget(name: string, budget: number, impl: LoadedImplementation, ctx: CallContext, input: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const deadline = this.#deadlines.watch(budget, () => {
        const error = new StrataError("IMPLEMENTATION_TIMEOUT", `${name}/${impl.name} did not answer within ${budget} ms`, {
          details: { endpoint: name, implementation: impl.name, timeoutMs: budget },
        });
        ctx.abort(error);
        reject(error);
      });
      let pending: unknown;
      try {
        pending = impl.run(input as never, ctx);
      } catch (error) {
        deadline.cancel();
        reject(error);
        return;
      }
      Promise.resolve(pending).then(
        (output) => {
          deadline.cancel();
          resolve(output);
        },
        (error: unknown) => {
          deadline.cancel();
          reject(error);
        },
      );
    });
  }

  #asStrataError(endpoint: string, impl: LoadedImplementation, thrown: unknown): StrataError {
    if (isStrataError(thrown)) return thrown;
    // The caller gets the message and a code; the stack stays in the service log.
    impl.log.error({ err: thrown }, "implementation failed");
    return new StrataError(
      "IMPLEMENTATION_FAILED",
      `${endpoint}/${impl.name} failed: ${thrown instanceof Error ? thrown.message : String(thrown)}`,
      {
        details: { endpoint, implementation: impl.name },
      },
    );
  }

  /** Calls the shadow after the answer is sent and records how its output compares. Never throws. */
  async #shadow(endpoint: LoadedEndpoint, primary: CallResult, input: unknown): Promise<void> {
    const shadow = endpoint.routing.shadow!;
    const name = endpoint.type.name;
    try {
      const json = await this.#run(endpoint, endpoint.implementations.get(shadow)!, input);
      const result = json === primary.json ? "match" : "mismatch";
      this.#metrics.shadow(name, primary.implementation, shadow, result);
      this.shadows.record(name, {
        at: this.#now(),
        primary: primary.implementation,
        shadow,
        result,
        input,
        primaryOutput: primary.json,
        shadowOutput: json,
      });
    } catch (error) {
      this.#metrics.shadow(name, primary.implementation, shadow, "error");
      const code = isStrataError(error) ? error.code : "IMPLEMENTATION_FAILED";
      this.shadows.record(name, {
        at: this.#now(),
        primary: primary.implementation,
        shadow,
        result: "error",
        input,
        primaryOutput: primary.json,
        error: code,
      });
    }
  }
}

/**
 * What one call's implementation gets. A class, not a literal of closures: the hot path makes one
 * per call. The AbortController is made only when the implementation asks for the signal.
 */
class CallContext implements EndpointContext {
  readonly endpoint: string;
  readonly implementation: string;
  readonly log: Logger;
  readonly #data: ServingData;
  readonly #now: () => number;
  #abort: AbortController | undefined;
  #reason: unknown;

  constructor(endpoint: string, impl: LoadedImplementation, data: ServingData, now: () => number) {
    this.endpoint = endpoint;
    this.implementation = impl.name;
    this.log = impl.log;
    this.#data = data;
    this.#now = now;
  }

  get signal(): AbortSignal {
    if (!this.#abort) {
      this.#abort = new AbortController();
      if (this.#reason !== undefined) this.#abort.abort(this.#reason);
    }
    return this.#abort.signal;
  }

  /** Out of time: the signal, if anyone holds it, is aborted with `reason`. */
  abort(reason: unknown): void {
    this.#reason = reason;
    this.#abort?.abort(reason);
  }

  kv<Doc = Record<string, unknown>>(storage: string, dataset?: string): KvReader<Doc> {
    return this.#data.kv<Doc>(storage, dataset);
  }

  table(storage = "warehouse"): TableReader {
    return this.#data.table(storage);
  }

  model(name: string, aliasOrVersion: string | number = "live"): Promise<ModelVersion> {
    return this.#data.model(name, aliasOrVersion, this.#now());
  }

  notFound(message?: string): never {
    throw new StrataError("KEY_NOT_FOUND", message ?? `${this.endpoint}/${this.implementation}: not found`, {
      details: { endpoint: this.endpoint, implementation: this.implementation },
    });
  }
}
