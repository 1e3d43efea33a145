import type { z } from "zod";
import type { Routing } from "../serving/endpoint.js";
import type { StrataClientError } from "./client-error.js";

/**
 * An endpoint declared by hand, for a live service that cannot import the project's
 * `endpoints/<type>/endpoint.ts` (a service in another repository):
 * `EndpointContract<"customer-value", { customerId: string }, { clv: number }>`. Type-only.
 */
export interface EndpointContract<Name extends string = string, In = unknown, Out = unknown> {
  readonly name: Name;
  readonly contract: { readonly input: In; readonly output: Out };
}

/**
 * An endpoint type as `endpoint()` declares it (`typeof customerValue`). Only its name and the
 * types of its schemas are used, so a type from another copy of strata fits as well.
 */
export interface EndpointTypeLike {
  readonly name: string;
  readonly input: z.ZodType;
  readonly output: z.ZodType;
}

/** What a client is typed with: endpoint types or contracts, as a union. */
export type AnyEndpoint = EndpointTypeLike | EndpointContract;

/** The endpoint names a client accepts: the union of the types' `name` literals. */
export type EndpointName<E extends AnyEndpoint> = E["name"];

// The same as InputOf / OutputOf of serving/endpoint.ts for an endpoint type.
type InputOfAny<E> = E extends EndpointContract<string, infer In, unknown> ? In : E extends EndpointTypeLike ? z.input<E["input"]> : never;
type OutputOfAny<E> =
  E extends EndpointContract<string, unknown, infer Out> ? Out : E extends EndpointTypeLike ? z.output<E["output"]> : never;

/** The endpoints of `E` that answer to name `N` (a contract named `string` answers to every name). */
type Named<E, N> = E extends { readonly name: infer Name } ? (N extends Name ? E : never) : never;

/** What a call to endpoint `N` sends (the input schema's input side: fields with defaults may be left out). */
export type EndpointInput<E extends AnyEndpoint, N extends EndpointName<E>> = InputOfAny<Named<E, N>>;
/** What a call to endpoint `N` gets back. */
export type EndpointOutput<E extends AnyEndpoint, N extends EndpointName<E>> = OutputOfAny<Named<E, N>>;

/** Settings of one client; every field but `url` and `apiKey` has a default. */
export interface ClientOptions {
  /** Base URL of the models service, e.g. `http://127.0.0.1:8080`; a path prefix (behind a gateway) is kept. */
  readonly url: string;
  /** An API key with the `invoke` scope (`strata keys create <name>`), sent as `Authorization: Bearer <key>`. */
  readonly apiKey: string;
  /**
   * Time budget of one attempt, from sending the request to reading the whole answer, in ms
   * (default 5000). Set it to what your service can wait: past it the call fails with CLIENT_TIMEOUT.
   */
  readonly timeoutMs?: number | undefined;
  /** Attempts after a retryable failure (503, 504, SERVICE_UNREACHABLE, CLIENT_TIMEOUT); default 0. */
  readonly retries?: number | undefined;
  /** Wait before the first retry, in ms (default 20); doubled at each retry, with jitter. */
  readonly retryDelayMs?: number | undefined;
}

/** Options of one call; they override the client's. */
export interface CallOptions {
  /** Call this implementation (`POST /v1/endpoints/<type>/<implementation>`) instead of the type's routing. */
  readonly implementation?: string | undefined;
  readonly timeoutMs?: number | undefined;
  readonly retries?: number | undefined;
}

/** An answer with the implementation that gave it. */
export interface Answer<Out> {
  readonly output: Out;
  readonly implementation: string;
  /** Set when the routing's fallback answered: the implementation that failed first. */
  readonly fallbackFrom?: string;
}

/** One input's result in a batch: its output, or its own error (the other inputs still answer). */
export type BatchItem<Out> =
  { readonly ok: true; readonly output: Out; readonly implementation: string } | { readonly ok: false; readonly error: StrataClientError };

/** A JSON Schema document, as the service publishes it. */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** One endpoint type as `GET /v1/endpoints` describes it. */
export interface EndpointDescription {
  readonly name: string;
  readonly description: string | null;
  readonly input: JsonSchema;
  readonly output: JsonSchema;
  readonly implementations: readonly { readonly name: string }[];
  readonly routing: Routing;
}
