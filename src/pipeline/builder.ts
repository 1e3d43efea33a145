import { DagError } from "../errors/errors.js";
import type { Expectation } from "../validation/expectations.js";
import type { StepDefinition } from "./step.js";

/** Collects the steps (and expectations) declared while a pipeline's build function runs (synchronously). */
export interface Builder {
  add(step: StepDefinition): void;
  expect(output: string, expectations: readonly Expectation[]): void;
}

let current: Builder | undefined;

export function currentBuilder(what: string): Builder {
  if (!current) {
    throw new DagError("DSL_OUTSIDE_PIPELINE", `${what}() was called outside a pipeline's build function`);
  }
  return current;
}

export function withBuilder<T>(builder: Builder, build: () => T): T {
  const previous = current;
  current = builder;
  try {
    return build();
  } finally {
    current = previous;
  }
}
