import type { ErrorCode } from "../errors/codes.js";
import { StrataClientError, statusOf } from "./client-error.js";
import type {
  AnyEndpoint,
  Answer,
  BatchItem,
  CallOptions,
  ClientOptions,
  EndpointContract,
  EndpointDescription,
  EndpointInput,
  EndpointName,
  EndpointOutput,
} from "./types.js";

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_RETRY_DELAY_MS = 20;

/** A typed client of one models service. Endpoint names, inputs and outputs come from `E`. */
export interface StrataClient<E extends AnyEndpoint> {
  /** The service's base URL, without a trailing slash. */
  readonly url: string;
  /** Calls an endpoint (routed, or `options.implementation`) and returns its output. */
  call<N extends EndpointName<E>>(endpoint: N, input: EndpointInput<E, NoInfer<N>>, options?: CallOptions): Promise<EndpointOutput<E, N>>;
  /** Like `call`, and says which implementation answered (and which one failed first when the fallback answered). */
  invoke<N extends EndpointName<E>>(
    endpoint: N,
    input: EndpointInput<E, NoInfer<N>>,
    options?: CallOptions,
  ): Promise<Answer<EndpointOutput<E, N>>>;
  /**
   * Calls an endpoint on many inputs in one request; one result per input, in order. An input
   * that fails (e.g. KEY_NOT_FOUND) is an `{ ok: false, error }` item; a failure of the whole
   * request (an invalid input, a wrong key, the service down) throws.
   */
  batch<N extends EndpointName<E>>(
    endpoint: N,
    inputs: readonly EndpointInput<E, NoInfer<N>>[],
    options?: CallOptions,
  ): Promise<BatchItem<EndpointOutput<E, N>>[]>;
  /** The endpoint types the service has now, with their JSON Schemas, implementations and routing. */
  endpoints(): Promise<EndpointDescription[]>;
}

/** What the client does, untyped; `createClient` gives it the types of `E`. */
interface UntypedClient {
  readonly url: string;
  call(endpoint: string, input: unknown, options?: CallOptions): Promise<unknown>;
  invoke(endpoint: string, input: unknown, options?: CallOptions): Promise<Answer<unknown>>;
  batch(endpoint: string, inputs: readonly unknown[], options?: CallOptions): Promise<BatchItem<unknown>[]>;
  endpoints(): Promise<EndpointDescription[]>;
}

interface Reply {
  readonly headers: Headers;
  readonly body: unknown;
}

type Settings = { readonly timeoutMs: number; readonly retries: number };

