import { StrataError } from "../errors/strata-error.js";
import type { DatasetRef } from "../pipeline/dataset.js";
import { declaredDatasets } from "../project/declared-datasets.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import { outputOf } from "../pipeline/refs.js";
import type { StepDefinition } from "../pipeline/step.js";
import { adoptVersion } from "../runtime/dataset-io.js";
import { decodeOutput } from "../runtime/output-codec.js";
import type { RunScope } from "../runtime/step-executor.js";
import type { StepRecord } from "../storage/run-store.js";

const datasetsByPipeline = new WeakMap<AnyPipeline, Map<string, DatasetRef<unknown>>>();

/** Every dataset the pipeline reads or writes, by name: worked out once per pipeline, not per step taken. */
function datasetsOf(pipeline: AnyPipeline): Map<string, DatasetRef<unknown>> {
  let found = datasetsByPipeline.get(pipeline);
  if (!found) datasetsByPipeline.set(pipeline, (found = declaredDatasets([pipeline])));
  return found;
}

/** What the step reads from earlier steps of its run: their stored outputs and the dataset versions the run wrote or read. */
export async function readInputs(
  scope: RunScope,
  pipeline: AnyPipeline,
  step: StepDefinition,
  records: ReadonlyMap<string, StepRecord>,
): Promise<void> {
  const datasets = datasetsOf(pipeline);
  if (datasets.size) {
    for (const entry of await scope.catalog.lineageOfRun(scope.runId)) {
      const ds = datasets.get(entry.dataset);
      if (!ds || (entry.direction === "read" && scope.datasetReads.has(ds.name))) continue;
      const version = (await scope.catalog.versions(ds.name)).find((v) => v.version === entry.version);
      await adoptVersion(scope, ds, { version: entry.version, rows: version?.rows ?? null }, entry.direction);
    }
  }
  for (const ref of Object.values(step.inputs)) {
    const output = outputOf(ref);
    if (output === undefined || scope.outputs.has(output)) continue;
    const producer = pipeline.steps.find((s) => s.output === output);
    const record = producer ? records.get(producer.name) : undefined;
    const decoded = record?.output ? await decodeOutput(record.output, scope.engine) : undefined;
    if (!decoded)
      throw new StrataError(
        "OUTPUT_NOT_PORTABLE",
        `step "${step.name}" reads "${output}", which step "${producer?.name ?? output}" returned as a value that cannot leave its process (${record?.output?.kind === "opaque" ? record.output.type : "not stored"}); on the queue executor steps pass data through storages: return plain data or a table, or write a dataset`,
        { details: { step: step.name, input: output } },
      );
    scope.outputs.set(output, decoded.value);
  }
}
