import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import secureJson from "secure-json-parse";
import { isStrataError, StrataError } from "../errors/strata-error.js";
import { describeIssues, type FieldIssue } from "../serving/compiled-schema.js";
import type { CallResult, EndpointCaller } from "../serving/endpoint-call.js";
import type { EndpointSet, LoadedEndpoint } from "../serving/load-endpoints.js";
import { keyOf, type ApiKeyCheck } from "./api-key-check.js";
import { errorBody } from "./error-replies.js";
import { turnEndWrites } from "./turn-end-writes.js";

export interface CallRoutesOptions {
  readonly caller: EndpointCaller;
  readonly keys: ApiKeyCheck;
  /** The endpoints served now (a reload swaps the set whole). */
  readonly endpoints: () => EndpointSet;
  readonly closing: () => boolean;
  readonly log: Logger;
  readonly bodyLimit: number;
}

/** Which call a path asks for: `/v1/endpoints/:type[/:impl][/batch]`. */
export interface CallRoute {
  readonly type: string;
  readonly implementation?: string;
  readonly batch: boolean;
}

const PREFIX = "/v1/endpoints/";
const JSON_TYPE = "application/json; charset=utf-8";

/** The call a POST path names, or undefined when it names none (another route answers it). */
export function callRouteOf(url: string): CallRoute | undefined {
  if (!url.startsWith(PREFIX)) return undefined;
  const query = url.indexOf("?");
  const parts = url.slice(PREFIX.length, query < 0 ? undefined : query).split("/");
  if (parts.some((p) => p === "")) return undefined;
  let decoded = parts;
  if (url.includes("%"))
    try {
      decoded = parts.map(decodeURIComponent);
    } catch {
      return undefined;
    }
  const [type, second, third] = decoded as [string, string, string];
  if (decoded.length === 1) return { type, batch: false };
  if (decoded.length === 2) return second === "batch" ? { type, batch: true } : { type, implementation: second, batch: false };
  if (decoded.length === 3 && third === "batch") return { type, implementation: second, batch: true };
  return undefined;
}

function inputError(issues: readonly FieldIssue[], prefix: string): StrataError {
  return new StrataError("INPUT_INVALID", `the input does not match the endpoint's input schema: ${describeIssues(issues, prefix)}`, {
    details: { issues: issues.map((i) => ({ ...i, field: prefix + i.field })) },
  });
}

/** The endpoint type named `name`, or ENDPOINT_NOT_FOUND listing the ones there are. */
export function endpointIn(set: EndpointSet, name: string): LoadedEndpoint {
  const endpoint = set.endpoints.get(name);
  if (endpoint) return endpoint;
  const names = [...set.endpoints.keys()];
  throw new StrataError("ENDPOINT_NOT_FOUND", `no endpoint type "${name}" (there are: ${names.join(", ") || "none"})`, {
    details: { endpoint: name, endpoints: names },
  });
}

/** Reads a JSON body within `limit` bytes; a body that is not JSON, or too large, is REQUEST_INVALID. */
function readJson(request: IncomingMessage, limit: number): Promise<unknown> {
  const type = request.headers["content-type"];
  if (type === undefined || !/^application\/json\b/i.test(type))
    return Promise.reject(
      new StrataError("REQUEST_INVALID", `a call's body is JSON: send Content-Type: application/json (got ${type ?? "none"})`),
    );
  const tooLarge = (): StrataError =>
    new StrataError("REQUEST_INVALID", `the request body is larger than the service's limit of ${limit} bytes`, {
      details: { limit },
    });
  if (Number(request.headers["content-length"] ?? 0) > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners("data");
        request.resume();
        reject(tooLarge());
      } else chunks.push(chunk);
    });
    request.on("error", reject);
    request.on("end", () => {
      const text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8");
      try {
        // Like Fastify's parser: a body that would set an object's prototype is refused.
        resolve(secureJson.parse(text, undefined, { protoAction: "error", constructorAction: "error" }));
      } catch (error) {
        reject(new StrataError("REQUEST_INVALID", `the request body is not valid JSON: ${(error as Error).message}`));
      }
    });
  });
}