function numberOption(value: number | undefined, fallback: number, name: string, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < min) throw new TypeError(`strata client: ${name} must be a number >= ${min}, got ${value}`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Why fetch failed, in a word when Node gives one (ECONNREFUSED, ENOTFOUND...). */
function reasonOf(thrown: unknown): string {
  const cause = (thrown as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message;
  return thrown instanceof Error ? thrown.message : String(thrown);
}

function invalidResponse(status: number, message: string, details: Record<string, unknown> = {}): StrataClientError {
  return new StrataClientError("RESPONSE_INVALID", message, { status, details });
}

/** The service's error body `{"error":{code,message,details}}` as a StrataClientError, with the status it came with. */
function errorOf(body: unknown, status: (code: string) => number): StrataClientError | undefined {
  const error = isRecord(body) ? body["error"] : undefined;
  if (!isRecord(error) || typeof error["code"] !== "string") return undefined;
  const code = error["code"] as ErrorCode; // a newer service may send a code this client does not know: kept as is
  return new StrataClientError(code, typeof error["message"] === "string" ? error["message"] : code, {
    status: status(code),
    details: isRecord(error["details"]) ? error["details"] : {},
  });
}

function withAttempts(error: StrataClientError, attempts: number): StrataClientError {
  return new StrataClientError(error.code, `${error.message} (after ${attempts} attempts)`, {
    status: error.status,
    details: error.details,
    attempts,
    cause: error.cause,
  });
}

/**
 * A typed client of a Strata models service (`strata serve`), for live services. It needs only
 * the global `fetch` (Node 20+), and imports neither zod nor the server: types only.
 *
 * ```ts
 * import { createClient } from "strata/client";
 * import type customerValue from "./endpoints/customer-value/endpoint.js";
 *
 * const models = createClient<typeof customerValue>({ url: "http://127.0.0.1:8080", apiKey: process.env.STRATA_KEY!, timeoutMs: 100 });
 * const { clv } = await models.call("customer-value", { customerId: "00042" });
 * ```
 *
 * Type the client with a union of endpoint types (`typeof a | typeof b`), or with
 * {@link EndpointContract}s declared by hand; untyped, it takes any name and input. Outputs are
 * not checked again here: the service checks every output against its schema before sending it.
 *
 * Every failure is a {@link StrataClientError} with the service's stable `code` (docs/errors.md),
 * the HTTP `status`, `details` and `retryable`, or one of the client's own codes, which are not
 * in docs/errors.md since no service sends them: `SERVICE_UNREACHABLE` (no connection: refused,
 * reset, DNS; status 0, retryable), `CLIENT_TIMEOUT` (no full answer within `timeoutMs`; status 0,
 * retryable) and `RESPONSE_INVALID` (an answer that is not the service's JSON, e.g. a proxy's
 * error page). With `retries`, retryable failures (503, 504 and the first two client codes) are
 * tried again after a short backoff; endpoints are reads, so a retry is safe.
 */
export function createClient<E extends AnyEndpoint = EndpointContract>(options: ClientOptions): StrataClient<E> {
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw new TypeError(`createClient: url must be an absolute http(s) URL, got "${options.url}"`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:")
    throw new TypeError(`createClient: url must be http(s), got "${options.url}"`);
  const url = base.href.replace(/\/+$/, "");
  const headers = { authorization: `Bearer ${options.apiKey}`, accept: "application/json", "content-type": "application/json" };
  const defaults: Settings = {
    timeoutMs: numberOption(options.timeoutMs, DEFAULT_TIMEOUT_MS, "timeoutMs", 1),
    retries: Math.floor(numberOption(options.retries, 0, "retries", 0)),
  };
  const retryDelayMs = numberOption(options.retryDelayMs, DEFAULT_RETRY_DELAY_MS, "retryDelayMs", 0);

  const settings = (call: CallOptions | undefined): Settings => ({
    timeoutMs: numberOption(call?.timeoutMs, defaults.timeoutMs, "timeoutMs", 1),
    retries: Math.floor(numberOption(call?.retries, defaults.retries, "retries", 0)),
  });

  /** One request: the whole answer read and parsed within the time budget. */
  const attempt = async (method: "GET" | "POST", path: string, body: string | undefined, timeoutMs: number): Promise<Reply> => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    const failed = (thrown: unknown): StrataClientError =>
      abort.signal.aborted
        ? new StrataClientError("CLIENT_TIMEOUT", `no answer from ${url}${path} within ${timeoutMs} ms`, {
            status: 0,
            details: { url: url + path, timeoutMs },
          })
        : new StrataClientError("SERVICE_UNREACHABLE", `cannot reach the models service at ${url}: ${reasonOf(thrown)}`, {
            status: 0,
            details: { url: url + path, reason: reasonOf(thrown) },
            cause: thrown,
          });
    try {
      let response: Response;
      let text: string;
      try {
        response = await fetch(url + path, { method, headers, body: body ?? null, signal: abort.signal });
        text = await response.text();
      } catch (thrown) {
        throw failed(thrown);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw invalidResponse(response.status, `${method} ${url}${path} answered ${response.status} with a body that is not JSON`, {
          body: text.slice(0, 200),
        });
      }
      if (response.ok) return { headers: response.headers, body: parsed };
      throw (
        errorOf(parsed, () => response.status) ??
        invalidResponse(response.status, `${method} ${url}${path} answered ${response.status} without a Strata error body`, {
          body: text.slice(0, 200),
        })
      );
    } finally {
      clearTimeout(timer);
    }
  };

  /** A request, tried again after retryable failures, waiting 1x, 2x, 4x... `retryDelayMs` (with jitter). */
  const request = async (method: "GET" | "POST", path: string, body: unknown, call: CallOptions | undefined): Promise<Reply> => {
    const { timeoutMs, retries } = settings(call);
    const json = body === undefined ? undefined : JSON.stringify(body);
    for (let attempts = 1; ; attempts++) {
      try {
        return await attempt(method, path, json, timeoutMs);
      } catch (error) {
        if (!(error instanceof StrataClientError) || !error.retryable || attempts > retries)
          throw attempts > 1 && error instanceof StrataClientError ? withAttempts(error, attempts) : error;
        const wait = retryDelayMs * 2 ** (attempts - 1) * (0.5 + Math.random() / 2);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  };

  const pathOf = (endpoint: string, call: CallOptions | undefined, suffix = ""): string =>
    `/v1/endpoints/${encodeURIComponent(endpoint)}${call?.implementation === undefined ? "" : `/${encodeURIComponent(call.implementation)}`}${suffix}`;

  const invoke = async (endpoint: string, input: unknown, call?: CallOptions): Promise<Answer<unknown>> => {
    const reply = await request("POST", pathOf(endpoint, call), input, call);
    const implementation = reply.headers.get("strata-implementation") ?? call?.implementation ?? "";
    const fallbackFrom = reply.headers.get("strata-fallback-from");
    return fallbackFrom === null ? { output: reply.body, implementation } : { output: reply.body, implementation, fallbackFrom };
  };

  const client: UntypedClient = {
    url,
    async call(endpoint, input, call) {
      return (await invoke(endpoint, input, call)).output;
    },
    invoke,
    async batch(endpoint, inputs, call) {
      if (inputs.length === 0) return [];
      const path = pathOf(endpoint, call, "/batch");
      const reply = await request("POST", path, { inputs }, call);
      const results = isRecord(reply.body) ? reply.body["results"] : undefined;
      if (!Array.isArray(results) || results.length !== inputs.length)
        throw invalidResponse(200, `POST ${url}${path} did not answer one result per input (${inputs.length})`);
      return results.map((result: unknown): BatchItem<unknown> => {
        // An item's error carries no status: the one the service gives its code alone.
        const error = errorOf(result, statusOf);
        if (error) return { ok: false, error };
        const item = isRecord(result) ? result : {};
        return { ok: true, output: item["output"], implementation: String(item["implementation"] ?? "") };
      });
    },
    async endpoints() {
      const reply = await request("GET", "/v1/endpoints", undefined, undefined);
      const list = isRecord(reply.body) ? reply.body["endpoints"] : undefined;
      if (!Array.isArray(list)) throw invalidResponse(200, `GET ${url}/v1/endpoints did not answer {"endpoints": [...]}`);
      return list as EndpointDescription[];
    },
  };
  return client as unknown as StrataClient<E>;
}
