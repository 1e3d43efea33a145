// The worker fleet: how fast a trigger starts a run, and how many runs the queue carries.
//
//   bash scripts/with-services.sh npx tsx bench/fleet.ts [--runs 10000] [--probes 40] [--concurrency 16] [--rounds 5]
//
// Latency: an API call (POST /v1/pipelines/one/runs, over HTTP) to the moment its first step
// starts (the step's recorded start), medians of --probes sequential calls: on the embedded
// defaults (one process, SQLite), and through the queue (metadata on Postgres, two `strata worker`
// processes). The floor printed beside it is a GET /healthz round trip on the same server.
//
// Throughput: --runs one-step runs through two `strata worker` processes, next to the same number
// of no-op BullMQ jobs through two raw BullMQ worker processes, same Redis, same concurrency, in
// the same run, interleaved over --rounds after an uncounted warm-up round of each, 60,000 by
// default: after 20,000 runs, the workers' V8 still spent a tenth of their CPU optimizing code over
// the next 30,000 (perf), and under 5 % after 60,000. The figure is a long-running fleet's, not a
// cold start's. Runs are launched through the control plane's executor in-process (no HTTP), at
// most 64 launches at once.
// Beside the rates, the CPU each process role spent per run, read from /proc.
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { openProject } from "../src/project/load-project.js";
import { RunMarks } from "../src/queue/step-queue.js";
import type { Workspace } from "../src/runtime/workspace.js";
import { startControlServer, type ControlServer } from "../src/server/control-server.js";
import { cliOptions, fmt, machineLine, median, quantile, table } from "./lib.js";
import { cpuByRole, pidsNamed } from "./proc-cpu.js";

const USAGE = `usage: bash scripts/with-services.sh npx tsx bench/fleet.ts [--runs N] [--probes N] [--concurrency N] [--rounds N] [--warmup N] [--profile DIR] [--worker-flags F] [--check]

  --runs N          one-step runs (and raw jobs) per throughput round (default 10000)
  --probes N        API calls timed per latency case (default 40)
  --concurrency N   jobs each worker process runs at once, Strata and raw alike (default 16)
  --rounds N        throughput rounds, raw and Strata interleaved; medians reported, Strata / raw as the median of the rounds' ratios (default 5)
  --warmup N        runs (and raw jobs) of an uncounted first round, so V8 has optimized both sides (default 60000; 0: none)
  --profile DIR     write a V8 CPU profile of each Strata worker process into DIR (--cpu-prof)
  --worker-flags F  node flags for the Strata worker processes, e.g. "--perf-basic-prof" for perf record -p
  --check           exit 1 when a goal is missed (latency < 50 ms embedded, < 200 ms queued; runs/s >= 50 % of raw)`;

const { numbers, strings, flags } = cliOptions(
  USAGE,
  { runs: [10_000, 1], probes: [40, 1], concurrency: [16, 1], rounds: [5, 1], warmup: [60_000, 0] },
  ["profile", "worker-flags"],
);
/** A throughput round with no run ending for this long has stalled: it stops with the workers' errors. */
const STALL_S = 30;
const ROOT = resolve(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "strata.js");
const redisUrl = process.env.STRATA_TEST_REDIS_URL;
const postgresUrl = process.env.STRATA_TEST_POSTGRES_URL;
if (!redisUrl || !postgresUrl) {
  console.error(`Redis and Postgres are needed: run it as bash scripts/with-services.sh npx tsx bench/fleet.ts\n\n${USAGE}`);
  process.exit(2);
}
const tag = `b${process.pid}${Date.now().toString(36)}`;
const queueEnv = {
  BENCH_QUEUE: "1",
  BENCH_METADATA_URL: postgresUrl,
  BENCH_QUEUE_URL: redisUrl,
  BENCH_SCHEMA: `${tag}_meta`,
  BENCH_PREFIX: tag,
};

const temp = mkdtempSync(join(tmpdir(), "strata-fleet-bench-"));
const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(temp, { recursive: true, force: true });
});
process.once("SIGINT", () => process.exit(130));

