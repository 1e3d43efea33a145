// Publishing key-value documents: what the KvStore API costs over the raw driver, and whether
// readers stay whole and error-free while a new version lands.
//
//   npx tsx bench/kv-publish.ts [--docs 1000000] [--runs 3] [--keys 100] [--dir PATH] [--check]
//
// Part 1: `--docs` JSON documents (~128 bytes each, in shuffled key order) are published as one
// version through the KvStore API (beginVersion, put in batches of 100,000, finish, activate) to
// SQLite and to Redis, and in the same process, interleaved round by round, with the raw driver:
// better-sqlite3 inserting every row in one transaction (same pragmas as the store), and ioredis
// sending pipelines of HSETs one after another.
// Part 2: with version 1 live, a reader in a worker thread (its own connection, like a serving
// process) runs mget of `--keys` keys in a tight loop while version 2 is written and activated; it
// counts reads, errors and answers that mix versions (each document carries its version).
//
// Redis: STRATA_TEST_REDIS_URL if set, else a redis-server started here on a free port and
// stopped at the end.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { Redis } from "ioredis";
import type { KvStore } from "../src/storage/kv-store.js";
import { RedisConnection } from "../src/storage/redis/connection.js";
import { RedisKvStore } from "../src/storage/redis/kv-store.js";
import { SqliteKvStore } from "../src/storage/sqlite/kv-store.js";
import { cliOptions, fmt, machineLine, median, quantile, table } from "./lib.js";

type Entry = [key: string, json: string];
type Technology = "sqlite" | "redis";

/** What the reader worker needs to open its own store. */
interface ReaderConfig {
  readonly technology: Technology;
  readonly target: string; // the SQLite file or the Redis URL
  readonly prefix: string;
  readonly dataset: string;
  readonly keys: readonly string[];
  /** [0] = 1 once the reader runs, [1] = 1 to stop it. */
  readonly flags: SharedArrayBuffer;
}

interface ReaderReport {
  reads: number;
  errors: number;
  mixed: number;
  firstError: string | null;
  versionsSeen: number[];
  latenciesMs: number[];
}

const PUT_BATCH = 100_000;

function openStore(technology: Technology, target: string, prefix: string): { kv: KvStore; close: () => Promise<void> } {
  if (technology === "sqlite") {
    const kv = new SqliteKvStore(target, { storage: "bench" });
    return { kv, close: () => Promise.resolve(kv.close()) };
  }
  const client = new Redis(target, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const connection = new RedisConnection(client, "bench", new URL(target).host);
  return { kv: new RedisKvStore(connection, { prefix }), close: () => connection.close() };
}

// ---------------------------------------------------------------- the reader (worker thread)

async function readerMain(config: ReaderConfig): Promise<void> {
  const flags = new Int32Array(config.flags);
  const { kv, close } = openStore(config.technology, config.target, config.prefix);
  const report: ReaderReport = { reads: 0, errors: 0, mixed: 0, firstError: null, versionsSeen: [], latenciesMs: [] };
  const seen = new Set<number>();
  Atomics.store(flags, 0, 1);
  while (Atomics.load(flags, 1) === 0) {
    const started = performance.now();
    try {
      const answer = await kv.mget(config.dataset, config.keys);
      report.latenciesMs.push(performance.now() - started);
      const versions = new Set(answer.map((doc) => (doc === undefined ? -1 : (JSON.parse(doc) as { version: number }).version)));
      // Every key exists in every version, so one version and no gap is the only right answer.
      if (versions.size !== 1 || versions.has(-1)) report.mixed++;
      for (const v of versions) seen.add(v);
    } catch (error) {
      report.errors++;
      report.firstError ??= (error as Error).message;
    }
    report.reads++;
  }
  await close();
  report.versionsSeen = [...seen].sort((a, b) => a - b);
  parentPort!.postMessage(report);
}

// ---------------------------------------------------------------- the benchmark (main thread)

const USAGE = `usage: npx tsx bench/kv-publish.ts [--docs N] [--runs N] [--keys N] [--dir PATH] [--check]

  --docs N     documents per version (default 1000000)
  --runs N     measured publications of each kind; medians are reported (default 3)
  --keys N     keys per mget of the reader during a flip (default 100)
  --dir PATH   where the temporary SQLite files go (default: the OS temp dir)
  --check      exit with status 1 if a reader saw an error or a mixed answer

Redis: STRATA_TEST_REDIS_URL if set, else a redis-server started on a free port.`;

/** Deterministic pseudo-random numbers, so every run publishes the same bytes. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** `n` customer documents of `version`, keys in a shuffled (not sorted) order as a query would give them. */
function documents(n: number, version: number): Entry[] {
  const random = lcg(42);
  const width = String(n - 1).length;
  const out: Entry[] = new Array<Entry>(n);
  // A multiplier coprime with n visits every index once in a scattered order.
  let step = Math.floor(n * 0.618) | 1;
  while (gcd(step, n) !== 1) step += 2;
  for (let i = 0; i < n; i++) {
    const id = `C${String((i * step) % n).padStart(width, "0")}`;
    const json = `{"customer_id":"${id}","clv":${(random() * 2000).toFixed(2)},"p_alive":${random().toFixed(4)},"expected_purchases":${(random() * 12).toFixed(3)},"frequency":${Math.floor(random() * 40)},"recency_days":${Math.floor(random() * 365)},"version":${version}}`;
    out[i] = [id, json];
  }
  return out;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no free port"))));
    });
  });
}

