import { join } from "node:path";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { docCache, LiveKvReader } from "../../src/serving/live-kv-reader.js";
import type { OpenStorage, StorageContext } from "../../src/storage/adapter.js";
import type { KvStore } from "../../src/storage/kv-store.js";
import { redisAdapter } from "../../src/storage/redis/adapter.js";
import { SqliteKvStore } from "../../src/storage/sqlite/kv-store.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";
import { redisUrl, uniqueName } from "../helpers/services.js";
import { eventually } from "../helpers/waiting.js";

const tempDir = tempDirEachTest("strata-kv-reader-");
const closing = closeEachTest<{ close(): unknown }>();
/** Closed after the test; returns what it is given, typed as it was. */
const track = <R extends { close(): unknown }>(resource: R): R => {
  closing.track(resource);
  return resource;
};

interface Doc {
  key: string;
  version: number;
}

const doc = (key: string, version: number): string => JSON.stringify({ key, version });

async function publish(kv: KvStore, version: number, keys: readonly string[]): Promise<void> {
  const writer = await kv.beginVersion("scores", version);
  await writer.put(keys.map((k) => [k, doc(k, version)]));
  await writer.finish();
  await kv.activate("scores", version);
}

/** The store as the reader sees it, counting the reads that reach it. */
function counted(store: KvStore): { store: KvStore; reads: () => number } {
  let reads = 0;
  const wrapped: KvStore = {
    beginVersion: (d, v) => store.beginVersion(d, v),
    activate: (d, v) => store.activate(d, v),
    liveVersion: (d) => store.liveVersion(d),
    versions: (d) => store.versions(d),
    dropVersion: (d, v) => store.dropVersion(d, v),
    get: (d, k) => store.get(d, k),
    mget: (d, k) => store.mget(d, k),
    read: (d, k, v) => {
      reads++;
      return store.read(d, k, v);
    },
    ...(store.snapshotPerTurn !== undefined ? { snapshotPerTurn: store.snapshotPerTurn } : {}),
    ...(store.watchFlips ? { watchFlips: store.watchFlips.bind(store) } : {}),
  };
  return { store: wrapped, reads: () => reads };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function reader(store: KvStore, cacheBytes = 1 << 20): LiveKvReader<Doc> {
  return track(new LiveKvReader<Doc>(`test\u0000scores`, async () => [store, "scores"], docCache(cacheBytes)));
}

describe("LiveKvReader on SQLite (a snapshot per turn)", () => {
  const open = (): SqliteKvStore => track(new SqliteKvStore(join(tempDir(), "kv.sqlite")));

  it("answers from kept documents after one read of the live version per turn; another connection's flip shows at the next turn", async () => {
    const path = join(tempDir(), "kv.sqlite");
    const mine = track(new SqliteKvStore(path));
    const theirs = track(new SqliteKvStore(path)); // as another process would
    await publish(theirs, 1, ["a", "b"]);
    const { store, reads } = counted(mine);
    const docs = reader(store);

    expect(await docs.get("a")).toEqual({ key: "a", version: 1 });
    expect(await docs.get("x")).toBeUndefined();
    await nextTurn();
    const before = reads();
    // One turn (no I/O between these awaits): the first read checks the live version; kept documents answer the rest.
    expect(await docs.get("a")).toEqual({ key: "a", version: 1 });
    expect(await docs.get("b")).toEqual({ key: "b", version: 1 }); // not kept yet: read
    expect(await Promise.all([docs.get("a"), docs.get("b"), docs.get("x")])).toEqual([
      { key: "a", version: 1 },
      { key: "b", version: 1 },
      undefined,
    ]);
    expect(reads() - before).toBe(2);
    // Calls made together at the start of a turn (a batch's) share its one read of the live version.
    await nextTurn();
    const start = reads();
    expect(await Promise.all([docs.get("a"), docs.get("b"), docs.get("x")])).toEqual([
      { key: "a", version: 1 },
      { key: "b", version: 1 },
      undefined,
    ]);
    expect(reads() - start).toBe(1);

    await publish(theirs, 2, ["a", "x"]);
    await nextTurn();
    expect(await docs.mget(["a", "b", "x"])).toEqual([{ key: "a", version: 2 }, undefined, { key: "x", version: 2 }]);
  });

  it("hands out frozen documents: calls share them", async () => {
    const kv = open();
    await publish(kv, 1, ["a"]);
    const first = (await reader(kv).get("a"))!;
    expect(() => {
      first.version = 9;
    }).toThrow(TypeError);
  });

  it("without a cache, reads the storage for every call", async () => {
    const kv = open();
    await publish(kv, 1, ["a"]);
    const { store, reads } = counted(kv);
    const docs = reader(store, 0);
    for (let i = 0; i < 3; i++) expect(await docs.get("a")).toEqual({ key: "a", version: 1 });
    expect(reads()).toBe(3);
  });
});

describe("LiveKvReader on Redis (flips announced by pub/sub)", () => {
  const storages = closeEachTest<OpenStorage>();
  const context = (): StorageContext => ({ projectDir: tempDir(), stateDir: join(tempDir(), ".strata"), env: { REDIS_URL: redisUrl() } });
  const clients: Redis[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });

  /** Two storages on the same keys: the reader's, and one that publishes as another process would. */
  async function pair(): Promise<{ mine: KvStore; theirs: KvStore; storage: string; prefix: string }> {
    const prefix = uniqueName("kvreader");
    const storage = uniqueName("flips");
    const open = async (name: string): Promise<KvStore> =>
      storages.track(
        await redisAdapter.open({ name, technology: "redis", format: "kv", options: { urlEnv: "REDIS_URL", prefix } }, context()),
      ).kv!;
    return { mine: await open(storage), theirs: await open(`${storage}_publisher`), storage, prefix };
  }

  /** Reads until the reader trusts its version: a read that reaches the store no more. */
  async function untilTrusted(docs: LiveKvReader<Doc>, reads: () => number): Promise<void> {
    await eventually(async () => {
      const before = reads();
      await docs.get("a");
      if (reads() !== before) throw new Error("still reading the live version");
    });
  }

  it("answers from kept documents without a round trip while no flip is announced; another process' flip shows once announced", async () => {
    const { mine, theirs } = await pair();
    await publish(theirs, 1, ["a", "b"]);
    const { store, reads } = counted(mine);
    const docs = reader(store);
    await untilTrusted(docs, reads);
    expect(await docs.get("b")).toEqual({ key: "b", version: 1 }); // read once, then kept
    const before = reads();
    for (let i = 0; i < 20; i++)
      expect(await docs.mget(["a", "b"])).toEqual([
        { key: "a", version: 1 },
        { key: "b", version: 1 },
      ]);
    expect(reads()).toBe(before);

    await publish(theirs, 2, ["a"]);
    await eventually(async () => expect(await docs.get("a")).toEqual({ key: "a", version: 2 }), 2000);
    expect(await docs.get("b")).toBeUndefined();
  });

  it("finishes a turn on the version it began with when a flip's announcement has not arrived", async () => {
    const { mine, theirs, prefix } = await pair();
    await publish(theirs, 1, ["a", "z"]);
    const { store, reads } = counted(mine);
    const docs = reader(store);
    await untilTrusted(docs, reads);
    // Version 2 goes live behind the announcements' back (as if its message were still on its way).
    const writer = await theirs.beginVersion("scores", 2);
    await writer.put([
      ["a", doc("a", 2)],
      ["z", doc("z", 2)],
    ]);
    await writer.finish();
    const raw = new Redis(redisUrl());
    clients.push(raw);
    await raw.set(`${prefix}:{scores}:live`, "2");
    // One turn: a is kept; z is not and is read, from version 1 like a.
    const [a, z] = await Promise.all([docs.get("a"), docs.get("z")]);
    expect([a, z]).toEqual([
      { key: "a", version: 1 },
      { key: "z", version: 1 },
    ]);
  });

  it("reads the live version every turn while it cannot hear announcements, so a flip made then is not missed", async () => {
    const { mine, theirs, storage } = await pair();
    await publish(theirs, 1, ["a"]);
    const { store, reads } = counted(mine);
    const docs = reader(store);
    await untilTrusted(docs, reads);

    const watch = mine.watchFlips!(() => undefined);
    const raw = new Redis(redisUrl());
    clients.push(raw);
    const list = await raw.client("LIST");
    const id = String(list)
      .split("\n")
      .find((line) => line.includes(` name=strata:${storage}:flips `))
      ?.match(/^id=(\d+)/)?.[1];
    expect(id).toBeDefined();
    await raw.client("KILL", "ID", id!);
    await eventually(async () => expect(watch.epoch()).toBeUndefined(), 2000);
    await publish(theirs, 2, ["a"]); // its announcement is lost
    expect(await docs.get("a")).toEqual({ key: "a", version: 2 });
    watch.close();
    // Once it listens again, kept documents answer again.
    await untilTrusted(docs, reads);
  });
});
