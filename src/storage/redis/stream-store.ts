import type { Redis } from "ioredis";
import type { StreamEvent, StreamStore } from "../stream-store.js";
import type { RedisConnection } from "./connection.js";

// Each script touches the keys of one stream, which share its hash tag, so they live in one
// cluster slot. An event's seq is its entry id's sequence part, `0-<seq>`: Redis keeps entries in
// that order and refuses an id that is not above the last one.

/**
 * KEYS: events, ids, counter. ARGV: id, at, payload. Returns 0 or 1 (already there) and the
 * event's entry ([entry id, fields]).
 */
const APPEND_LUA = `
local seq = redis.call('HGET', KEYS[2], ARGV[1])
local duplicate = 1
if not seq then
  duplicate = 0
  seq = redis.call('INCR', KEYS[3])
  redis.call('XADD', KEYS[1], '0-' .. seq, 'id', ARGV[1], 'at', ARGV[2], 'payload', ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[1], seq)
end
return {duplicate, redis.call('XRANGE', KEYS[1], '0-' .. seq, '0-' .. seq)[1]}`;

/** KEYS: offsets. ARGV: consumer, seq. An offset only moves forward. */
const COMMIT_LUA = `
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0`;

type Entry = [string, string[]];

interface StreamScripts {
  strataStreamAppend(events: string, ids: string, counter: string, id: string, at: string, payload: string): Promise<[number, Entry]>;
  strataStreamCommit(offsets: string, consumer: string, seq: string): Promise<number>;
}

function toEvent(stream: string, [entryId, fields]: Entry): StreamEvent {
  const values = new Map<string, string>();
  for (let i = 0; i < fields.length; i += 2) values.set(fields[i]!, fields[i + 1]!);
  return {
    stream,
    seq: Number(entryId.slice(entryId.indexOf("-") + 1)),
    id: values.get("id")!,
    at: Number(values.get("at")),
    payload: JSON.parse(values.get("payload")!) as unknown,
  };
}

/**
 * Streams as Redis Streams, for a control plane whose machine keeps no files (a container): under
 * `prefix`, stream `s` is the stream `p:stream:{s}:events`, the hash of posters' ids to seqs
 * `p:stream:{s}:ids` (a repeated post is kept once), its counter `p:stream:{s}:seq`, and the hash
 * of consumers' offsets `p:stream:{s}:offsets`. Events are as durable as the server keeps its
 * data: run it with its append-only file (see `durabilityWarning`).
 */
export class RedisStreamStore implements StreamStore {
  readonly #connection: RedisConnection;
  readonly #prefix: string;

  constructor(connection: RedisConnection, prefix: string) {
    this.#connection = connection;
    this.#prefix = prefix;
    connection.client.defineCommand("strataStreamAppend", { numberOfKeys: 3, lua: APPEND_LUA });
    connection.client.defineCommand("strataStreamCommit", { numberOfKeys: 1, lua: COMMIT_LUA });
  }

  /** Where the streams are, for people: host:port and the key prefix. */
  get location(): string {
    return `redis ${this.#connection.endpoint}, keys ${this.#prefix}:stream:*`;
  }

  #key(stream: string, part: "events" | "ids" | "seq" | "offsets"): string {
    return `${this.#prefix}:stream:{${stream}}:${part}`;
  }

  #call<T>(what: string, fn: (client: Redis & StreamScripts) => Promise<T>): Promise<T> {
    return this.#connection.call<T, StreamScripts>(what, fn);
  }

  async append(stream: string, id: string, payload: unknown, at: number): Promise<{ event: StreamEvent; duplicate: boolean }> {
    const [duplicate, entry] = await this.#call(`append to "${stream}"`, (c) =>
      c.strataStreamAppend(
        this.#key(stream, "events"),
        this.#key(stream, "ids"),
        this.#key(stream, "seq"),
        id,
        String(at),
        JSON.stringify(payload) ?? "null",
      ),
    );
    return { event: toEvent(stream, entry), duplicate: duplicate === 1 };
  }

  async read(stream: string, afterSeq: number, limit: number): Promise<StreamEvent[]> {
    const entries = await this.#call(`read "${stream}"`, (c) =>
      c.xrange(this.#key(stream, "events"), `0-${afterSeq + 1}`, "+", "COUNT", limit),
    );
    return entries.map((entry) => toEvent(stream, entry));
  }

  async offset(stream: string, consumer: string): Promise<number> {
    const seq = await this.#call(`read the offset of ${consumer} on "${stream}"`, (c) => c.hget(this.#key(stream, "offsets"), consumer));
    return seq === null ? 0 : Number(seq);
  }

  async commit(stream: string, consumer: string, seq: number): Promise<void> {
    await this.#call(`commit ${consumer} on "${stream}"`, (c) => c.strataStreamCommit(this.#key(stream, "offsets"), consumer, String(seq)));
  }

  /**
   * A server without its append-only file keeps the events since its last snapshot only in
   * memory: a restart of the server loses them.
   */
  async durabilityWarning(): Promise<string | undefined> {
    const info = await this.#call("read the server's persistence", (c) => c.info("persistence"));
    if (/^aof_enabled:1\b/m.test(info)) return undefined;
    return `the stream store's Redis (${this.#connection.endpoint}) does not write an append-only file: events accepted since its last snapshot are lost if it restarts (set appendonly yes)`;
  }

  close(): Promise<void> {
    return this.#connection.close();
  }
}
