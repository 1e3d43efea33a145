import { declaredDatasets } from "../project/declared-datasets.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import type { StorageSet } from "../data/storage-set.js";

/** A dataset a pipeline reads or writes, and the storage that holds it. */
export interface DatasetPlace {
  readonly dataset: string;
  readonly storage: string;
}

/**
 * The datasets of `pipelines` kept in a storage that only one process at a time can open: an
 * embedded DuckDB file. Under the queue, steps of one run go to any worker, so with more than one
 * worker those steps fail on the file's lock; `strata worker` warns about them when it starts.
 */
export async function oneProcessDatasets(pipelines: Iterable<AnyPipeline>, storages: StorageSet): Promise<DatasetPlace[]> {
  const technology = new Map((await storages.definitions()).map((e) => [e.definition.name, e.definition.technology]));
  const found = [...declaredDatasets(pipelines).values()]
    .filter((ds) => technology.get(ds.options.storage) === "duckdb")
    .map((ds) => ({ dataset: ds.name, storage: ds.options.storage }));
  return found.sort((a, b) => a.dataset.localeCompare(b.dataset));
}