async function publish(kv: KvStore, dataset: string, version: number, entries: readonly Entry[]): Promise<number> {
  const writer = await kv.beginVersion(dataset, version);
  for (let i = 0; i < entries.length; i += PUT_BATCH) await writer.put(entries.slice(i, i + PUT_BATCH));
  const count = await writer.finish();
  await kv.activate(dataset, version);
  return count;
}

/** Deletes every key under a prefix (UNLINK: freed in the background). */
async function unlinkPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== "0");
}

async function main(): Promise<void> {
  const { numbers, strings, flags } = cliOptions(USAGE, { docs: [1_000_000, 1000], runs: [3, 1], keys: [100, 1] }, ["dir"]);
  const DOCS = numbers.docs;
  const RUNS = numbers.runs;
  const dir = mkdtempSync(join(strings.dir ?? tmpdir(), "strata-kv-bench-"));
  const runId = `${process.pid}_${Date.now().toString(36)}`;

  let ownRedisPort: number | undefined;
  const cleanup = (): void => {
    rmSync(dir, { recursive: true, force: true });
    if (ownRedisPort !== undefined) {
      try {
        execFileSync("redis-cli", ["-p", String(ownRedisPort), "shutdown", "nosave"], { stdio: "ignore" });
      } catch {
        // Already gone.
      }
      ownRedisPort = undefined;
    }
  };
  // Also on a crash: the Redis server started here must not outlive the benchmark.
  process.once("exit", cleanup);
  process.once("SIGINT", () => process.exit(130));

  let redisUrl = process.env.STRATA_TEST_REDIS_URL;
  if (!redisUrl) {
    ownRedisPort = await freePort();
    execFileSync("redis-server", [
      ...["--port", String(ownRedisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "yes"],
      ...["--dir", dir, "--logfile", join(dir, "redis.log"), "--pidfile", join(dir, "redis.pid")],
    ]);
    redisUrl = `redis://127.0.0.1:${ownRedisPort}`;
  }
  const raw = new Redis(redisUrl);
  try {
    for (let i = 0; i < 50 && (await raw.ping().catch(() => "")) !== "PONG"; i++) await new Promise((r) => setTimeout(r, 100));
    const serverVersion = /redis_version:([^\r\n]+)/.exec(await raw.info("server"))?.[1] ?? "?";
    const memory = new Database(":memory:");
    const sqliteVersion = memory.prepare("select sqlite_version()").pluck().get() as string;
    memory.close();

    console.log(`kv-publish: ${DOCS.toLocaleString("en-US")} documents per version, ${RUNS} runs, reader mget of ${numbers.keys} keys`);
    console.log(`${await machineLine()}; sqlite ${sqliteVersion}; redis ${serverVersion} at ${new URL(redisUrl).host}`);

    const v1 = documents(DOCS, 1);
    const avgBytes = v1.reduce((sum, [, json]) => sum + Buffer.byteLength(json), 0) / v1.length;
    console.log(`documents: ~${Math.round(avgBytes)} bytes of JSON each, e.g. ${v1[0]![1]}\n`);

    // ------------------------------------------------------------ part 1: publication throughput
    let fileNo = 0;
    const kinds: { name: string; run: () => Promise<number> }[] = [
      {
        name: "sqlite strata",
        run: async () => {
          const path = join(dir, `strata-${fileNo++}.kv.sqlite`);
          const kv = new SqliteKvStore(path);
          try {
            const started = performance.now();
            const count = await publish(kv, "customer-value", 1, v1);
            const ms = performance.now() - started;
            if (count !== DOCS) throw new Error(`sqlite: finish() counted ${count}, expected ${DOCS}`);
            return ms;
          } finally {
            kv.close();
            rmSync(path, { force: true });
            rmSync(`${path}-wal`, { force: true });
            rmSync(`${path}-shm`, { force: true });
          }
        },
      },
      {
        name: "sqlite raw",
        run: () => {
          const path = join(dir, `raw-${fileNo++}.sqlite`);
          const db = new Database(path);
          try {
            // The pragmas of SqliteKvStore's connections, so that the ratio shows what the store does, not its settings.
            db.pragma("journal_mode = WAL");
            db.pragma("synchronous = NORMAL");
            db.pragma("cache_size = -65536");
            db.exec("create table kv (key text primary key, value text not null) without rowid");
            const insert = db.prepare("insert into kv (key, value) values (?, ?)");
            const started = performance.now();
            db.transaction(() => {
              for (const [key, json] of v1) insert.run(key, json);
            })();
            const ms = performance.now() - started;
            const count = db.prepare("select count(*) from kv").pluck().get() as number;
            if (count !== DOCS) throw new Error(`sqlite raw: ${count} rows, expected ${DOCS}`);
            return Promise.resolve(ms);
          } finally {
            db.close();
            rmSync(path, { force: true });
            rmSync(`${path}-wal`, { force: true });
            rmSync(`${path}-shm`, { force: true });
          }
        },
      },
      {
        name: "redis strata",
        run: async () => {
          const prefix = `strata-bench:${runId}:p${fileNo++}`;
          const { kv, close } = openStore("redis", redisUrl, prefix);
          try {
            const started = performance.now();
            const count = await publish(kv, "customer-value", 1, v1);
            const ms = performance.now() - started;
            if (count !== DOCS) throw new Error(`redis: finish() counted ${count}, expected ${DOCS}`);
            return ms;
          } finally {
            await close();
            await unlinkPrefix(raw, prefix);
          }
        },
      },
      {
        name: "redis raw",
        run: async () => {
          const key = `strata-bench:${runId}:raw${fileNo++}`;
          try {
            const started = performance.now();
            // Pipelines of 10,000 entries (HSET of 1,000 fields each), one after another.
            for (let from = 0; from < v1.length; from += 10_000) {
              const pipeline = raw.pipeline();
              for (let start = from; start < Math.min(from + 10_000, v1.length); start += 1000) {
                const args: string[] = [];
                for (let i = start; i < Math.min(start + 1000, v1.length); i++) args.push(v1[i]![0], v1[i]![1]);
                pipeline.hset(key, ...args);
              }
              const results = await pipeline.exec();
              for (const [error] of results ?? []) if (error) throw error;
            }
            const ms = performance.now() - started;
            const count = await raw.hlen(key);
            if (count !== DOCS) throw new Error(`redis raw: ${count} fields, expected ${DOCS}`);
            return ms;
          } finally {
            await raw.unlink(key);
          }
        },
      },
    ];
    const times = new Map<string, number[]>(kinds.map((k) => [k.name, []]));
    // One unmeasured round warms up the JIT, the page cache and Redis' allocator.
    for (const kind of kinds) await kind.run();
    for (let round = 0; round < RUNS; round++) {
      // Each round starts one kind further, so a slow patch of the machine hits all kinds alike.
      for (let i = 0; i < kinds.length; i++) {
        const kind = kinds[(round + i) % kinds.length]!;
        times.get(kind.name)!.push(await kind.run());
      }
    }
    const rate = (name: string): number => DOCS / (median(times.get(name)!) / 1000);
    const spread = (name: string): string => {
      const rates = times.get(name)!.map((ms) => DOCS / (ms / 1000));
      return `${Math.round(Math.min(...rates) / 1000)}k–${Math.round(Math.max(...rates) / 1000)}k`;
    };
    const thousands = (n: number): string => Math.round(n).toLocaleString("en-US");
    console.log("publication of one version (documents per second, median of runs):");
    console.log(
      table(
        ["storage", "strata docs/s", "raw docs/s", "strata / raw", "strata spread", "raw spread"],
        (["sqlite", "redis"] as const).map((t) => [
          t,
          thousands(rate(`${t} strata`)),
          thousands(rate(`${t} raw`)),
          `${fmt(rate(`${t} strata`) / rate(`${t} raw`), 2)}×`,
          spread(`${t} strata`),
          spread(`${t} raw`),
        ]),
      ),
    );

    // ------------------------------------------------------------ part 2: readers during a flip
    const v2 = documents(DOCS, 2);
    const step = Math.max(1, Math.floor(DOCS / numbers.keys));
    const asked = v1
      .filter((_, i) => i % step === 0)
      .slice(0, numbers.keys)
      .map(([key]) => key);
    const rows: string[][] = [];
    let bad = 0;
    for (const technology of ["sqlite", "redis"] as const) {
      const target = technology === "sqlite" ? join(dir, "flip.kv.sqlite") : redisUrl;
      const prefix = `strata-bench:${runId}:flip`;
      const { kv, close } = openStore(technology, target, prefix);
      try {
        await publish(kv, "customer-value", 1, v1);
        const config: ReaderConfig = {
          technology,
          target,
          prefix,
          dataset: "customer-value",
          keys: asked,
          flags: new SharedArrayBuffer(8),
        };
        const flagView = new Int32Array(config.flags);
        // The worker runs this same file, through tsx as the main thread does (tsx's hooks are per thread).
        const boot = `import { register } from ${JSON.stringify(import.meta.resolve("tsx/esm/api"))}; register(); await import(${JSON.stringify(import.meta.url)});`;
        const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData: config });
        let failed: unknown;
        const report = new Promise<ReaderReport>((resolve, reject) => {
          worker.once("message", (message: ReaderReport) => resolve(message));
          worker.once("error", (error) => reject((failed = error)));
        });
        report.catch(() => undefined);
        while (Atomics.load(flagView, 0) === 0) {
          if (failed !== undefined) throw failed;
          await new Promise((r) => setTimeout(r, 5));
        }
        const started = performance.now();
        await publish(kv, "customer-value", 2, v2);
        const ms = performance.now() - started;
        // A moment on the new version, then stop.
        await new Promise((r) => setTimeout(r, 100));
        Atomics.store(flagView, 1, 1);
        const result = await report;
        await worker.terminate();
        bad += result.errors + result.mixed;
        rows.push([
          technology,
          `${fmt(ms / 1000, 1)} s`,
          thousands(result.reads),
          thousands(result.reads / ((ms + 100) / 1000)),
          fmt(quantile(result.latenciesMs, 0.5), 3),
          fmt(quantile(result.latenciesMs, 0.99), 3),
          String(result.errors),
          String(result.mixed),
          result.versionsSeen.join(","),
        ]);
        if (result.firstError) console.error(`${technology} reader error: ${result.firstError}`);
      } finally {
        await close();
        if (technology === "redis") await unlinkPrefix(raw, prefix);
      }
    }
    console.log(
      `\nreaders during the publication and activation of version 2 (mget of ${asked.length} keys in a loop, own connection, worker thread):`,
    );
    console.log(table(["storage", "publish", "reads", "reads/s", "p50 ms", "p99 ms", "errors", "mixed", "versions seen"], rows));
    if (flags.check && bad > 0) process.exitCode = 1;
  } finally {
    raw.disconnect();
    cleanup();
  }
}

if (isMainThread) await main();
else await readerMain(workerData as ReaderConfig);
