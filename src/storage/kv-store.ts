/**
 * The key-value capability (format `kv`): documents by key, in versions. A version is written
 * whole, then made live in one atomic step; readers always see exactly one whole version.
 * Documents are JSON text: serving hands them on without parsing.
 */
export interface KvStore {
  /**
   * Starts writing `version` of `dataset` (numbers come from the catalog). Nothing written is
   * visible until `activate(dataset, version)`.
   */
  beginVersion(dataset: string, version: number): Promise<KvVersionWriter>;
  /** Makes `version` the live one, atomically. It must have been written and finished. */
  activate(dataset: string, version: number): Promise<void>;
  /** The live version, or null before the first activation. */
  liveVersion(dataset: string): Promise<number | null>;
  /** The versions whose data is present, oldest first. */
  versions(dataset: string): Promise<number[]>;
  /** Deletes a version's data. Refuses the live version (KV_VERSION_LIVE). */
  dropVersion(dataset: string, version: number): Promise<void>;
  /** A document of the live version, as JSON text; undefined when absent or nothing is live. */
  get(dataset: string, key: string): Promise<string | undefined>;
  /** Several documents of the live version, in the order of `keys`, all from the same version. */
  mget(dataset: string, keys: readonly string[]): Promise<(string | undefined)[]>;
  /**
   * True when every read made in one turn of the event loop sees the same version (one snapshot
   * per turn), so readers need not gather their gets into an mget to stay consistent.
   */
  readonly snapshotPerTurn?: boolean;
}

export interface KvVersionWriter {
  /** Adds documents (JSON text) by key; a later put of the same key replaces it. */
  put(entries: readonly (readonly [key: string, json: string])[]): Promise<void>;
  /** Ends the write; returns how many distinct keys the version holds. */
  finish(): Promise<number>;
  /** Removes what was written; the version never becomes visible. */
  abort(): Promise<void>;
}