/** A copy of the fixture with `strata` resolving to this repo; one per case, as its config is read once per path. */
function project(name: string): string {
  const dir = join(temp, name);
  cpSync(join(ROOT, "bench", "fleet-fixture"), dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name: "fleet-bench", private: true, type: "module" })}\n`);
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules", "strata"), "dir");
  return dir;
}

/** The last lines each child printed: what a stalled round shows. */
const tails = new Map<ChildProcess, string>();

/** A child process, resolved once it prints `ready` (stdout or stderr, as a substring). */
function spawnReady(command: string, args: readonly string[], ready: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  return new Promise((resolveReady, reject) => {
    let seen = "";
    const look = (chunk: Buffer): void => {
      if (seen.length < 100_000) seen += chunk.toString();
      tails.set(child, ((tails.get(child) ?? "") + chunk.toString()).slice(-4000));
      if (seen.includes(ready)) resolveReady(child);
    };
    child.stdout!.on("data", look);
    child.stderr!.on("data", look);
    child.once("exit", (code) => reject(new Error(`${command} ${args.join(" ")} exited (${code}):\n${seen}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise((done) => child.once("exit", done));
  child.kill("SIGTERM");
  await gone;
  children.delete(child);
}

interface Latency {
  readonly startMs: number[];
  readonly floorMs: number[];
}

/** --probes API calls, one at a time, each to its first step's start; and as many /healthz round trips. */
async function probe(server: ControlServer, key: string, workspace: Workspace): Promise<Latency> {
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const startMs: number[] = [];
  const floorMs: number[] = [];
  const { store } = workspace;
  for (let i = 0; i < numbers.probes + 5; i++) {
    const t0 = Date.now();
    const response = await fetch(`${server.url}/v1/pipelines/one/runs`, { method: "POST", headers, body: "{}" });
    const { runId } = (await response.json()) as { runId: string };
    await server.executor.finished(runId);
    const [first] = await store.getSteps(runId);
    const f0 = performance.now();
    await (await fetch(`${server.url}/healthz`)).arrayBuffer();
    const floor = performance.now() - f0;
    if (i < 5) continue; // warm-up
    startMs.push(first!.startedAt! - t0);
    floorMs.push(floor);
  }
  return { startMs, floorMs };
}

/** Where CPU goes in a throughput round: ms per run (or job), by process role. */
type CpuPerRun = Record<string, number>;

const databases = { postgres: () => pidsNamed(["postgres"]), redis: () => pidsNamed(["redis-server"]) };
const pidsOf = (children: readonly ChildProcess[]) => () => children.map((c) => c.pid!);
const perRun = (used: Record<string, number>, runs: number): CpuPerRun =>
  Object.fromEntries(Object.entries(used).map(([role, ms]) => [role, ms / runs]));

async function rawRound(workers: readonly ChildProcess[], round: string, runs: number): Promise<{ perSecond: number; cpu: CpuPerRun }> {
  const connection = new Redis(redisUrl!, { maxRetriesPerRequest: null });
  const queue = new Queue("raw", { connection, prefix: `${tag}raw` });
  const cpu = cpuByRole({ workers: pidsOf(workers), producer: () => [process.pid], ...databases }).start();
  const started = performance.now();
  for (let i = 0; i < runs; i += 1000) {
    const jobs = Array.from({ length: Math.min(1000, runs - i) }, (_, j) => ({
      name: "noop",
      data: { i: i + j, round },
      opts: { removeOnComplete: true, removeOnFail: true },
    }));
    await queue.addBulk(jobs);
  }
  // Done when nothing waits or runs any more.
  for (;;) {
    const counts = await queue.getJobCounts("wait", "active", "delayed", "prioritized");
    if (Object.values(counts).every((n) => n === 0)) break;
    await new Promise((done) => setTimeout(done, 5));
  }
  const seconds = (performance.now() - started) / 1000;
  const used = cpu();
  await queue.close();
  connection.disconnect();
  return { perSecond: runs / seconds, cpu: perRun(used, runs) };
}

