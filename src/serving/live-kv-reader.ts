import { LRUCache } from "lru-cache";
import type { FlipWatch, KvStore, LiveRead } from "../storage/kv-store.js";
import type { KvReader } from "./endpoint-context.js";

/**
 * Documents of live versions kept in the service's memory, by storage, dataset, version and key,
 * parsed and frozen: calls share them. A finished version never changes, so a kept document is
 * exact for as long as its version is live; a flip makes the old version's documents
 * unreachable, and they age out.
 */
export type DocCache = LRUCache<string, Kept>;

/** A parsed document and the length of its JSON text (what it is counted as), or ABSENT. */
type Kept = { readonly doc: unknown; readonly size: number } | typeof ABSENT;
/** Kept for a key that the version does not have. */
const ABSENT = { doc: undefined, size: 0 } as const;
/** Bytes counted per kept document besides its text and key: the parsed object and the cache's entry. */
const ENTRY_OVERHEAD = 160;

/** A cache of at most `bytes` of documents, or none for 0. */
export function docCache(bytes: number): DocCache | undefined {
  if (bytes <= 0) return undefined;
  return new LRUCache<string, Kept>({ maxSize: bytes, sizeCalculation: (kept, key) => 2 * kept.size + key.length + ENTRY_OVERHEAD });
}

/** A document as calls get it: parsed, and frozen all through, since calls share it. */
function parsed(json: string | undefined): unknown {
  return json === undefined ? undefined : deepFreeze(JSON.parse(json));
}

