import { DagError } from "../errors/errors.js";
import { currentBuilder } from "./builder.js";
import { type InputRef, type Inputs, type InputValues, type StepRef, isParamRef, isStepRef, stepRef } from "./refs.js";
import { retryPolicy, type RetryOptions, type RetryPolicy } from "./retry-policy.js";
import { isSqlQuery, sqlStepRefs, type SqlQuery } from "./sql.js";
import type { StepContext } from "./step-context.js";
import type { Table } from "./table.js";

export interface StepOptions<I extends Inputs = Inputs> {
  /** Named inputs: other steps' outputs, run parameters, or output names. */
  inputs?: I;
  /** Name of the output; defaults to the step's name. */
  output?: string;
  /** Steps that must finish first although no data flows from them. */
  after?: readonly string[];
  /** Retries after a failed attempt: a count, or a policy with backoff and jitter. */
  retries?: number | RetryOptions;
  /**
   * Time budget of one attempt; the step's AbortSignal fires when it runs out and the attempt
   * fails with STEP_TIMEOUT. Pass `ctx.signal` on (fetch, child processes): a step that ignores
   * it keeps running in the background while its retry starts.
   */
  timeoutMs?: number;
  description?: string;
}

export type StepFn<I extends Inputs, R> = (inputs: InputValues<I>, ctx: StepContext) => R | Promise<R>;

/** A normalized step, as the runner sees it. */
export interface StepDefinition {
  readonly name: string;
  readonly kind: "ts" | "sql";
  readonly inputs: Readonly<Record<string, InputRef>>;
  readonly output: string;
  readonly after: readonly string[];
  readonly retry: RetryPolicy;
  readonly timeoutMs: number | undefined;
  readonly description: string | undefined;
  readonly run: StepFn<Inputs, unknown> | undefined;
  readonly query: SqlQuery | undefined;
}

/**
 * Declares a step of the pipeline being built. Its implementation is a function of its typed
 * inputs, or a `sql` query that runs inside the engine. Returns a reference to its output.
 */
export function step<R>(name: string, run: StepFn<Record<never, never>, R>): StepRef<Awaited<R>>;
export function step<Row>(name: string, query: SqlQuery<Row>): StepRef<Table<Row>>;
export function step<const I extends Inputs, R>(name: string, options: StepOptions<I>, run: StepFn<I, R>): StepRef<Awaited<R>>;
export function step<const I extends Inputs, Row>(name: string, options: StepOptions<I>, query: SqlQuery<Row>): StepRef<Table<Row>>;
export function step(
  name: string,
  optionsOrImpl: StepOptions | StepFn<Inputs, unknown> | SqlQuery,
  maybeImpl?: StepFn<Inputs, unknown> | SqlQuery,
): StepRef<unknown> {
  const builder = currentBuilder("step");
  const options: StepOptions = maybeImpl === undefined ? {} : (optionsOrImpl as StepOptions);
  const impl = maybeImpl ?? (optionsOrImpl as StepFn<Inputs, unknown> | SqlQuery);
  if (typeof impl !== "function" && !isSqlQuery(impl)) {
    throw new DagError("DSL_INVALID_STEP", `step "${name}": the last argument must be a function or a sql\`...\` query`, {
      details: { step: name },
    });
  }
  const inputs: Record<string, InputRef> = { ...(options.inputs ?? {}) };
  for (const [key, ref] of Object.entries(inputs)) {
    if (typeof ref !== "string" && !isStepRef(ref) && !isParamRef(ref)) {
      throw new DagError("DSL_INVALID_STEP", `step "${name}": input "${key}" is not a step output, a param or an output name`, {
        details: { step: name, input: key },
      });
    }
  }
  if (isSqlQuery(impl)) {
    // A StepRef written straight into the query is an input too, named after its output.
    // (Under a free key when an input of that name reads something else, so the dependency stays.)
    for (const ref of sqlStepRefs(impl)) {
      if (Object.values(inputs).some((r) => (isStepRef(r) ? r.output : r) === ref.output)) continue;
      let key = ref.output;
      while (Object.hasOwn(inputs, key)) key = `${key}_`;
      inputs[key] = ref;
    }
  }
  const definition: StepDefinition = {
    name,
    kind: isSqlQuery(impl) ? "sql" : "ts",
    inputs,
    output: options.output ?? name,
    after: [...(options.after ?? [])],
    retry: retryPolicy(options.retries),
    timeoutMs: options.timeoutMs,
    description: options.description,
    run: typeof impl === "function" ? impl : undefined,
    query: isSqlQuery(impl) ? impl : undefined,
  };
  builder.add(definition);
  return stepRef(definition.output);
}
