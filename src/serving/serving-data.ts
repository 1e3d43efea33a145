import DataLoader from "dataloader";
import { isDataset } from "../pipeline/dataset.js";
import { isSqlValue, type SqlLiteral, type SqlQuery } from "../pipeline/sql.js";
import { aliasOf } from "../runtime/dataset-io.js";
import type { Workspace } from "../runtime/workspace.js";
import { StrataError } from "../errors/strata-error.js";
import type { KvStore } from "../storage/kv-store.js";
import type { ModelVersion } from "../storage/model-registry.js";
import type { ResolvedQuery, TableEngine } from "../storage/table-engine.js";
import type { KvReader, TableReader } from "./endpoint-context.js";

/** How long a model looked up by alias is reused before the registry is asked again. */
const MODEL_TTL_MS = 1000;

/**
 * The models service's view of the project's data: storages opened once and kept, which
 * datasets each holds, models by alias, and the readers calls use. Shared by every request.
 */
export class ServingData {
  readonly #workspace: Workspace;
  #datasets: Promise<Map<string, string[]>> | undefined;
  readonly #models = new Map<string, { at: number; model: Promise<ModelVersion> }>();
  /** Opened key-value stores, kept so the hot path does not await an open per request. */
  readonly #kv = new Map<string, KvStore>();
  /** The dataset of each storage whose caller named none, once found. */
  readonly #sole = new Map<string, string>();
  /** Readers by storage and dataset. */
  readonly #readers = new Map<string, KvReader<unknown>>();

  constructor(workspace: Workspace) {
    this.#workspace = workspace;
  }

  async kvStore(storage: string): Promise<KvStore> {
    const kept = this.#kv.get(storage);
    if (kept) return kept;
    const opened = await this.#workspace.storages.open(storage);
    if (!opened.kv)
      throw new StrataError(
        "STORAGE_FORMAT_UNSUPPORTED",
        `storage "${storage}" (${opened.definition.technology}) is not a key-value storage`,
        {
          details: { storage },
        },
      );
    this.#kv.set(storage, opened.kv);
    return opened.kv;
  }

  async tableEngine(storage: string): Promise<TableEngine> {
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

  /** The one dataset a storage holds, when the caller did not name one. */
  async soleDataset(storage: string): Promise<string> {
    const known = this.#sole.get(storage);
    if (known !== undefined) return known;
    let names = (await this.#datasetsByStorage(false)).get(storage);
    if (names?.length !== 1) names = (await this.#datasetsByStorage(true)).get(storage);
    if (names?.length === 1) {
      this.#sole.set(storage, names[0]!);
      return names[0]!;
    }
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
    this.#sole.clear();
  }

  /**
   * A reader of a key-value dataset, shared by every call. The reads of one turn of the event
   * loop see one version, so the inputs of a batch never mix two: a store that reads one
   * snapshot per turn (SQLite) is called directly; for the others (Redis), the `get` calls made
   * in one turn, by one request or by many, go out as one `mget`, which also saves round trips.
   */
  kv<Doc>(storage: string, dataset?: string): KvReader<Doc> {
    const id = `${storage}\u0000${dataset ?? ""}`;
    let reader = this.#readers.get(id);
    if (!reader) {
      const storeAndName = async (): Promise<[KvStore, string]> => [
        this.#kv.get(storage) ?? (await this.kvStore(storage)),
        dataset ?? this.#sole.get(storage) ?? (await this.soleDataset(storage)),
      ];
      // No cache: a key is read again by the next turn's batch, so a new version shows at once.
      const loader = new DataLoader<string, string | undefined>(
        async (keys) => {
          const [store, name] = await storeAndName();
          // One key takes the store's cheaper single-key read.
          return keys.length === 1 ? [await store.get(name, keys[0]!)] : store.mget(name, keys);
        },
        { cache: false, maxBatchSize: 1000 },
      );
      const read = (store: KvStore, name: string, key: string): Promise<string | undefined> =>
        store.snapshotPerTurn ? store.get(name, key) : loader.load(key);
      reader = {
        get: async (key) => {
          // Known store and dataset (every call but the first): no await before the read.
          const store = this.#kv.get(storage);
          const name = dataset ?? this.#sole.get(storage);
          return parse(store && name !== undefined ? await read(store, name, key) : await storeAndName().then(([s, n]) => read(s, n, key)));
        },
        mget: async (keys) => {
          const [store, name] = await storeAndName();
          return (store.snapshotPerTurn ? await store.mget(name, keys) : (await loader.loadMany(keys)).map(throwIfError)).map(parse);
        },
      };
      this.#readers.set(id, reader);
    }
    return reader as KvReader<Doc>;
  }

  /** Queries on a table storage's live datasets. */
  table(storage: string): TableReader {
    return {
      query: async <Row>(query: SqlQuery<Row>): Promise<Row[]> => {
        const engine = await this.tableEngine(storage);
        return (await engine.query(resolveServingQuery(query, engine, storage))) as Row[];
      },
    };
  }
}

function parse(json: string | undefined): unknown {
  return json === undefined ? undefined : JSON.parse(json);
}

function throwIfError<T>(value: T | Error): T {
  if (value instanceof Error) throw value;
  return value;
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
