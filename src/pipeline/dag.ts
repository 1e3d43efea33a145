import { DagError } from "../errors/errors.js";
import { isDataset } from "./dataset.js";
import { isParamRef, isStepRef } from "./refs.js";
import type { StepDefinition } from "./step.js";

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** The checked graph of a pipeline: steps in a topological order and their edges by name. */
export interface Dag {
  readonly steps: readonly StepDefinition[];
  readonly byName: ReadonlyMap<string, StepDefinition>;
  /** Step name -> the steps it waits for (data inputs and `after`). */
  readonly upstream: ReadonlyMap<string, readonly string[]>;
  /** Step name -> the steps that wait for it. */
  readonly downstream: ReadonlyMap<string, readonly string[]>;
}

function fail(code: ConstructorParameters<typeof DagError>[0], pipeline: string, message: string, details: Record<string, unknown>): never {
  throw new DagError(code, `pipeline "${pipeline}": ${message}`, { details: { pipeline, ...details } });
}

/**
 * Checks a pipeline's steps and orders them. Every error names the steps involved, so a broken
 * pipeline fails when it is loaded, never half way through a run.
 */
export function buildDag(pipeline: string, steps: readonly StepDefinition[], paramNames: ReadonlySet<string> | undefined): Dag {
  const byName = new Map<string, StepDefinition>();
  const producer = new Map<string, string>();
  for (const step of steps) {
    if (!NAME.test(step.name))
      fail("DAG_INVALID_NAME", pipeline, `step name "${step.name}" must match ${NAME.source}`, { step: step.name });
    if (!NAME.test(step.output))
      fail("DAG_INVALID_NAME", pipeline, `output name "${step.output}" of step "${step.name}" must match ${NAME.source}`, {
        step: step.name,
      });
    if (byName.has(step.name)) fail("DAG_DUPLICATE_STEP", pipeline, `two steps are named "${step.name}"`, { step: step.name });
    byName.set(step.name, step);
    const other = producer.get(step.output);
    if (other !== undefined) {
      fail("DAG_DUPLICATE_OUTPUT", pipeline, `steps "${other}" and "${step.name}" both write output "${step.output}"`, {
        steps: [other, step.name],
        output: step.output,
      });
    }
    producer.set(step.output, step.name);
  }

  const upstream = new Map<string, string[]>();
  const downstream = new Map<string, string[]>(steps.map((s) => [s.name, []]));
  for (const step of steps) {
    const deps = new Set<string>();
    for (const [key, ref] of Object.entries(step.inputs)) {
      if (isParamRef(ref)) {
        if (paramNames && !paramNames.has(ref.param)) {
          fail(
            "DAG_UNKNOWN_PARAM",
            pipeline,
            `step "${step.name}" input "${key}" uses param "${ref.param}", which the params schema does not declare (declared: ${[...paramNames].join(", ") || "none"})`,
            { step: step.name, param: ref.param },
          );
        }
        continue;
      }
      if (isDataset(ref)) {
        // Written by a step of this pipeline: wait for it. Otherwise its live version is read.
        const writer = producer.get(ref.name);
        if (writer !== undefined) deps.add(writer);
        continue;
      }
      const output = isStepRef(ref) ? ref.output : ref;
      const from = producer.get(output);
      if (from === undefined) {
        fail(
          "DAG_MISSING_INPUT",
          pipeline,
          `step "${step.name}" input "${key}" reads output "${output}", which no step of this pipeline writes`,
          { step: step.name, input: key, output },
        );
      }
      deps.add(from);
    }
    for (const name of step.after) {
      if (!byName.has(name))
        fail("DAG_UNKNOWN_STEP", pipeline, `step "${step.name}" runs after "${name}", which is not a step of this pipeline`, {
          step: step.name,
          unknown: name,
        });
      deps.add(name);
    }
    if (step.query) {
      for (const part of step.query.parts) {
        if (typeof part === "string" && !Object.hasOwn(step.inputs, part)) {
          fail(
            "DAG_MISSING_INPUT",
            pipeline,
            `sql step "${step.name}" refers to \${"${part}"}, which is not one of its inputs (${Object.keys(step.inputs).join(", ") || "none"})`,
            { step: step.name, input: part },
          );
        }
        if (isParamRef(part) && paramNames && !paramNames.has(part.param)) {
          fail(
            "DAG_UNKNOWN_PARAM",
            pipeline,
            `sql step "${step.name}" uses param "${part.param}", which the params schema does not declare`,
            { step: step.name, param: part.param },
          );
        }
      }
    }
    upstream.set(step.name, [...deps]);
    for (const dep of deps) downstream.get(dep)!.push(step.name);
  }

  return { steps: topologicalOrder(pipeline, steps, byName, upstream), byName, upstream, downstream };
}

function topologicalOrder(
  pipeline: string,
  steps: readonly StepDefinition[],
  byName: Map<string, StepDefinition>,
  upstream: Map<string, string[]>,
): StepDefinition[] {
  const state = new Map<string, "visiting" | "done">();
  const order: StepDefinition[] = [];
  const path: string[] = [];
  const visit = (name: string): void => {
    const seen = state.get(name);
    if (seen === "done") return;
    if (seen === "visiting") {
      const cycle = [...path.slice(path.indexOf(name)), name];
      fail("DAG_CYCLE", pipeline, `steps form a cycle: ${cycle.join(" -> ")}`, { steps: cycle });
    }
    state.set(name, "visiting");
    path.push(name);
    for (const dep of upstream.get(name) ?? []) visit(dep);
    path.pop();
    state.set(name, "done");
    order.push(byName.get(name)!);
  };
  for (const step of steps) visit(step.name);
  return order;
}

/** The steps downstream of `roots`, the roots included. */
export function downstreamOf(dag: Dag, roots: Iterable<string>): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    stack.push(...(dag.downstream.get(name) ?? []));
  }
  return seen;
}