function deepFreeze(value: unknown): unknown {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

interface Waiter {
  readonly keys: readonly string[];
  readonly resolve: (docs: unknown[]) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A reader of one key-value dataset for the models service, shared by every call. The reads of
 * one turn of the event loop all see one version, so the inputs of a batch never mix two:
 *
 * - A store with a snapshot per turn (SQLite, in-process) is read at once; its live version is
 *   read at the first read of a turn, and documents kept for that version answer without a query.
 * - For the others (Redis), the reads of a turn, by one request or by many, wait for the end of
 *   the turn and go out together as one read: one round trip that returns the live version and
 *   the documents not kept for it. A store that announces flips (Redis, by pub/sub) spares even
 *   that: while it listens and announces none, the version last read stays live, and kept
 *   documents answer at once.
 *
 * A flip therefore shows at the next turn, or, when announced, as soon as its announcement
 * arrives (one message from Redis); a kept document is never served with another version's, and
 * a call never sees two versions.
 */
export class LiveKvReader<Doc> implements KvReader<Doc> {
  readonly #id: string;
  readonly #open: () => Promise<[KvStore, string]>;
  readonly #cache: DocCache | undefined;
  #store: KvStore | undefined;
  #dataset = "";
  /** The live version as last read, the guess for which kept documents to use. */
  #known: number | null | undefined;
  /** The live version read in this turn (snapshot stores), until the turn ends. */
  #turn: number | null | undefined;
  /** The turn's first read while it is under way (snapshot stores). */
  #turnRead: Promise<unknown[]> | undefined;
  /** Reads waiting for the end of this turn (stores without a snapshot per turn). */
  #waiting: Waiter[] | undefined;
  /** The store's announcements of flips, when it makes them. */
  #watch: FlipWatch | undefined;
  /** The store's listening epoch under which #known was read with no flip announced since; undefined: not trusted. */
  #trusted: number | undefined;
  /** Flips of this dataset announced so far. */
  #flips = 0;

  /**
   * @param id storage and dataset, unique per reader: the prefix of its documents in `cache`
   * @param open the store and the dataset's name, found at the first read
   */
  constructor(id: string, open: () => Promise<[KvStore, string]>, cache: DocCache | undefined) {
    this.#id = id;
    this.#open = open;
    this.#cache = cache;
  }

  get(key: string): Promise<Doc | undefined> {
    // The hot path: one kept document, no array and no async frame.
    const version = this.#servable();
    const kept = version === undefined || version === null ? undefined : this.#cache?.get(this.#cacheKey(version, key));
    if (kept !== undefined) return Promise.resolve(kept.doc as Doc | undefined);
    return this.#docs([key]).then((docs) => docs[0] as Doc | undefined);
  }

  async mget(keys: readonly string[]): Promise<(Doc | undefined)[]> {
    return (await this.#docs(keys)) as (Doc | undefined)[];
  }

  /**
   * The version whose kept documents may answer now: for a store with a snapshot per turn, the one
   * read this turn; for the others, the one last read while the store announces flips and has
   * announced none since. Undefined when the live version must be read first.
   */
  #servable(): number | null | undefined {
    const store = this.#store;
    if (!store) return undefined;
    if (store.snapshotPerTurn) return this.#turn;
    return this.#trusted !== undefined && this.#trusted === this.#watch!.epoch() ? this.#known : undefined;
  }

  #docs(keys: readonly string[]): Promise<unknown[]> {
    const store = this.#store;
    if (!store) return this.#opened().then(() => this.#docs(keys));
    const version = this.#servable();
    if (version !== undefined) {
      const kept = this.#kept(version, keys);
      if (kept) return Promise.resolve(kept);
    }
    // Stores without a snapshot per turn: the reads of a turn go out together at its end.
    if (!store.snapshotPerTurn) return this.#wait(keys);
    // Known this turn: only the documents not kept are read (same snapshot).
    if (version !== undefined) return this.#read(keys);
    // The turn's first read is under way (calls made together, as a batch's are): wait for its version.
    if (this.#turnRead) return this.#turnRead.then(() => this.#docs(keys));
    const read = this.#read(keys);
    this.#turnRead = read;
    return read.then(
      (docs) => {
        this.#turnRead = undefined;
        this.#turn = this.#known;
        setImmediate(this.#endTurn);
        return docs;
      },
      (error: unknown) => {
        this.#turnRead = undefined;
        throw error;
      },
    );
  }

  readonly #endTurn = (): void => {
    this.#turn = undefined;
  };

  async #opened(): Promise<void> {
    if (this.#store) return;
    const [store, dataset] = await this.#open();
    if (this.#store) return;
    this.#dataset = dataset;
    this.#store = store;
    if (!store.snapshotPerTurn && this.#cache)
      this.#watch = store.watchFlips?.((flipped) => {
        if (flipped !== dataset) return;
        this.#flips++;
        this.#trusted = undefined;
      });
  }

  /** Stops listening to the store's flips. */
  close(): void {
    this.#watch?.close();
  }

  /** All of `keys` from what is kept for `version`, or undefined when one is not kept. */
  #kept(version: number | null, keys: readonly string[]): unknown[] | undefined {
    const cache = this.#cache;
    if (!cache || version === null) return undefined;
    const docs = new Array<unknown>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const kept = cache.get(this.#cacheKey(version, keys[i]!));
      if (kept === undefined) return undefined;
      docs[i] = kept.doc;
    }
    return docs;
  }

  #cacheKey(version: number, key: string): string {
    return `${this.#id}\u0000${version}\u0000${key}`;
  }

  /** Joins the reads of this turn, sent together when the turn ends. */
  #wait(keys: readonly string[]): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      if (!this.#waiting) {
        this.#waiting = [];
        setImmediate(this.#flush);
      }
      this.#waiting.push({ keys, resolve, reject });
    });
  }

  readonly #flush = (): void => {
    const waiting = this.#waiting!;
    this.#waiting = undefined;
    const keys = waiting.length === 1 ? waiting[0]!.keys : [...new Set(waiting.flatMap((w) => w.keys))];
    // The version read can be trusted until the next flip if the store was listening before the
    // read was sent and still is, under the same epoch, with no flip announced meanwhile.
    const epoch = this.#watch?.epoch();
    const flips = this.#flips;
    // Calls of this turn may have been answered from the trusted version: the rest read that
    // version too (if a flip is on its way, its announcement has not arrived), so no batch of
    // calls mixes two versions.
    const pin = epoch !== undefined && this.#trusted === epoch ? this.#known : undefined;
    this.#read(keys, pin ?? undefined).then(
      (docs) => {
        this.#trusted = epoch !== undefined && epoch === this.#watch!.epoch() && flips === this.#flips ? epoch : undefined;
        if (waiting.length === 1) return waiting[0]!.resolve(docs);
        const byKey = new Map<string, unknown>();
        for (let i = 0; i < keys.length; i++) byKey.set(keys[i]!, docs[i]);
        for (const w of waiting) w.resolve(w.keys.map((k) => byKey.get(k)));
      },
      (error: unknown) => {
        for (const w of waiting) w.reject(error);
      },
    );
  };

  /**
   * Reads `keys` from the live version (or `pin`, see #flush) in one store read: the keys not kept
   * for the version last seen are asked for, and the store says which version answered. If that
   * is another version (a flip), what was kept is of no use, and all of `keys` are read again in
   * one read.
   */
  async #read(keys: readonly string[], pin?: number): Promise<unknown[]> {
    const store = this.#store!;
    const cache = this.#cache;
    const guess = this.#known;
    const docs = new Array<unknown>(keys.length);
    const missing: string[] = [];
    const at: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const kept = cache && guess !== undefined && guess !== null ? cache.get(this.#cacheKey(guess, keys[i]!)) : undefined;
      if (kept === undefined) {
        missing.push(keys[i]!);
        at.push(i);
      } else docs[i] = kept.doc;
    }
    let read: LiveRead = await store.read(this.#dataset, missing, pin);
    let fetched: readonly string[] = missing;
    if (read.version !== guess && missing.length < keys.length) {
      read = await store.read(this.#dataset, keys);
      fetched = keys;
    }
    const version = read.version;
    this.#known = version;
    for (let j = 0; j < fetched.length; j++) {
      const json = read.values[j];
      const doc = parsed(json);
      docs[fetched === keys ? j : at[j]!] = doc;
      if (cache && version !== null)
        cache.set(this.#cacheKey(version, fetched[j]!), json === undefined ? ABSENT : { doc, size: json.length });
    }
    return docs;
  }
}
