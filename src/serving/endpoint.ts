import type { z } from "zod";
import type { EndpointContext } from "./endpoint-context.js";

const ENDPOINT = Symbol.for("strata.endpoint");
const IMPLEMENTATION = Symbol.for("strata.implementation");

/**
 * How a call to an endpoint type (`POST /v1/endpoints/<type>`) picks its implementation.
 * With neither `default` nor `split`, a type with one implementation uses it.
 */
export interface Routing {
  /** The implementation that answers when there is no split. */
  readonly default?: string;
  /** Weighted split, e.g. `{ precomputed: 90, live: 10 }`: each call goes to one by weight. */
  readonly split?: Readonly<Record<string, number>>;
  /**
   * An input field (a dotted path) whose value decides the split: the same value always goes to
   * the same implementation (a hash, so no state is kept). Without it the split is random.
   */
  readonly sticky?: string;
  /** Also called on each routed call, after the answer is sent; its output is compared, never returned. */
  readonly shadow?: string;
  /** Answers when the chosen implementation fails or runs out of time. */
  readonly fallback?: string;
  /** Time budget of one implementation call, in ms (default 1000). */
  readonly timeoutMs?: number;
}

/** An endpoint type: a name with input and output schemas, and its routing. Declared once, in `endpoints/<name>/endpoint.ts`. */
export interface EndpointType<Name extends string = string, In extends z.ZodType = z.ZodType, Out extends z.ZodType = z.ZodType> {
  readonly [ENDPOINT]: true;
  readonly name: Name;
  readonly description: string | undefined;
  readonly input: In;
  readonly output: Out;
  readonly routing: Routing;
}

/** What a call sends: the input schema's input side (before defaults). */
export type InputOf<E extends EndpointType> = z.input<E["input"]>;
/** What a call gets back. */
export type OutputOf<E extends EndpointType> = z.output<E["output"]>;

export interface EndpointOptions<In extends z.ZodType, Out extends z.ZodType> {
  readonly input: In;
  readonly output: Out;
  readonly description?: string;
  readonly routing?: Routing;
}

/**
 * Declares an endpoint type. Its schemas must be expressible in JSON Schema (no transforms, no
 * Date objects: dates travel as strings): they are compiled into the validators and serializer
 * of the hot path, the OpenAPI document and the typed client.
 *
 * ```ts
 * // endpoints/customer-value/endpoint.ts
 * export default endpoint("customer-value", {
 *   input: z.object({ customerId: z.string() }),
 *   output: z.object({ customerId: z.string(), clv: z.number() }),
 *   routing: { default: "precomputed", fallback: "live" },
 * });
 * ```
 */
export function endpoint<const Name extends string, In extends z.ZodType, Out extends z.ZodType>(
  name: Name,
  options: EndpointOptions<In, Out>,
): EndpointType<Name, In, Out> {
  return {
    [ENDPOINT]: true,
    name,
    description: options.description,
    input: options.input,
    output: options.output,
    routing: options.routing ?? {},
  };
}

export function isEndpointType(value: unknown): value is EndpointType {
  return typeof value === "object" && value !== null && ENDPOINT in value;
}

/** The code of an implementation: the input as the schema parsed it, and a context with storage accessors. */
export type ImplementationFn<E extends EndpointType> = (
  input: z.output<E["input"]>,
  ctx: EndpointContext,
) => OutputOf<E> | Promise<OutputOf<E>> | z.input<E["output"]> | Promise<z.input<E["output"]>>;

export interface Implementation<E extends EndpointType = EndpointType> {
  readonly [IMPLEMENTATION]: true;
  /** The endpoint type it implements. */
  readonly type: E;
  readonly run: ImplementationFn<E>;
}

/**
 * An implementation of an endpoint type: the default export of `endpoints/<type>/<name>.ts`,
 * named after its file. Adding a file adds an implementation.
 *
 * ```ts
 * // endpoints/customer-value/precomputed.ts
 * export default implement(customerValue, async ({ customerId }, ctx) =>
 *   (await ctx.kv<Score>("customer-value").get(customerId)) ?? ctx.notFound(`no score for ${customerId}`));
 * ```
 */
export function implement<E extends EndpointType>(type: E, run: ImplementationFn<E>): Implementation<E> {
  return { [IMPLEMENTATION]: true, type, run };
}

export function isImplementation(value: unknown): value is Implementation {
  return typeof value === "object" && value !== null && IMPLEMENTATION in value;
}
