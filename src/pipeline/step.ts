import { DagError } from "../errors/errors.js";
import { currentBuilder } from "./builder.js";
import {
  type InputRef,
  type Inputs,
  type InputValues,
  type ParamRef,
  type StepRef,
  isParamRef,
  isStepRef,
  outputOf,
  stepRef,
} from "./refs.js";
import { retryPolicy, type RetryOptions, type RetryPolicy } from "./retry-policy.js";
import { isSqlQuery, sqlTableRefs, type SqlQuery } from "./sql.js";
import { isCommand, type CommandSpec } from "./command.js";
import { isDataset, type DatasetRef } from "./dataset.js";
import type { StepContext } from "./step-context.js";
import type { Table } from "./table.js";
import type { Expectation } from "../validation/expectations.js";

export interface StepOptions<I extends Inputs = Inputs> {
  /** Named inputs: other steps' outputs, run parameters, or output names. */
  inputs?: I;
  /**
   * Where the result goes: an output name (default: the step's name), or a dataset, of which
   * each run then writes a new version, made live when whole and checked against its schema.
   */
  output?: string | DatasetRef<unknown>;
  /**
   * With a partitioned dataset as output: the partition this run writes (a param, or a value).
   * The new version keeps every other partition of the live one.
   */
  partition?: ParamRef<unknown> | string;
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

/** Options of a step whose output is not a dataset (those have their own overload). */
type NamedOutput<I extends Inputs> = StepOptions<I> & { output?: string };

// The implementation's view of a step function: every typed overload is assignable to it.
type AnyStepFn = (inputs: never, ctx: StepContext) => unknown;

/** A normalized step, as the runner sees it. */
export interface StepDefinition {
  readonly name: string;
  readonly kind: "ts" | "sql" | "command" | "ingest";
  readonly inputs: Readonly<Record<string, InputRef>>;
  readonly output: string;
  /** Set when the step writes a dataset (then `output` is the dataset's name). */
  readonly dataset: DatasetRef<unknown> | undefined;
  readonly partition: ParamRef<unknown> | string | undefined;
  readonly after: readonly string[];
  readonly retry: RetryPolicy;
  readonly timeoutMs: number | undefined;
  readonly description: string | undefined;
  readonly run: StepFn<Inputs, unknown> | undefined;
  readonly query: SqlQuery | undefined;
  readonly command: CommandSpec | undefined;
  /** Checked on the step's output before it is published (`expect()`, and a dataset's own). */
  readonly expectations: readonly Expectation[];
}

/** Marks the function of an `ingest` step (pipeline/ingest.ts): its raw input's rejects are kept for its output. */
export const INGEST_STEP = Symbol.for("strata.ingestStep");

/**
 * Declares a step of the pipeline being built. Its implementation is a function of its typed
 * inputs, or a `sql` query that runs inside the engine. Returns a reference to its output.
 */
// A step writing a dataset hands downstream steps the new version, typed by the dataset's schema.
export function step<const I extends Inputs, Row>(
  name: string,
  options: StepOptions<I> & { output: DatasetRef<Row> },
  impl: SqlQuery<unknown> | CommandSpec | StepFn<I, readonly Row[] | Table<Row>>,
): StepRef<Table<Row>>;
export function step<R>(name: string, run: StepFn<Record<never, never>, R>): StepRef<Awaited<R>>;
export function step<Row>(name: string, query: SqlQuery<Row>): StepRef<Table<Row>>;
export function step<const I extends Inputs, R>(name: string, options: NamedOutput<I>, run: StepFn<I, R>): StepRef<Awaited<R>>;
export function step<const I extends Inputs, Row>(name: string, options: NamedOutput<I>, query: SqlQuery<Row>): StepRef<Table<Row>>;
export function step<const I extends Inputs>(name: string, options: NamedOutput<I>, program: CommandSpec): StepRef<Table>;
export function step(
  name: string,
  optionsOrImpl: StepOptions<Inputs> | AnyStepFn | SqlQuery<unknown> | CommandSpec,
  maybeImpl?: AnyStepFn | SqlQuery<unknown> | CommandSpec,
): StepRef<unknown> {
  const builder = currentBuilder("step");
  const options: StepOptions = maybeImpl === undefined ? {} : (optionsOrImpl as StepOptions);
  const impl = maybeImpl ?? (optionsOrImpl as AnyStepFn | SqlQuery<unknown> | CommandSpec);
  if (typeof impl !== "function" && !isSqlQuery(impl) && !isCommand(impl)) {
    throw new DagError("DSL_INVALID_STEP", `step "${name}": the last argument must be a function, a sql\`...\` query or a command([...])`, {
      details: { step: name },
    });
  }
  const inputs: Record<string, InputRef> = { ...(options.inputs ?? {}) };
  for (const [key, ref] of Object.entries(inputs)) {
    if (typeof ref !== "string" && !isStepRef(ref) && !isParamRef(ref) && !isDataset(ref)) {
      throw new DagError("DSL_INVALID_STEP", `step "${name}": input "${key}" is not a step output, a param, a dataset or an output name`, {
        details: { step: name, input: key },
      });
    }
  }
  if (isSqlQuery(impl)) {
    // A step output or dataset written straight into the query is an input too, named after it.
    // (Under a free key when an input of that name reads something else, so the dependency stays.)
    for (const ref of sqlTableRefs(impl)) {
      const read = outputOf(ref)!;
      if (Object.values(inputs).some((r) => outputOf(r) === read)) continue;
      let key = read;
      while (Object.hasOwn(inputs, key)) key = `${key}_`;
      inputs[key] = ref;
    }
  }
  const definition: StepDefinition = {
    name,
    kind: isSqlQuery(impl) ? "sql" : isCommand(impl) ? "command" : INGEST_STEP in impl ? "ingest" : "ts",
    inputs,
    output: isDataset(options.output) ? options.output.name : (options.output ?? name),
    dataset: isDataset(options.output) ? options.output : undefined,
    partition: options.partition,
    after: [...(options.after ?? [])],
    retry: retryPolicy(options.retries),
    timeoutMs: options.timeoutMs,
    description: options.description,
    run: typeof impl === "function" ? (impl as StepFn<Inputs, unknown>) : undefined,
    query: isSqlQuery(impl) ? impl : undefined,
    command: isCommand(impl) ? impl : undefined,
    expectations: [],
  };
  builder.add(definition);
  return stepRef(definition.output);
}
