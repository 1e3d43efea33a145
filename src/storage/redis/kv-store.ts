import type { Redis } from "ioredis";
import { StrataError } from "../../errors/strata-error.js";
import type { FlipWatch, KvStore, KvVersionWriter, LiveRead } from "../kv-store.js";
import type { RedisConnection } from "./connection.js";

// The scripts below run inside Redis, so each reads the live pointer and acts on its version in
// one atomic step: a reader never sees half a flip, and a flip never lands between a check and a
// change. Version hashes are named from the dataset's key base, which shares the dataset's hash
// tag, so every key a script touches lives in one slot.

/**
 * KEYS: live, versions. ARGV: version-hash prefix, a version to read or '', fields... Returns the
 * version read (the given one if it is still whole, else the live one; false when none is live)
 * followed by the fields' values, nil for a missing one, in order.
 */
const READ_LUA = `
local v = false
if ARGV[2] ~= '' and redis.call('HGET', KEYS[2], ARGV[2]) == 'finished' then v = ARGV[2] else v = redis.call('GET', KEYS[1]) end
local out = {v}
if not v then
  for i = 3, #ARGV do out[i - 1] = false end
  return out
end
local h = ARGV[1] .. v
-- unpack() is limited by Lua's C stack (about 8000 values), so large requests go in slices.
for s = 3, #ARGV, 4000 do
  local part = redis.call('HMGET', h, unpack(ARGV, s, math.min(s + 3999, #ARGV)))
  for i = 1, #part do out[#out + 1] = part[i] end
end
return out`;

/** KEYS: versions, live, version hash. ARGV: version, 'begin' or 'drop'. Refuses the live version (0). */
const CLEAR_LUA = `
if redis.call('GET', KEYS[2]) == ARGV[1] then return 0 end
redis.call('UNLINK', KEYS[3])
if ARGV[2] == 'begin' then redis.call('HSET', KEYS[1], ARGV[1], 'writing') else redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1`;

