import type { Logger } from "pino";
import type { SqlQuery } from "../pipeline/sql.js";
import type { ModelVersion } from "../storage/model-registry.js";

/**
 * Documents of one dataset in a key-value storage, from its live version. A document is shared by
 * the calls that read it and frozen: copy it (`structuredClone`) to change it.
 */
export interface KvReader<Doc> {
  /** The document, or undefined when the live version has no such key. */
  get(key: string): Promise<Doc | undefined>;
  /** Several documents, in the order of `keys`, all from the same version. */
  mget(keys: readonly string[]): Promise<(Doc | undefined)[]>;
}

/** Queries on a table storage; datasets written into a `sql` template read their live version. */
export interface TableReader {
  /** Runs `sql\`select ... from ${dataset} where id = ${sql.value(id)}\`` with values bound, never spliced. */
  query<Row = Record<string, unknown>>(query: SqlQuery<Row>): Promise<Row[]>;
}

/** What an implementation gets besides its input. */
export interface EndpointContext {
  readonly endpoint: string;
  readonly implementation: string;
  /**
   * A key-value storage by name. `dataset` may be left out when the storage holds one dataset.
   * `get` calls made together (in one tick) go to the storage as one `mget`: one round trip,
   * and, in a batch call, answers all from the same version.
   */
  kv<Doc = Record<string, unknown>>(storage: string, dataset?: string): KvReader<Doc>;
  /** A table storage by name (`warehouse` when left out). */
  table(storage?: string): TableReader;
  /** A registered model by alias (`live` when left out) or version number. */
  model(name: string, aliasOrVersion?: string | number): Promise<ModelVersion>;
  readonly log: Logger;
  /** Aborted when the call runs out of its time budget. */
  readonly signal: AbortSignal;
  /** Ends the call with 404 KEY_NOT_FOUND. */
  notFound(message?: string): never;
}
