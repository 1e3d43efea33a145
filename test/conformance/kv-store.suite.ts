import { describe, expect, it } from "vitest";
import type { KvStore } from "../../src/storage/kv-store.js";
import { rejection } from "../helpers/errors.js";

/** A document that says which version and key it belongs to, so a reader can tell versions apart. */
const doc = (key: string, version: number, extra: Record<string, unknown> = {}): string => JSON.stringify({ key, version, ...extra });

const entries = (keys: readonly string[], version: number): [string, string][] => keys.map((k) => [k, doc(k, version)]);

const range = (n: number, prefix = "k"): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Writes, finishes and activates a version in one go; returns finish()'s count. */
async function publish(kv: KvStore, dataset: string, version: number, data: readonly (readonly [string, string])[]): Promise<number> {
  const writer = await kv.beginVersion(dataset, version);
  await writer.put(data);
  const count = await writer.finish();
  await kv.activate(dataset, version);
  return count;
}

/** Lets queued I/O and timers run: a store that answers synchronously would otherwise starve the others. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The KvStore contract, run against every technology that serves the `kv` format. `open` returns
 * a fresh, empty store each time; the caller closes what it opened.
 */
export function kvStoreSuite(name: string, open: () => Promise<KvStore>): void {
  describe(`KvStore conformance: ${name}`, () => {
    it("has nothing live at first", async () => {
      const kv = await open();
      expect(await kv.liveVersion("scores")).toBeNull();
      expect(await kv.versions("scores")).toEqual([]);
      expect(await kv.get("scores", "a")).toBeUndefined();
      expect(await kv.mget("scores", ["a", "b"])).toEqual([undefined, undefined]);
    });

    it("serves a version once written, finished and activated", async () => {
      const kv = await open();
      expect(await publish(kv, "scores", 1, entries(["a", "b", "c"], 1))).toBe(3);
      expect(await kv.liveVersion("scores")).toBe(1);
      expect(await kv.versions("scores")).toEqual([1]);
      expect(await kv.get("scores", "b")).toBe(doc("b", 1));
      expect(await kv.mget("scores", ["c", "a"])).toEqual([doc("c", 1), doc("a", 1)]);
    });

    it("reads documents together with the version that answered, or a version still whole when asked for", async () => {
      const kv = await open();
      expect(await kv.read("scores", ["a"])).toEqual({ version: null, values: [undefined] });
      await publish(kv, "scores", 1, entries(["a", "b"], 1));
      expect(await kv.read("scores", [])).toEqual({ version: 1, values: [] });
      expect(await kv.read("scores", ["b", "x", "a"])).toEqual({ version: 1, values: [doc("b", 1), undefined, doc("a", 1)] });
      await publish(kv, "scores", 2, entries(["a"], 2));
      expect(await kv.read("scores", ["a", "b"])).toEqual({ version: 2, values: [doc("a", 2), undefined] });
      // A reader that began on version 1 finishes on it while it is whole; once dropped, the live one answers.
      expect(await kv.read("scores", ["a", "b"], 1)).toEqual({ version: 1, values: [doc("a", 1), doc("b", 1)] });
      await kv.dropVersion("scores", 1);
      expect(await kv.read("scores", ["a", "b"], 1)).toEqual({ version: 2, values: [doc("a", 2), undefined] });
      // Never a version that is being written.
      const writer = await kv.beginVersion("scores", 3);
      await writer.put(entries(["a"], 3));
      expect(await kv.read("scores", ["a"], 3)).toEqual({ version: 2, values: [doc("a", 2)] });
      await writer.abort();
    });

    it("shows nothing of a version before it is activated", async () => {
      const kv = await open();
      const writer = await kv.beginVersion("scores", 1);
      await writer.put(entries(["a", "b"], 1));
      expect(await kv.get("scores", "a")).toBeUndefined();
      expect(await kv.versions("scores")).toEqual([]);
      await writer.finish();
      expect(await kv.get("scores", "a")).toBeUndefined();
      expect(await kv.mget("scores", ["a", "b"])).toEqual([undefined, undefined]);
      expect(await kv.liveVersion("scores")).toBeNull();
      expect(await kv.versions("scores")).toEqual([1]);
      await kv.activate("scores", 1);
      expect(await kv.get("scores", "a")).toBe(doc("a", 1));
    });

    it("replaces a version by the next one as a whole", async () => {
      const kv = await open();
      await publish(kv, "scores", 1, entries(["a", "b", "old"], 1));
      const writer = await kv.beginVersion("scores", 2);
      await writer.put(entries(["a", "b", "new"], 2));
      await writer.finish();
      // Version 1 stays live, untouched, until the flip.
      expect(await kv.mget("scores", ["a", "old", "new"])).toEqual([doc("a", 1), doc("old", 1), undefined]);
      await kv.activate("scores", 2);
      expect(await kv.liveVersion("scores")).toBe(2);
      expect(await kv.mget("scores", ["a", "b", "old", "new"])).toEqual([doc("a", 2), doc("b", 2), undefined, doc("new", 2)]);
      expect(await kv.versions("scores")).toEqual([1, 2]);
      // Rolling back is activating the older version again.
      await kv.activate("scores", 1);
      expect(await kv.get("scores", "old")).toBe(doc("old", 1));
    });

    it("leaves no trace of an aborted version", async () => {
      const kv = await open();
      await publish(kv, "scores", 1, entries(["a"], 1));
      const writer = await kv.beginVersion("scores", 2);
      await writer.put(entries(["a", "b"], 2));
      await writer.abort();
      expect(await kv.versions("scores")).toEqual([1]);
      expect(await kv.liveVersion("scores")).toBe(1);
      expect(await kv.mget("scores", ["a", "b"])).toEqual([doc("a", 1), undefined]);
      expect((await rejection(kv.activate("scores", 2))).code).toBe("KV_VERSION_MISSING");
      await expect(writer.put(entries(["c"], 2))).rejects.toThrow(/aborted/);
      // The same number can be written again from scratch.
      expect(await publish(kv, "scores", 2, entries(["c"], 2))).toBe(1);
      expect(await kv.mget("scores", ["a", "b", "c"])).toEqual([undefined, undefined, doc("c", 2)]);
    });

    it("aborts a finished version that is not live, and refuses to abort a live one", async () => {
      const kv = await open();
      const first = await kv.beginVersion("scores", 1);
      await first.put(entries(["a"], 1));
      await first.finish();
      await kv.activate("scores", 1);
      expect((await rejection(first.abort())).code).toBe("KV_VERSION_LIVE");
      const second = await kv.beginVersion("scores", 2);
      await second.put(entries(["a"], 2));
      await second.finish();
      await second.abort();
      expect(await kv.versions("scores")).toEqual([1]);
    });

    it("lists finished versions, oldest first", async () => {
      const kv = await open();
      for (const version of [3, 1, 2]) {
        const writer = await kv.beginVersion("scores", version);
        await writer.put(entries(["a"], version));
        await writer.finish();
      }
      const unfinished = await kv.beginVersion("scores", 4);
      await unfinished.put(entries(["a"], 4));
      expect(await kv.versions("scores")).toEqual([1, 2, 3]);
      expect(await kv.versions("other")).toEqual([]);
      await unfinished.finish();
      expect(await kv.versions("scores")).toEqual([1, 2, 3, 4]);
    });

    it("drops an old version and refuses to drop the live one", async () => {
      const kv = await open();
      await publish(kv, "scores", 1, entries(["a"], 1));
      await publish(kv, "scores", 2, entries(["a"], 2));
      const refused = await rejection(kv.dropVersion("scores", 2));
      expect(refused.code).toBe("KV_VERSION_LIVE");
      expect(refused.message).toMatch(/scores/);
      await kv.dropVersion("scores", 1);
      expect(await kv.versions("scores")).toEqual([2]);
      expect(await kv.get("scores", "a")).toBe(doc("a", 2));
      // Its data is gone: it can no longer go live.
      expect((await rejection(kv.activate("scores", 1))).code).toBe("KV_VERSION_MISSING");
      // Dropping what is not there is a no-op.
      await kv.dropVersion("scores", 1);
      await kv.dropVersion("never", 7);
    });

    it("refuses to activate a version that was never written or not finished", async () => {
      const kv = await open();
      const unknown = await rejection(kv.activate("scores", 42));
      expect(unknown.code).toBe("KV_VERSION_MISSING");
      expect(unknown.message).toMatch(/42/);
      const writer = await kv.beginVersion("scores", 1);
      await writer.put(entries(["a"], 1));
      expect((await rejection(kv.activate("scores", 1))).code).toBe("KV_VERSION_MISSING");
      expect(await kv.liveVersion("scores")).toBeNull();
    });

    it("refuses to rewrite the live version", async () => {
      const kv = await open();
      await publish(kv, "scores", 1, entries(["a"], 1));
      expect((await rejection(kv.beginVersion("scores", 1))).code).toBe("KV_VERSION_LIVE");
      expect(await kv.get("scores", "a")).toBe(doc("a", 1));
    });

    it("keeps the last put of a key, and counts distinct keys", async () => {
      const kv = await open();
      const writer = await kv.beginVersion("scores", 1);
      await writer.put([
        ["a", doc("a", 1, { n: 1 })],
        ["b", doc("b", 1)],
        ["a", doc("a", 1, { n: 2 })],
      ]);
      await writer.put([["a", doc("a", 1, { n: 3 })]]);
      expect(await writer.finish()).toBe(2);
      await kv.activate("scores", 1);
      expect(await kv.get("scores", "a")).toBe(doc("a", 1, { n: 3 }));
    });

    it("returns from finish() the count of keys over many puts and chunks", async () => {
      const kv = await open();
      // Enough to cross every write batch size the stores use (SQLite: 100k rows a transaction).
      const keys = range(120_003);
      const writer = await kv.beginVersion("scores", 1);
      await writer.put(entries(keys.slice(0, 70_000), 1));
      await writer.put(entries(keys.slice(70_000), 1));
      await writer.put([]);
      await writer.put(entries(keys.slice(0, 100), 1));
      expect(await writer.finish()).toBe(120_003);
      await expect(writer.put(entries(["late"], 1))).rejects.toThrow(/finished/);
      await kv.activate("scores", 1);
      expect(await kv.mget("scores", ["k0", "k70000", "k120002"])).toEqual([doc("k0", 1), doc("k70000", 1), doc("k120002", 1)]);
    });

    it("writes versions of several datasets at once", { timeout: 60_000 }, async () => {
      const kv = await open();
      const keys = range(120_000);
      const write = async (dataset: string, version: number): Promise<number> => {
        const writer = await kv.beginVersion(dataset, version);
        // Two puts each, so that the writers' batches interleave.
        await writer.put(entries(keys.slice(0, 60_000), version));
        await writer.put(entries(keys.slice(60_000), version));
        const count = await writer.finish();
        await kv.activate(dataset, version);
        return count;
      };
      expect(await Promise.all([write("a", 1), write("b", 2), write("a", 3)])).toEqual([120_000, 120_000, 120_000]);
      expect(await kv.versions("a")).toEqual([1, 3]);
      expect(await kv.mget("b", ["k0", "k119999"])).toEqual([doc("k0", 2), doc("k119999", 2)]);
      expect(await kv.get("a", "k5")).toBe(doc("k5", (await kv.liveVersion("a"))!));
    });

    it("counts zero for an empty version, which can go live", async () => {
      const kv = await open();
      await publish(kv, "scores", 1, entries(["a"], 1));
      expect(await publish(kv, "scores", 2, [])).toBe(0);
      expect(await kv.liveVersion("scores")).toBe(2);
      expect(await kv.get("scores", "a")).toBeUndefined();
    });

    it("keeps datasets apart", async () => {
      const kv = await open();
      await publish(kv, "scores", 1, entries(["a"], 1));
      await publish(kv, "scores:v1", 5, [["a", doc("a", 5)]]);
      expect(await kv.get("scores", "a")).toBe(doc("a", 1));
      expect(await kv.get("scores:v1", "a")).toBe(doc("a", 5));
      expect(await kv.liveVersion("other")).toBeNull();
      expect(await kv.get("other", "a")).toBeUndefined();
    });

    it("stores unicode keys and documents, and odd characters, as given", async () => {
      const kv = await open();
      const keys = ["é", "日本語", "🦊 fox", "a:b", "{tag}", "with space", "quote\"'", "new\nline", ""];
      await publish(
        kv,
        "intl",
        1,
        keys.map((k) => [k, JSON.stringify({ k, text: "naïve – ✓ 𝄞" })]),
      );
      expect(await kv.mget("intl", keys)).toEqual(keys.map((k) => JSON.stringify({ k, text: "naïve – ✓ 𝄞" })));
      expect(await kv.get("intl", "🦊 fox")).toBe(JSON.stringify({ k: "🦊 fox", text: "naïve – ✓ 𝄞" }));
    });

    it("stores large documents (1 MB) whole", async () => {
      const kv = await open();
      const big = JSON.stringify({ id: "big", blob: "x€".repeat(350_000), list: Array.from({ length: 1000 }, (_, i) => i) });
      expect(Buffer.byteLength(big)).toBeGreaterThan(1_000_000);
      await publish(kv, "docs", 1, [
        ["big", big],
        ["small", "{}"],
      ]);
      expect(await kv.get("docs", "big")).toBe(big);
      expect(await kv.mget("docs", ["small", "big"])).toEqual(["{}", big]);
    });

    it("answers mget in the order asked, with undefined for missing keys and repeats kept", async () => {
      const kv = await open();
      await publish(kv, "scores", 1, entries(range(50), 1));
      expect(await kv.mget("scores", [])).toEqual([]);
      expect(await kv.mget("scores", ["k9", "nope", "k0", "k9", "k49"])).toEqual([
        doc("k9", 1),
        undefined,
        doc("k0", 1),
        doc("k9", 1),
        doc("k49", 1),
      ]);
      // Many keys in one call, more than a Lua unpack() or an SQL IN list takes at once.
      const many = [...range(50), ...range(10_000, "missing")].reverse();
      const answer = await kv.mget("scores", many);
      expect(answer).toHaveLength(many.length);
      expect(answer.filter((v) => v !== undefined)).toEqual(
        range(50)
          .reverse()
          .map((k) => doc(k, 1)),
      );
    });

    it("lets readers see only whole versions while new versions are written and activated", { timeout: 60_000 }, async () => {
      const kv = await open();
      const dataset = "hot";
      // Large enough that a version takes several write chunks; the readers ask for 100 keys spread over it.
      const keys = range(30_000);
      const asked = keys.filter((_, i) => i % 300 === 0);
      await publish(kv, dataset, 1, entries(keys, 1));

      let writing = true;
      const seen = new Set<number | null>();
      let reads = 0;
      let mixed = 0;
      const errors: unknown[] = [];
      const reader = async (): Promise<void> => {
        while (writing) {
          try {
            const answer = await kv.mget(dataset, asked);
            const versions = new Set(answer.map((v) => (v === undefined ? null : (JSON.parse(v) as { version: number }).version)));
            if (versions.size !== 1) mixed++;
            for (const v of versions) seen.add(v);
            reads++;
          } catch (error) {
            errors.push(error);
          }
          await tick();
        }
      };
      const writer = async (): Promise<void> => {
        try {
          for (let version = 2; version <= 10; version++) {
            await publish(kv, dataset, version, entries(keys, version));
            // Keep two versions, as retention would.
            await kv.dropVersion(dataset, version - 1);
          }
        } finally {
          writing = false;
        }
      };
      await Promise.all([reader(), reader(), reader(), writer()]);

      expect(errors).toEqual([]);
      expect(mixed).toBe(0);
      expect(reads).toBeGreaterThan(10);
      expect(seen.has(null)).toBe(false);
      expect(seen.size).toBeGreaterThan(1);
      expect(await kv.versions(dataset)).toEqual([10]);
      expect(new Set((await kv.mget(dataset, asked)).map((v) => (JSON.parse(v!) as { version: number }).version))).toEqual(new Set([10]));
    });
  });
}