/** KEYS: versions, version hash. ARGV: version. The count of keys, or -1 if the version is not being written. */
const FINISH_LUA = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'writing' then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], 'finished')
return redis.call('HLEN', KEYS[2])`;

/**
 * KEYS: versions, live. ARGV: version, flips channel, dataset. 'ok', or the version's state
 * ('writing', or false when absent). A flip is announced in the same atomic step.
 */
const ACTIVATE_LUA = `
local s = redis.call('HGET', KEYS[1], ARGV[1])
if s ~= 'finished' then return s end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 'ok'`;

interface KvScripts {
  strataKvRead(live: string, versions: string, hashPrefix: string, version: string, ...keys: string[]): Promise<(string | null)[]>;
  strataKvClear(versions: string, live: string, hash: string, version: string, mode: "begin" | "drop"): Promise<number>;
  strataKvFinish(versions: string, hash: string, version: string): Promise<number>;
  strataKvActivate(versions: string, live: string, version: string, channel: string, dataset: string): Promise<string | null>;
}

/** Fields per HSET command, and entries per pipeline (one round trip). */
const FIELDS_PER_HSET = 1000;
const ENTRIES_PER_PIPELINE = 10_000;

export interface RedisKvStoreOptions {
  /** Prepended to every key, e.g. `strata:cache`. */
  readonly prefix: string;
}

/**
 * Versioned documents in Redis. For dataset `d` under prefix `p`:
 * - `p:{d}:v<N>`: a hash of key -> JSON text for version N;
 * - `p:{d}:live`: the live version's number;
 * - `p:{d}:versions`: a hash of version -> `writing` | `finished` (activation requires finished);
 * - `p:flips`: a pub/sub channel; each activation publishes the dataset's name on it.
 * Reads and state changes are Lua scripts (EVALSHA), so each is atomic against a flip.
 */
export class RedisKvStore implements KvStore {
  readonly #connection: RedisConnection;
  readonly #prefix: string;
  readonly #flips: string;
  /** Listeners of flips, and the connection subscribed for them (opened for the first listener). */
  readonly #listeners = new Set<(dataset: string) => void>();
  #subscriber: Redis | undefined;
  #subscriptions = 0;
  #epoch: number | undefined;

  constructor(connection: RedisConnection, options: RedisKvStoreOptions) {
    this.#connection = connection;
    this.#prefix = options.prefix;
    this.#flips = `${options.prefix}:flips`;
    const client = connection.client;
    client.defineCommand("strataKvRead", { numberOfKeys: 2, lua: READ_LUA });
    client.defineCommand("strataKvClear", { numberOfKeys: 3, lua: CLEAR_LUA });
    client.defineCommand("strataKvFinish", { numberOfKeys: 2, lua: FINISH_LUA });
    client.defineCommand("strataKvActivate", { numberOfKeys: 2, lua: ACTIVATE_LUA });
  }

  // The hash tag `{d}` keeps a dataset's keys in one cluster slot, which its scripts need.
  #base(dataset: string): string {
    return `${this.#prefix}:{${dataset}}`;
  }

  #call<T>(what: string, fn: (client: Redis & KvScripts) => Promise<T>): Promise<T> {
    return this.#connection.call<T, KvScripts>(what, fn);
  }

  #liveError(dataset: string, version: number): StrataError {
    return new StrataError(
      "KV_VERSION_LIVE",
      `storage "${this.#connection.storage}": version ${version} of "${dataset}" is live; activate another version first`,
      { details: { dataset, version } },
    );
  }

  #missing(dataset: string, version: number, why: string): StrataError {
    return new StrataError("KV_VERSION_MISSING", `storage "${this.#connection.storage}": version ${version} of "${dataset}" ${why}`, {
      details: { dataset, version },
    });
  }

  async #clear(what: string, dataset: string, version: number, mode: "begin" | "drop"): Promise<void> {
    const base = this.#base(dataset);
    const done = await this.#call(what, (c) =>
      c.strataKvClear(`${base}:versions`, `${base}:live`, `${base}:v${version}`, String(version), mode),
    );
    if (done === 0) throw this.#liveError(dataset, version);
  }

  async beginVersion(dataset: string, version: number): Promise<KvVersionWriter> {
    // Leftovers of an earlier attempt at the same number (a crashed writer) are cleared first.
    await this.#clear(`begin version ${version} of "${dataset}"`, dataset, version, "begin");
    return this.#writer(dataset, version);
  }

  #writer(dataset: string, version: number): KvVersionWriter {
    const base = this.#base(dataset);
    const hash = `${base}:v${version}`;
    const what = `version ${version} of "${dataset}"`;
    let state: "open" | "finished" | "aborted" = "open";
    const assertOpen = (action: string): void => {
      // Misuse by the caller, not a storage failure.
      if (state !== "open") throw new Error(`cannot ${action} ${what}: its writer is already ${state}`);
    };
    const writePipeline = (client: Redis, entries: readonly (readonly [string, string])[], from: number, to: number): Promise<void> => {
      const pipeline = client.pipeline();
      for (let start = from; start < to; start += FIELDS_PER_HSET) {
        const end = Math.min(start + FIELDS_PER_HSET, to);
        const args: string[] = new Array<string>((end - start) * 2);
        for (let i = start, j = 0; i < end; i++) {
          const [key, json] = entries[i]!;
          args[j++] = key;
          args[j++] = json;
        }
        pipeline.hset(hash, ...args);
      }
      return pipeline.exec().then((results) => {
        for (const [error] of results ?? []) if (error) throw error;
      });
    };
    return {
      put: async (entries) => {
        assertOpen("write");
        await this.#call(`write ${what}`, async (client) => {
          // Two pipelines in flight: the next one is encoded and sent while Redis applies the last.
          let previous: Promise<void> | undefined;
          for (let from = 0; from < entries.length; from += ENTRIES_PER_PIPELINE) {
            const sent = writePipeline(client, entries, from, Math.min(from + ENTRIES_PER_PIPELINE, entries.length));
            // Handled here so that it is not reported while an earlier one is awaited; awaiting it still throws.
            sent.catch(() => undefined);
            if (previous) await previous;
            previous = sent;
          }
          await previous;
        });
      },
      finish: async () => {
        assertOpen("finish");
        const count = await this.#call(`finish ${what}`, (c) => c.strataKvFinish(`${base}:versions`, hash, String(version)));
        if (count < 0) throw this.#missing(dataset, version, "is no longer being written (aborted or dropped)");
        state = "finished";
        return count;
      },
      abort: async () => {
        if (state === "aborted") return;
        // After finish, aborting drops the version if it is not live yet (a live one is refused).
        await this.#clear(`abort ${what}`, dataset, version, "drop");
        state = "aborted";
      },
    };
  }

  async activate(dataset: string, version: number): Promise<void> {
    const base = this.#base(dataset);
    const state = await this.#call(`activate version ${version} of "${dataset}"`, (c) =>
      c.strataKvActivate(`${base}:versions`, `${base}:live`, String(version), this.#flips, dataset),
    );
    if (state !== "ok") throw this.#missing(dataset, version, state === "writing" ? "is still being written" : "is not in the storage");
  }

  async liveVersion(dataset: string): Promise<number | null> {
    const live = await this.#call(`read the live version of "${dataset}"`, (c) => c.get(`${this.#base(dataset)}:live`));
    return live === null ? null : Number(live);
  }

  async versions(dataset: string): Promise<number[]> {
    const states = await this.#call(`list the versions of "${dataset}"`, (c) => c.hgetall(`${this.#base(dataset)}:versions`));
    return Object.entries(states)
      .filter(([, state]) => state === "finished")
      .map(([version]) => Number(version))
      .sort((a, b) => a - b);
  }

  dropVersion(dataset: string, version: number): Promise<void> {
    return this.#clear(`drop version ${version} of "${dataset}"`, dataset, version, "drop");
  }

  watchFlips(onFlip: (dataset: string) => void): FlipWatch {
    this.#listeners.add(onFlip);
    this.#subscriber ??= this.#subscribe();
    return { epoch: () => this.#epoch, close: () => void this.#listeners.delete(onFlip) };
  }

  /**
   * A second connection, subscribed to the flips channel. Each time its subscription is confirmed
   * (at first and after every reconnection) the epoch changes, and while it is down there is none:
   * readers then read the live version again rather than trust what they kept.
   */
  #subscribe(): Redis {
    const subscriber = this.#connection.client.duplicate({ connectionName: `strata:${this.#connection.storage}:flips` });
    subscriber.on("ready", () => {
      subscriber.subscribe(this.#flips).then(
        () => (this.#epoch = ++this.#subscriptions),
        () => undefined, // the connection dropped again; the next "ready" subscribes
      );
    });
    subscriber.on("close", () => (this.#epoch = undefined));
    // Reconnections are the client's; the reads on the main connection report a server that is down.
    subscriber.on("error", () => undefined);
    subscriber.on("message", (channel: string, dataset: string) => {
      if (channel === this.#flips) for (const listener of this.#listeners) listener(dataset);
    });
    subscriber.connect().catch(() => undefined);
    return subscriber;
  }

  /** Closes the flips connection, if one was opened (the main connection is the storage's). */
  close(): void {
    this.#epoch = undefined;
    this.#listeners.clear();
    this.#subscriber?.disconnect();
  }

  async get(dataset: string, key: string): Promise<string | undefined> {
    return (await this.read(dataset, [key])).values[0];
  }

  async mget(dataset: string, keys: readonly string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return [];
    return (await this.read(dataset, keys)).values;
  }

  async read(dataset: string, keys: readonly string[], version?: number): Promise<LiveRead> {
    const base = this.#base(dataset);
    const [read, ...values] = await this.#call(`read from "${dataset}"`, (c) =>
      c.strataKvRead(`${base}:live`, `${base}:versions`, `${base}:v`, version === undefined ? "" : String(version), ...keys),
    );
    return { version: read === null || read === undefined ? null : Number(read), values: values.map((v) => v ?? undefined) };
  }
}