/**
 * The endpoint calls, `POST /v1/endpoints/:type[/:impl][/batch]`, answered on node:http in front
 * of Fastify: they are the service's hot path, and Fastify's per-request work (its request and
 * reply objects, hooks and body parser) cost more than Strata's whole call. Every other route is
 * Fastify's. Returns a handler that answers a call and returns true, or returns false for
 * anything else.
 */
export function callRoutes(options: CallRoutesOptions): (request: IncomingMessage, response: ServerResponse) => boolean {
  const { caller, keys, log, bodyLimit } = options;

  // Answers leave together at the end of the turn (see turnEndWrites); the first answer of a response wins.
  const later = turnEndWrites();
  const send = (response: ServerResponse, status: number, json: string, headers?: Record<string, string>): void =>
    later(() => {
      if (response.headersSent) return;
      response.writeHead(status, { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(json), ...headers });
      response.end(json);
    });

  const endpointOf = (name: string): LoadedEndpoint => endpointIn(options.endpoints(), name);

  // One call: the input is checked by the type's compiled validator, the answer written by its serializer.
  const one = async (route: CallRoute, body: unknown, response: ServerResponse): Promise<void> => {
    const endpoint = endpointOf(route.type);
    const issues = endpoint.schemas.checkInput(body);
    if (issues) throw inputError(issues, "");
    const result = await caller.call(endpoint, body, route.implementation);
    const headers: Record<string, string> = { "strata-implementation": result.implementation };
    if (result.fallbackFrom) headers["strata-fallback-from"] = result.fallbackFrom;
    send(response, 200, result.json, headers);
  };

  // Many inputs: all checked first (400 names the input's index), then run together, so that their
  // storage reads go out as one mget and answer from one version. One result per input, in order.
  const batch = async (route: CallRoute, body: unknown, response: ServerResponse): Promise<void> => {
    const endpoint = endpointOf(route.type);
    const inputs = (body as { inputs?: unknown } | null)?.inputs;
    if (!Array.isArray(inputs)) throw new StrataError("REQUEST_INVALID", 'a batch body is {"inputs": [...]}, one input per element');
    for (let i = 0; i < inputs.length; i++) {
      const issues = endpoint.schemas.checkInput(inputs[i]);
      if (issues) throw inputError(issues, `inputs.${i}.`);
    }
    const settled = await Promise.allSettled(inputs.map((input) => caller.call(endpoint, input, route.implementation)));
    const parts = settled.map((s) => (s.status === "fulfilled" ? resultJson(s.value) : errorPart(s.reason)));
    send(response, 200, `{"results":[${parts.join(",")}]}`);
  };
  const resultJson = (r: CallResult): string => `{"implementation":${JSON.stringify(r.implementation)},"output":${r.json}}`;
  const errorPart = (reason: unknown): string => errorBody(asStrataError(reason, "the service failed to answer this input; see its log"));

  const asStrataError = (thrown: unknown, message: string): StrataError => {
    if (isStrataError(thrown)) return thrown;
    log.error({ err: thrown }, "call failed");
    return new StrataError("IMPLEMENTATION_FAILED", message);
  };

  const answer = async (route: CallRoute, request: IncomingMessage, response: ServerResponse): Promise<void> => {
    try {
      if (options.closing()) throw new StrataError("SERVER_STOPPING", "the service is shutting down");
      const allowed = keys.check(keyOf(request.headers), "invoke");
      if (allowed instanceof Promise) await allowed;
      const body = await readJson(request, bodyLimit);
      await (route.batch ? batch : one)(route, body, response);
    } catch (thrown) {
      const error = asStrataError(thrown, "the service failed to answer; see its log");
      if (!response.headersSent) send(response, error.status, errorBody(error));
    }
  };

  return (request, response) => {
    if (request.method !== "POST") return false;
    const route = callRouteOf(request.url ?? "");
    if (!route) return false;
    void answer(route, request, response);
    return true;
  };
}
