import { basename } from "node:path";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import type { OpenStorage, StorageContext } from "../../src/storage/adapter.js";
import type { KvStore } from "../../src/storage/kv-store.js";
import { redisAdapter } from "../../src/storage/redis/adapter.js";
import type { StorageDefinition } from "../../src/storage/storage-definition.js";
import { rejection } from "../helpers/errors.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";
import { redisUrl, uniqueName } from "../helpers/services.js";
import { eventually, freePort } from "../helpers/waiting.js";

const tempDir = tempDirEachTest("strata-redis-kv-");
const storages = closeEachTest<OpenStorage>();

const definition = (options: StorageDefinition["options"], name = "serving"): StorageDefinition => ({
  name,
  technology: "redis",
  format: "kv",
  options,
});
const context = (env: Record<string, string> = {}): StorageContext => ({
  projectDir: tempDir(),
  stateDir: join(tempDir(), ".strata"),
  env: { REDIS_URL: redisUrl(), ...env },
});
const open = async (def: StorageDefinition, env: Record<string, string> = {}): Promise<OpenStorage> =>
  storages.track(await redisAdapter.open(def, context(env)));

/** A loopback port nothing listens on (free a moment ago). */
async function publish(kv: KvStore, dataset: string, version: number, data: [string, string][]): Promise<void> {
  const writer = await kv.beginVersion(dataset, version);
  await writer.put(data);
  await writer.finish();
  await kv.activate(dataset, version);
}

