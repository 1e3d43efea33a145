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
   * Like `mget`, and which version answered (null when nothing is live), read together: a reader
   * that keeps documents by version learns from it whether what it kept is still live. With no
   * keys, only the live version. With `version`, that version answers if the store still has it
   * whole (a reader finishing a read begun on it), else the live one.
   */
  read(dataset: string, keys: readonly string[], version?: number): Promise<LiveRead>;
  /**
   * True when every read made in one turn of the event loop sees the same version (one snapshot
   * per turn), so readers need not gather their gets into an mget to stay consistent.
   */
  readonly snapshotPerTurn?: boolean;
  /**
   * Tells `onFlip` the name of each dataset whose live version changes, by any process, while
   * `epoch()` says the store is listening. A store that can (Redis, by pub/sub) spares readers
   * that keep documents a read of the live version per turn.
   */
  watchFlips?(onFlip: (dataset: string) => void): FlipWatch;
}

/** A listener of flips (see KvStore.watchFlips). */
export interface FlipWatch {
  /**
   * While the store is listening, a number that changes each time it starts listening again
   * (flips made in a gap were missed); undefined while it is not listening.
   */
  epoch(): number | undefined;
  /** Stops telling this listener. */
  close(): void;
}

/** Documents of the live version, and its number. */
export interface LiveRead {
  readonly version: number | null;
  readonly values: (string | undefined)[];
}

export interface KvVersionWriter {
  /** Adds documents (JSON text) by key; a later put of the same key replaces it. */
  put(entries: readonly (readonly [key: string, json: string])[]): Promise<void>;
  /** Ends the write; returns how many distinct keys the version holds. */
  finish(): Promise<number>;
  /** Removes what was written; the version never becomes visible. */
  abort(): Promise<void>;
}