async function strataRound(
  server: ControlServer,
  workers: readonly ChildProcess[],
  round: string,
  runs: number,
): Promise<{ perSecond: number; succeeded: number; cpu: CpuPerRun }> {
  const prefix = tag;
  const subscriber = new Redis(redisUrl!);
  let ended = 0;
  let allEnded: () => void = () => undefined;
  const done = new Promise<void>((resolveDone) => (allEnded = resolveDone));
  await subscriber.subscribe(`${prefix}:runs:ended`);
  subscriber.on("message", (_channel: string, message: string) => {
    ended += RunMarks.endsIn(message).length;
    if (ended >= runs) allEnded();
  });
  const pipeline = server.plane.pipeline("one");
  const cpu = cpuByRole({ workers: pidsOf(workers), "control plane": () => [process.pid], ...databases }).start();
  const started = performance.now();
  let next = 0;
  const launcher = async (): Promise<void> => {
    while (next < runs) {
      next++;
      await server.executor.launch({ pipeline, params: {}, trigger: { kind: "api", id: `bench-${round}-${next}` } });
    }
  };
  await Promise.all(Array.from({ length: 64 }, launcher));
  // Runs that cannot end (a worker failing every step) would hold the round forever.
  let seenEnded = -1;
  let watchdog: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    watchdog = setInterval(() => {
      if (ended !== seenEnded) return void (seenEnded = ended);
      const said = [...tails.values()]
        .join("\n")
        .split("\n")
        .filter((l) => l.includes('"level":50'))
        .slice(-3);
      reject(
        new Error(`no run ended for ${STALL_S} s (${ended} of ${runs} ended); the workers' last errors:\n${said.join("\n") || "(none)"}`),
      );
    }, STALL_S * 1000);
  });
  await Promise.race([done, stalled]).finally(() => clearInterval(watchdog));
  const seconds = (performance.now() - started) / 1000;
  const used = cpu();
  subscriber.disconnect();
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  const { rows } = await client.query<{ n: string }>(
    `select count(*) as n from "${tag}_meta".runs where status = 'succeeded' and trigger_id like $1`,
    [`bench-${round}-%`],
  );
  await client.end();
  return { perSecond: runs / seconds, succeeded: Number(rows[0]!.n), cpu: perRun(used, runs) };
}

async function withServer<T>(
  dir: string,
  env: Record<string, string>,
  fn: (server: ControlServer, key: string, workspace: Workspace) => Promise<T>,
): Promise<T> {
  Object.assign(process.env, env);
  const workspace = (await openProject(dir)).openWorkspace();
  const { key } = await workspace.apiKeys.create("bench", ["run"], Date.now());
  const server = await startControlServer({ projectDir: dir, workspace, port: 0 });
  try {
    return await fn(server, key, workspace);
  } finally {
    await server.close(1000);
    await workspace.close();
  }
}

const describe = (l: Latency): string[] => [fmt(median(l.startMs), 1), fmt(quantile(l.startMs, 0.9), 1), fmt(median(l.floorMs), 2)];

console.log(
  `fleet: ${numbers.probes} latency probes per case; ${numbers.runs.toLocaleString("en-US")} runs per throughput round × ${numbers.rounds}, 2 worker processes × concurrency ${numbers.concurrency}`,
);
console.log(await machineLine());