describe("redisAdapter", () => {
  it("serves the kv format", () => {
    expect(redisAdapter.technology).toBe("redis");
    expect(redisAdapter.formats).toEqual(["kv"]);
  });

  it("checks its options without reading any secret", () => {
    expect(redisAdapter.check(definition({ urlEnv: "REDIS_URL" }))).toEqual([]);
    expect(redisAdapter.check(definition({ urlEnv: "REDIS_URL", prefix: "app:cache" }))).toEqual([]);
    expect(redisAdapter.check(definition({}))).toEqual([
      'redis storage "serving": option "urlEnv" is required: the name of the environment variable holding the redis:// URL',
    ]);
    expect(redisAdapter.check(definition({ urlEnv: "REDIS_URL", url: "redis://:pw@host", ttl: 3 }))).toEqual([
      'redis storage "serving": option "url" is not allowed: secrets never go in options; put the redis:// URL in an environment variable and name it with "urlEnv"',
      'redis storage "serving": unknown option "ttl" (known: urlEnv, prefix)',
    ]);
    expect(redisAdapter.check(definition({ urlEnv: 5, prefix: "" }))).toEqual([
      'redis storage "serving": option "urlEnv" must be the name of an environment variable (letters, digits and _), not 5',
      'redis storage "serving": option "prefix" must be a non-empty string',
    ]);
    expect(redisAdapter.check(definition({ urlEnv: "redis://localhost" }))).toHaveLength(1);
  });

  it("refuses to open a bad definition or another format", async () => {
    const invalid = await rejection(redisAdapter.open(definition({}), context()));
    expect(invalid.code).toBe("STORAGE_INVALID");
    expect(invalid.message).toMatch(/"urlEnv" is required/);
    const format = await rejection(redisAdapter.open({ ...definition({ urlEnv: "REDIS_URL" }), format: "table" }, context()));
    expect(format.code).toBe("STORAGE_FORMAT_UNSUPPORTED");
  });

  it("fails with STORAGE_UNAVAILABLE naming the storage when its URL variable is unset or not a redis URL", async () => {
    const unset = await rejection(redisAdapter.open(definition({ urlEnv: "NO_SUCH_REDIS_URL" }), context()));
    expect(unset.code).toBe("STORAGE_UNAVAILABLE");
    expect(unset.message).toMatch(/storage "serving".*NO_SUCH_REDIS_URL is not set/);
    const wrong = await rejection(
      redisAdapter.open(definition({ urlEnv: "WRONG" }), context({ WRONG: "http://user:hunter2@example.com" })),
    );
    expect(wrong.code).toBe("STORAGE_UNAVAILABLE");
    expect(wrong.message).toMatch(/storage "serving".*WRONG does not hold a redis:\/\/ or rediss:\/\/ URL/);
    expect(wrong.message).not.toMatch(/hunter2/);
  });

  it("reports its health: the server's version, host and prefix", async () => {
    const storage = await open(definition({ urlEnv: "REDIS_URL", prefix: uniqueName("health") }));
    const health = await storage.health();
    expect(health.ok).toBe(true);
    expect(health.detail).toMatch(/^redis \d+\.\d+\.\d+ at 127\.0\.0\.1:\d+, prefix health_/);
  });

  it("keeps its keys under strata:<project folder>:<storage name> by default, one hash per version", async () => {
    const name = uniqueName("kv").replace(/_/g, "-");
    const storage = await open(definition({ urlEnv: "REDIS_URL" }, name));
    await publish(storage.kv!, "customers", 3, [["c1", '{"clv":12.5}']]);
    // Two projects sharing a server must not share keys: the project's folder is in the prefix.
    const prefix = `strata:${basename(tempDir())}:${name}`;
    const raw = new Redis(redisUrl());
    try {
      expect(await raw.get(`${prefix}:{customers}:live`)).toBe("3");
      expect(await raw.hget(`${prefix}:{customers}:v3`, "c1")).toBe('{"clv":12.5}');
      expect(await raw.hgetall(`${prefix}:{customers}:versions`)).toEqual({ "3": "finished" });
    } finally {
      raw.disconnect();
    }
  });

  it("fails fast with STORAGE_UNAVAILABLE naming the storage and host:port when nothing listens, never the password", async () => {
    const port = await freePort();
    const storage = await open(definition({ urlEnv: "DOWN_URL" }, "down"), { DOWN_URL: `redis://:s3cret-pw@127.0.0.1:${port}/0` });
    const started = Date.now();
    const error = await rejection(storage.kv!.get("customers", "c1"));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error.code).toBe("STORAGE_UNAVAILABLE");
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(`storage "down" (redis 127.0.0.1:${port})`);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.message).not.toContain("s3cret");
    expect(error.details).toEqual({ storage: "down", host: `127.0.0.1:${port}` });
    expect((await rejection(storage.kv!.beginVersion("customers", 1))).code).toBe("STORAGE_UNAVAILABLE");
    const health = await storage.health();
    expect(health.ok).toBe(false);
    expect(health.detail).toContain(`127.0.0.1:${port}`);
    expect(health.detail).not.toContain("s3cret");
  });

  it("refuses calls once closed", async () => {
    const storage = await redisAdapter.open(definition({ urlEnv: "REDIS_URL", prefix: uniqueName("closed") }), context());
    expect(await storage.kv!.liveVersion("customers")).toBeNull();
    await storage.close();
    const error = await rejection(storage.kv!.liveVersion("customers"));
    expect(error.code).toBe("STORAGE_UNAVAILABLE");
    expect(error.message).toMatch(/closed/);
  });

  describe("with a server that goes away and comes back", () => {
    let port: number | undefined;
    const stop = (): void => {
      if (port !== undefined) execFileSync("redis-cli", ["-p", String(port), "shutdown", "nosave"], { stdio: "ignore" });
    };
    const start = (): void => {
      execFileSync("redis-server", [
        ...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "yes"],
        ...["--dir", tempDir(), "--logfile", join(tempDir(), "redis.log"), "--pidfile", join(tempDir(), "redis.pid")],
      ]);
    };
    afterEach(() => {
      try {
        stop();
      } catch {
        // Already stopped.
      }
      port = undefined;
    });

    it("fails while it is down and works again once it is back", { timeout: 30_000 }, async () => {
      port = await freePort();
      start();
      const url = `redis://127.0.0.1:${port}`;
      const storage = await open(definition({ urlEnv: "FLAKY_URL" }, "flaky"), { FLAKY_URL: url });
      const kv = storage.kv!;
      await eventually(() => publish(kv, "customers", 1, [["c1", '{"v":1}']]));
      expect(await kv.get("customers", "c1")).toBe('{"v":1}');

      stop();
      // Shutdown is asynchronous: wait for the client to notice.
      const error = await eventually(async () => {
        try {
          await kv.get("customers", "c1");
        } catch (failure) {
          return failure;
        }
        throw new Error("still answering");
      });
      expect(error).toMatchObject({ code: "STORAGE_UNAVAILABLE" });
      expect((error as Error).message).toContain(`storage "flaky" (redis 127.0.0.1:${port})`);
      const started = Date.now();
      expect((await rejection(kv.mget("customers", ["c1"]))).code).toBe("STORAGE_UNAVAILABLE");
      expect(Date.now() - started).toBeLessThan(3000);
      expect((await storage.health()).ok).toBe(false);

      start();
      // The server restarted empty (no persistence) and without the scripts: they load again by themselves.
      expect(await eventually(() => kv.liveVersion("customers"))).toBeNull();
      await publish(kv, "customers", 2, [["c1", '{"v":2}']]);
      expect(await kv.mget("customers", ["c1", "c2"])).toEqual(['{"v":2}', undefined]);
      expect((await storage.health()).ok).toBe(true);
    });
  });
});
