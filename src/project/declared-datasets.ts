import { isDataset, type DatasetRef } from "../pipeline/dataset.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import type { Expectation } from "../validation/expectations.js";

/** Every dataset the project's pipelines read or write, by name. */
export function declaredDatasets(pipelines: Iterable<AnyPipeline>): Map<string, DatasetRef<unknown>> {
  const found = new Map<string, DatasetRef<unknown>>();
  for (const pipeline of pipelines) {
    for (const step of pipeline.steps) {
      if (step.dataset) found.set(step.dataset.name, step.dataset);
      for (const ref of Object.values(step.inputs)) if (isDataset(ref) && !found.has(ref.name)) found.set(ref.name, ref);
    }
  }
  return found;
}

/** The expectations that `expect()` declares on the steps writing a dataset, as a run checks them. */
export function stepExpectations(pipelines: Iterable<AnyPipeline>, dataset: string): Expectation[] {
  return [...pipelines].flatMap((p) => p.steps.filter((s) => s.dataset?.name === dataset).flatMap((s) => s.expectations));
}
