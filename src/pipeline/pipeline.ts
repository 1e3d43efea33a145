import type { z } from "zod";
import { DagError } from "../errors/errors.js";
import { withBuilder } from "./builder.js";
import { buildDag, type Dag } from "./dag.js";
import type { Hook } from "./hooks.js";
import { paramRef, type ParamRef } from "./refs.js";
import type { StepDefinition } from "./step.js";

const PIPELINE = Symbol.for("strata.pipeline");

/** A params schema: a zod object (anything with `safeParse` whose output is an object). */
export type ParamsSchema = z.ZodType<object>;

export interface PipelineOptions<S extends ParamsSchema> {
  /** Validated before any step starts; a bad param stops the run before it is recorded. */
  params?: S;
  description?: string;
  /** How many steps may run at once (default 4; `strata run --concurrency` overrides it). */
  concurrency?: number;
  /** Run when the run fails: the seeds' global fallback. A failing hook never hides the result. */
  onFailure?: readonly Hook[];
  onSuccess?: readonly Hook[];
}

/** Symbolic params handed to the build function: each one can be a step input or a SQL value. */
export type ParamRefs<P> = { readonly [K in keyof P]-?: ParamRef<P[K]> };

export interface PipelineDefinition<P extends object = Record<string, unknown>> {
  readonly [PIPELINE]: true;
  readonly name: string;
  readonly description: string | undefined;
  readonly params: ParamsSchema | undefined;
  readonly concurrency: number | undefined;
  readonly onFailure: readonly Hook[];
  readonly onSuccess: readonly Hook[];
  readonly dag: Dag;
  readonly steps: readonly StepDefinition[];
  /** Phantom: the parsed params type. */
  readonly __params?: P;
}

export type AnyPipeline = PipelineDefinition<object>;

// The implementation's view of a build function: any typed overload is assignable to it.
type BuildFn = (context: { params: never }) => void;

function paramNamesOf(schema: ParamsSchema | undefined): ReadonlySet<string> | undefined {
  if (!schema) return new Set();
  const shape = (schema as { shape?: unknown }).shape;
  return shape && typeof shape === "object" ? new Set(Object.keys(shape)) : undefined;
}

/**
 * Defines a pipeline. `build` runs once, synchronously, when the file is loaded: it declares
 * steps and does no I/O. The graph is checked right away.
 *
 * ```ts
 * export default pipeline("daily", { params: z.object({ day: z.coerce.date() }) }, ({ params }) => {
 *   const orders = step("orders", sql`select * from read_csv('data/orders.csv') where day = ${params.day}`);
 *   step("report", { inputs: { orders } }, async ({ orders }) => (await orders.count()));
 * });
 * ```
 */
export function pipeline<S extends ParamsSchema = z.ZodObject<Record<never, never>>>(
  name: string,
  options: PipelineOptions<S>,
  build: (context: { params: ParamRefs<z.output<S>> }) => void,
): PipelineDefinition<z.output<S>>;
export function pipeline(
  name: string,
  build: (context: { params: ParamRefs<Record<never, never>> }) => void,
): PipelineDefinition<Record<never, never>>;
export function pipeline(name: string, optionsOrBuild: PipelineOptions<ParamsSchema> | BuildFn, maybeBuild?: BuildFn): AnyPipeline {
  const options = typeof optionsOrBuild === "function" ? {} : optionsOrBuild;
  const build = typeof optionsOrBuild === "function" ? optionsOrBuild : maybeBuild!;
  const paramNames = paramNamesOf(options.params);
  // A Proxy, so `params.x` works for any schema; unknown names are caught by buildDag.
  const params = new Proxy({}, { get: (_t, key) => (typeof key === "string" ? paramRef(key) : undefined) }) as never;
  const steps: StepDefinition[] = [];
  const result: unknown = withBuilder({ add: (s) => steps.push(s) }, () => build({ params }));
  if (result instanceof Promise) {
    // Its rejection (e.g. step() after an await) must not surface as an unhandled rejection.
    result.catch(() => undefined);
    throw new DagError("DSL_INVALID_STEP", `pipeline "${name}": the build function must be synchronous (do I/O inside steps)`, {
      details: { pipeline: name },
    });
  }
  const dag = buildDag(name, steps, paramNames);
  return {
    [PIPELINE]: true,
    name,
    description: options.description,
    params: options.params,
    concurrency: options.concurrency,
    onFailure: options.onFailure ?? [],
    onSuccess: options.onSuccess ?? [],
    dag,
    steps: dag.steps,
  };
}

export function isPipeline(value: unknown): value is AnyPipeline {
  return typeof value === "object" && value !== null && (value as { [PIPELINE]?: unknown })[PIPELINE] === true;
}
