import { isDataset } from "../pipeline/dataset.js";
import { isSqlValue, type SqlLiteral, type SqlQuery } from "../pipeline/sql.js";
import { aliasOf } from "../runtime/dataset-io.js";
import type { Workspace } from "../runtime/workspace.js";
import { StrataError } from "../errors/strata-error.js";
import type { KvStore } from "../storage/kv-store.js";
import type { ModelVersion } from "../storage/model-registry.js";
import type { ResolvedQuery, TableEngine } from "../storage/table-engine.js";
import type { KvReader, TableReader } from "./endpoint-context.js";
import { docCache, LiveKvReader, type DocCache } from "./live-kv-reader.js";

/** How long a model looked up by alias is reused before the registry is asked again. */
const MODEL_TTL_MS = 1000;
/** Memory for kept documents by default: 64 MiB. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * The models service's view of the project's data: storages opened once and kept, which
 * datasets each holds, models by alias, and the readers calls use. Shared by every request.
 */
export class ServingData {
  readonly #workspace: Workspace;
  #datasets: Promise<Map<string, string[]>> | undefined;
  readonly #models = new Map<string, { at: number; model: Promise<ModelVersion> }>();
  /** Readers by storage and dataset. */
  readonly #readers = new Map<string, LiveKvReader<unknown>>();

  /** Documents of live versions, shared by the readers. */
  readonly #cache: DocCache | undefined;

  /** @param cacheBytes memory for documents kept between calls (0: none; every read goes to the storage) */
  constructor(workspace: Workspace, cacheBytes = DEFAULT_CACHE_BYTES) {
    this.#workspace = workspace;
    this.#cache = docCache(cacheBytes);
  }

  /** Opened at a reader's first read; the reader keeps it. */
  async #kvStore(storage: string): Promise<KvStore> {
    const opened = await this.#workspace.storages.open(storage);
    if (!opened.kv)
      throw new StrataError(
        "STORAGE_FORMAT_UNSUPPORTED",
        `storage "${storage}" (${opened.definition.technology}) is not a key-value storage`,
        {
          details: { storage },
        },
      );
    return opened.kv;
  }

  async #tableEngine(storage: string): Promise<TableEngine> {
    const opened = await this.#workspace.storages.open(storage);
    if (!opened.tables)
      throw new StrataError("STORAGE_FORMAT_UNSUPPORTED", `storage "${storage}" (${opened.definition.technology}) holds no tables`, {
        details: { storage },
      });
    return opened.tables;
  }

  /** Datasets by storage, from the catalog; read again when a name is not found (a new dataset). */
  async #datasetsByStorage(refresh: boolean): Promise<Map<string, string[]>> {
    if (refresh || !this.#datasets) {
      this.#datasets = (async () => {
        const byStorage = new Map<string, string[]>();
        for (const name of await this.#workspace.catalog.datasets()) {
          const live = await this.#workspace.catalog.liveVersion(name);
          if (!live) continue;
          byStorage.set(live.storage, [...(byStorage.get(live.storage) ?? []), name]);
        }
        return byStorage;
      })();
      this.#datasets.catch(() => (this.#datasets = undefined));
    }
    return this.#datasets;
  }

  /** The one dataset a storage holds, when the caller did not name one (found once per reader). */
  async #soleDataset(storage: string): Promise<string> {
    let names = (await this.#datasetsByStorage(false)).get(storage);
    if (names?.length !== 1) names = (await this.#datasetsByStorage(true)).get(storage);
    if (names?.length === 1) return names[0]!;
    throw new StrataError(
      "DATASET_AMBIGUOUS",
      names?.length
        ? `storage "${storage}" holds several datasets (${names.join(", ")}): name one, ctx.kv("${storage}", "<dataset>")`
        : `storage "${storage}" holds no live dataset yet: publish one, or name it, ctx.kv("${storage}", "<dataset>")`,
      { details: { storage, datasets: names ?? [] } },
    );
  }

  /** A model by alias or version, reused for a second so that hot paths do not read the registry per call. */
  model(name: string, aliasOrVersion: string | number, now: number): Promise<ModelVersion> {
    const key = `${name}@${aliasOrVersion}`;
    const cached = this.#models.get(key);
    if (cached && now - cached.at < MODEL_TTL_MS) return cached.model;
    const model = this.#workspace.models.get(name, aliasOrVersion);
    this.#models.set(key, { at: now, model });
    model.catch(() => this.#models.delete(key));
    return model;
  }

  /** Forget what is cached (on reload): datasets and models are read again. */
  forget(): void {
    this.#datasets = undefined;
    this.#models.clear();
    for (const reader of this.#readers.values()) reader.close();
    this.#readers.clear();
  }

  /** A reader of a key-value dataset, shared by every call (see LiveKvReader). */
  kv<Doc>(storage: string, dataset?: string): KvReader<Doc> {
    const id = `${storage}\u0000${dataset ?? ""}`;
    let reader = this.#readers.get(id);
    if (!reader) {
      reader = new LiveKvReader<unknown>(
        id,
        async () => [await this.#kvStore(storage), dataset ?? (await this.#soleDataset(storage))],
        this.#cache,
      );
      this.#readers.set(id, reader);
    }
    return reader as KvReader<Doc>;
  }

  /** Queries on a table storage's live datasets. */
  table(storage: string): TableReader {
    return {
      query: async <Row>(query: SqlQuery<Row>): Promise<Row[]> => {
        const engine = await this.#tableEngine(storage);
        return (await engine.query(resolveServingQuery(query, engine, storage))) as Row[];
      },
    };
  }
}

/**
 * A `sql` template in an implementation: datasets read their live version; everything else,
 * plain strings included (an implementation has no step inputs to name), is a bound value.
 */
function resolveServingQuery(query: SqlQuery<unknown>, engine: TableEngine, storage: string): ResolvedQuery {
  return {
    strings: query.strings,
    parts: query.parts.map((part) => {
      if (isDataset(part)) {
        if (part.options.storage !== storage)
          throw new StrataError(
            "SQL_INPUT_INVALID",
            `dataset "${part.name}" is in storage "${part.options.storage}": query it with ctx.table("${part.options.storage}")`,
          );
        return { table: aliasOf(engine, part.name) };
      }
      if (typeof part !== "string" && isSqlValue(part)) return { value: part.value };
      if (typeof part === "string" || part instanceof Date || typeof part !== "object") return { value: part as SqlLiteral };
      throw new StrataError("SQL_INPUT_INVALID", "an implementation's sql may name datasets and values, not step outputs or params");
    }),
  };
}
