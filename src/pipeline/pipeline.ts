import type { z } from "zod";
import { DagError } from "../errors/errors.js";
import { currentBuilder, withBuilder } from "./builder.js";
import { expectationColumns } from "./dataset.js";
import { outputOf, type StepRef } from "./refs.js";
import type { Expectation } from "../validation/expectations.js";
import { buildDag, type Dag } from "./dag.js";
import type { Hook } from "./hooks.js";
import { paramRef, type ParamRef } from "./refs.js";
import type { StepDefinition } from "./step.js";
import type { CronSchedule } from "../schedule/cron.js";
import type { EventTrigger, OverlapPolicy } from "../schedule/triggers.js";

const PIPELINE = Symbol.for("strata.pipeline");

/** A params schema: a zod object (anything with `safeParse` whose output is an object). */
export type ParamsSchema = z.ZodType<object>;

export interface PipelineOptions<S extends ParamsSchema> {
  /** Validated before any step starts; a bad param stops the run before it is recorded. */
  params?: S;
  description?: string;
  /** How many steps may run at once (default 4; `strata run --concurrency` overrides it). */
  concurrency?: number;
  /**
   * Run when the run fails: the seeds' global fallback. A failing hook never hides the result.
   * Left out, the project's `onFailure` (strata.config.ts) is used; `[]` calls none.
   */
  onFailure?: readonly Hook[];
  onSuccess?: readonly Hook[];
  /** When `strata server` starts it on its own: `[cron("0 3 * * *", { timezone: "Europe/Paris" })]`. */
  schedules?: readonly CronSchedule[];
  /** Events that start it: `[on.dataset("transactions"), on.stream("orders")]`. */
  triggers?: readonly EventTrigger[];
  /** A trigger while a run is in flight: start another (`allow`, the default), `skip` it, or `queue` it. */
  overlap?: OverlapPolicy;
}

/** Symbolic params handed to the build function: each one can be a step input or a SQL value. */
export type ParamRefs<P> = { readonly [K in keyof P]-?: ParamRef<P[K]> };

export interface PipelineDefinition<P extends object = Record<string, unknown>> {
  readonly [PIPELINE]: true;
  readonly name: string;
  readonly description: string | undefined;
  readonly params: ParamsSchema | undefined;
  readonly concurrency: number | undefined;
  /** Undefined when the pipeline names none: the project's default applies (see loadProject). */
  readonly onFailure: readonly Hook[] | undefined;
  readonly onSuccess: readonly Hook[];
  readonly schedules: readonly CronSchedule[];
  readonly triggers: readonly EventTrigger[];
  readonly overlap: OverlapPolicy;
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
  const declared: StepDefinition[] = [];
  const expected: { output: string; expectations: readonly Expectation[] }[] = [];
  const result: unknown = withBuilder(
    { add: (s) => declared.push(s), expect: (output, expectations) => expected.push({ output, expectations }) },
    () => build({ params }),
  );
  if (result instanceof Promise) {
    // Its rejection (e.g. step() after an await) must not surface as an unhandled rejection.
    result.catch(() => undefined);
    throw new DagError("DSL_INVALID_STEP", `pipeline "${name}": the build function must be synchronous (do I/O inside steps)`, {
      details: { pipeline: name },
    });
  }
  const steps = attachExpectations(name, declared, expected);
  const dag = buildDag(name, steps, paramNames);
  return {
    [PIPELINE]: true,
    name,
    description: options.description,
    params: options.params,
    concurrency: options.concurrency,
    onFailure: options.onFailure,
    onSuccess: options.onSuccess ?? [],
    schedules: options.schedules ?? [],
    triggers: options.triggers ?? [],
    overlap: checkOverlap(name, options.overlap),
    dag,
    steps: dag.steps,
  };
}

function checkOverlap(pipeline: string, overlap: OverlapPolicy | undefined): OverlapPolicy {
  if (overlap === undefined) return "allow";
  if (overlap === "allow" || overlap === "skip" || overlap === "queue") return overlap;
  throw new DagError(
    "DSL_INVALID_STEP",
    `pipeline "${pipeline}": overlap must be "allow", "skip" or "queue" (got ${JSON.stringify(overlap)})`,
    {
      details: { pipeline },
    },
  );
}

export function isPipeline(value: unknown): value is AnyPipeline {
  return typeof value === "object" && value !== null && (value as { [PIPELINE]?: unknown })[PIPELINE] === true;
}

/** Each step gets its dataset's expectations, then those `expect()` declared on its output. */
function attachExpectations(
  pipelineName: string,
  steps: readonly StepDefinition[],
  expected: readonly { output: string; expectations: readonly Expectation[] }[],
): StepDefinition[] {
  for (const e of expected) {
    if (!steps.some((s) => s.output === e.output))
      throw new DagError("DAG_UNKNOWN_STEP", `pipeline "${pipelineName}": expect() names output "${e.output}", which no step produces`, {
        details: { pipeline: pipelineName, output: e.output },
      });
  }
  return steps.map((s) => {
    const own = expected.filter((e) => e.output === s.output).flatMap((e) => e.expectations);
    const all = [...(s.dataset?.options.expectations ?? []), ...own];
    if (s.dataset) {
      for (const e of own) {
        const missing = expectationColumns(e).filter((c) => !(c in s.dataset!.columns));
        if (missing.length)
          throw new DagError(
            "EXPECTATION_INVALID",
            `step "${s.name}": expectation ${e.id}: no column ${missing.join(", ")} in dataset "${s.dataset.name}"`,
            {
              details: { step: s.name, expectation: e.id },
            },
          );
      }
    }
    return all.length ? { ...s, expectations: all } : s;
  });
}

/**
 * Declares expectations on a step's output: checked after the step, before its output is
 * published. A `fail` one stops the step (a dataset's new version never goes live), `drop`
 * moves the failing rows to the quarantine, `warn` reports.
 *
 * ```ts
 * expect(scores, [notNull("clv"), range("clv", { min: 0 }), rowCount({ vsPrevious: 0.9 })]);
 * ```
 */
export function expect(target: StepRef<unknown>, expectations: readonly Expectation[]): void {
  currentBuilder("expect").expect(outputOf(target)!, expectations);
}