const embedded = await withServer(project("embedded"), {}, probe);
const queued = project("queued");
const strataWorkers = Promise.all(
  [0, 1].map(() =>
    spawnReady(
      process.execPath,
      [
        ...(strings.profile ? ["--cpu-prof", "--cpu-prof-dir", resolve(strings.profile)] : []),
        ...(strings["worker-flags"]?.split(" ").filter(Boolean) ?? []),
        BIN,
        "worker",
        "--concurrency",
        String(numbers.concurrency),
        "--project",
        queued,
      ],
      "worker ready",
      queueEnv,
    ),
  ),
);
const workers = await strataWorkers;
const { viaQueue, rounds } = await withServer(queued, queueEnv, async (server, key, workspace) => {
  const viaQueue = await probe(server, key, workspace);
  const rounds: { raw: number; strata: number; succeeded: number; rawCpu: CpuPerRun; strataCpu: CpuPerRun }[] = [];
  const rawWorkers = await Promise.all(
    [0, 1].map(() =>
      spawnReady(
        process.execPath,
        ["--import", "tsx", join(ROOT, "bench", "fleet-raw-worker.ts"), redisUrl, `${tag}raw`, String(numbers.concurrency)],
        "ready",
      ),
    ),
  );
  if (numbers.warmup > 0) {
    // Both sides' code is compiled by V8 as it runs: a first round would time the compiler too.
    await rawRound(rawWorkers, "warm-up", numbers.warmup);
    await strataRound(server, workers, "warm-up", numbers.warmup);
  }
  for (let round = 0; round < numbers.rounds; round++) {
    const raw = await rawRound(rawWorkers, String(round), numbers.runs);
    const strata = await strataRound(server, workers, String(round), numbers.runs);
    rounds.push({ raw: raw.perSecond, strata: strata.perSecond, succeeded: strata.succeeded, rawCpu: raw.cpu, strataCpu: strata.cpu });
  }
  for (const child of rawWorkers) await stop(child);
  return { viaQueue, rounds };
});
for (const child of await strataWorkers) await stop(child);

console.log("\ntrigger to first step running (ms; API call over HTTP on loopback)");
console.log(
  table(
    ["executor", "median", "p90", "GET /healthz", "goal", "median / goal"],
    [
      ["embedded (one process, SQLite)", ...describe(embedded), "50", fmt(median(embedded.startMs) / 50, 2)],
      ["queue (Postgres + Redis, 2 workers)", ...describe(viaQueue), "200", fmt(median(viaQueue.startMs) / 200, 2)],
    ],
  ),
);
const total = (cpu: CpuPerRun): number => Object.values(cpu).reduce((a, b) => a + b, 0);
const raw = median(rounds.map((r) => r.raw));
const strata = median(rounds.map((r) => r.strata));
// Each round's ratio pairs rates measured side by side; the figure is their median (not the ratio
// of the two medians, which may pair a fast raw round with a slow Strata one, or the other way).
const ratio = median(rounds.map((r) => r.strata / r.raw));
console.log(`\n${numbers.runs.toLocaleString("en-US")} one-step runs vs no-op BullMQ jobs, 2 worker processes each (per second)`);
console.log(
  table(
    ["round", "raw BullMQ jobs/s", "Strata runs/s", "Strata / raw", "runs succeeded", "CPU ms per job", "CPU ms per run"],
    [
      ...rounds.map((r, i) => [
        String(i + 1),
        fmt(r.raw, 0),
        fmt(r.strata, 0),
        `${fmt((100 * r.strata) / r.raw, 1)} %`,
        String(r.succeeded),
        fmt(total(r.rawCpu), 3),
        fmt(total(r.strataCpu), 3),
      ]),
      ["median", fmt(raw, 0), fmt(strata, 0), `${fmt(100 * ratio, 1)} %`, "", "", ""],
    ],
  ),
);
const roles = ["workers", "control plane", "producer", "postgres", "redis"];
const cpuOf = (pick: (r: (typeof rounds)[number]) => CpuPerRun, role: string): string => {
  const values = rounds.map((r) => pick(r)[role]).filter((v): v is number => v !== undefined);
  return values.length ? fmt(median(values), 3) : "-";
};
console.log("\nCPU per run (per raw job), ms, medians of the rounds; read from /proc, all postgres and redis-server processes");
console.log(
  table(
    ["process", "raw BullMQ", "Strata"],
    [
      ...roles.map((role) => [role, cpuOf((r) => r.rawCpu, role), cpuOf((r) => r.strataCpu, role)]),
      ["total", fmt(median(rounds.map((r) => total(r.rawCpu))), 3), fmt(median(rounds.map((r) => total(r.strataCpu))), 3)],
    ],
  ),
);
const misses = [
  median(embedded.startMs) >= 50 ? "embedded latency" : "",
  median(viaQueue.startMs) >= 200 ? "queued latency" : "",
  ratio < 0.5 ? "throughput" : "",
].filter(Boolean);
console.log(misses.length ? `\nmissed: ${misses.join(", ")}` : "\nall goals met");
if (flags.check && misses.length) process.exitCode = 1;
process.exit();
