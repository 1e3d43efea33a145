// The models service under load: a single-key lookup endpoint backed by SQLite, and by Redis,
// against a raw node:http server returning a constant JSON document, measured in the same run.
//
//   npx tsx bench/serving.ts [--keys 100000] [--rounds 3] [--duration 5] [--warmup 3] [--connections 50]
//                            [--distinct 2000] [--context 1] [--profile DIR] [--check]
//   bash scripts/with-services.sh npx tsx bench/serving.ts      # with the Redis case
//
// Goal (from the issue): throughput at least 60 % of the raw node:http server and p99 under 5 ms
// at 50 connections, for the SQLite and for the Redis lookup.
//
// A throwaway project (bench/serving-fixture copied to a temp dir, `strata` linked to this repo)
// publishes `--keys` score documents to the built-in SQLite kv storage (and, when
// STRATA_TEST_REDIS_URL is set, to a Redis kv storage under a key prefix of this run), and has
// two endpoint types, `score` (SQLite) and `score-redis`, whose implementation is one
// `ctx.kv(storage, dataset).get(customerId)`. Every server is its own child process, started
// with the built CLI (`node bin/strata.js serve`) or, for the baselines, plain `node -e`; the
// load is autocannon's programmatic API in this process. Only one target is loaded at a time
// (the machine has 2 cores: one for the server, one for the load), targets alternating round by
// round. For scale (no goal), `--context 1` adds a bare Fastify server answering the constant
// document, and the `score` type through an implementation that reads no storage: the steps
// from raw node:http to the lookup show what the framework, Strata's call path and the storage
// read each cost. Every target's CPU time per answer is read from /proc, which the load
// generator's own limits do not blur.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { cliOptions, fmt, machineLine, max, median, table } from "./lib.js";
import { processCpuMs } from "./proc-cpu.js";

const GOAL_RATIO = 0.6;
const GOAL_P99_MS = 5;

const USAGE = `usage: npx tsx bench/serving.ts [--keys N] [--rounds N] [--duration S] [--warmup S] [--connections N] [--distinct N] [--profile DIR] [--check]

  --keys N         score documents published to each kv storage (default 100000)
  --rounds N       measured rounds; each loads every target once, in turn (default 3)
  --duration S     seconds of load per target and round (default 5)
  --warmup S       seconds of unmeasured load per target before the rounds (default 3)
  --connections N  concurrent keep-alive connections (default 50)
  --distinct N     distinct keys requested, drawn from the published ones (default 2000)
  --context 0|1    also load, for scale (no goal): a bare Fastify server answering the constant document, and
                   Strata's score endpoint through an implementation that reads no storage (default 1)
  --profile DIR    afterwards, load each Strata target once more under node --cpu-prof, keep the
                   profiles in DIR and print where the server's time goes (not part of the figures)
  --check          exit with status 1 when a goal is missed or a request failed

Needs the built CLI (npm run build). The Redis case runs when STRATA_TEST_REDIS_URL is set:
  bash scripts/with-services.sh npx tsx bench/serving.ts`;

const { numbers, strings, flags } = cliOptions(
  USAGE,
  { keys: [100_000, 1000], rounds: [3, 1], duration: [5, 1], warmup: [3, 0], connections: [50, 1], distinct: [2000, 1], context: [1, 0] },
  ["profile"],
);

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "bin", "strata.js");
const FIXTURE = join(ROOT, "bench", "serving-fixture");

// ---------------------------------------------------------------- autocannon (no bundled types)

interface LoadRequest {
  readonly method: "POST";
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

interface AutocannonResult {
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly statusCodeStats: Readonly<Record<string, { count: number }>>;
  readonly latency: { readonly p99: number };
}

interface AutocannonTracker {
  on(event: "response", listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): unknown;
}

type Autocannon = (
  options: { url: string; connections: number; duration: number; requests: readonly LoadRequest[]; timeout: number },
  done: (error: Error | null, result: AutocannonResult) => void,
) => AutocannonTracker;

const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

// ---------------------------------------------------------------- child processes

const children = new Set<ChildProcess>();

function freePort(): Promise<number> {
  return new Promise((done, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? done(address.port) : reject(new Error("no free port"))));
    });
  });
}

interface Server {
  readonly name: string;
  readonly url: string;
  readonly process: ChildProcess;
  readonly log: string;
}

/** Starts a server process, its output in a log file, and waits until `GET /healthz` answers. */
async function startServer(name: string, args: readonly string[], port: number, logDir: string, env: NodeJS.ProcessEnv): Promise<Server> {
  const log = join(logDir, `${name.replace(/\W+/g, "-")}-${port}.log`);
  const out = createWriteStream(log);
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  child.once("exit", () => children.delete(child));
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${name} exited with ${child.exitCode} before it answered; see ${log}:\n${readFileSync(log, "utf8")}`);
    const ok = await fetch(`${url}/healthz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return { name, url, process: child, log };
    if (performance.now() > deadline) throw new Error(`${name} did not answer within 30 s; see ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. */
async function stopServer(server: Server): Promise<void> {
  const child = server.process;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((done) => child.once("exit", () => done()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await gone;
  clearTimeout(timer);
}

// ---------------------------------------------------------------- the project

/** Runs the built CLI to completion; its stdout. */
function cli(args: readonly string[], env: NodeJS.ProcessEnv): string {
  return execFileSync(process.execPath, [BIN, ...args], { cwd: ROOT, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Deterministic pseudo-random numbers. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const customerId = (i: number): string => `C${String(i).padStart(6, "0")}`;

// ---------------------------------------------------------------- one load run

interface Target {
  readonly name: string;
  readonly server: Server;
  readonly path: string;
  /** Goals apply to the Strata targets, compared with `raw`. */
  readonly strata: boolean;
  /** Node's arguments to start the server on a port. */
  readonly args: (port: number) => string[];
}

interface RunResult {
  /** 2xx answers. */
  readonly answered: number;
  readonly reqPerSec: number;
  readonly p50: number;
  readonly p99: number;
  /** autocannon's own p99 (whole milliseconds), as a cross-check. */
  readonly autocannonP99: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly statuses: string;
  /** Server CPU per answered request, µs. */
  readonly serverCpuUs: number;
  /** The part of it spent in the kernel (the network stack, on loopback the client's receiving side too). */
  readonly serverSysUs: number;
  /** The load generator's (this process') CPU use, % of one core. */
  readonly clientCpuPct: number;
}

function quantileSorted(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

async function load(target: Target, requests: readonly LoadRequest[], seconds: number): Promise<RunResult> {
  let latencies = new Float64Array(1 << 18);
  let count = 0;
  const pid = target.server.process.pid!;
  const cpuBefore = processCpuMs(pid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const result = await new Promise<AutocannonResult>((done, reject) => {
    const tracker = autocannon(
      { url: target.server.url, connections: numbers.connections, duration: seconds, requests, timeout: 10 },
      (error, r) => (error ? reject(error) : done(r)),
    );
    // autocannon's histogram keeps whole milliseconds; the goal needs finer: keep every 2xx latency.
    tracker.on("response", (_client, statusCode, _bytes, ms) => {
      if (statusCode < 200 || statusCode >= 300) return;
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = ms;
    });
  });
  const elapsed = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const cpuAfter = processCpuMs(pid);
  const serverCpuMs = cpuAfter.user - cpuBefore.user + cpuAfter.system - cpuBefore.system;
  const sorted = latencies.subarray(0, count).sort();
  const statuses = Object.entries(result.statusCodeStats)
    .map(([code, s]) => `${code}×${s.count}`)
    .join(" ");
  return {
    answered: count,
    reqPerSec: count / elapsed,
    p50: count ? quantileSorted(sorted, 0.5) : NaN,
    p99: count ? quantileSorted(sorted, 0.99) : NaN,
    autocannonP99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    statuses,
    serverCpuUs: count ? (serverCpuMs * 1000) / count : NaN,
    serverSysUs: count ? ((cpuAfter.system - cpuBefore.system) * 1000) / count : NaN,
    clientCpuPct: ((client.user + client.system) / 1000 / (elapsed * 1000)) * 100,
  };
}

// ---------------------------------------------------------------- profile summary

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a function lives, for grouping: a package, Strata's code, a part of Node, or the VM. */
function groupOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : `(native) ${functionName || "(anonymous)"}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith("node:"))
    return `node:${url
      .slice(5)
      .replace(/^internal\//, "")
      .split("/")[0]!
      .replace(/\.js$/, "")}`;
  if (url.includes("/dist/")) return "strata (dist/)";
  if (url.includes("/endpoints/")) return "the implementation";
  return url.replace(/^file:\/\//, "");
}

const shortUrl = (url: string): string => url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/dist\//, "dist/");

/**
 * Self time by group and by function, and inclusive time of Strata's own functions, in µs per
 * answered request. The profile covers the whole process, start-up (module loading) included.
 */
function summarizeProfile(file: string, answered: number): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const frameKey = (n: ProfileNode): string =>
    `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url ? `${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : ""}`.trim();
  let busy = 0;
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === "(idle)") continue;
    busy += us;
    const group = groupOf(node.callFrame.url, node.callFrame.functionName);
    groups.set(group, (groups.get(group) ?? 0) + us);
    functions.set(frameKey(node), (functions.get(frameKey(node)) ?? 0) + us);
  }
  // Inclusive time of Strata's functions (a frame counted once per stack, however deep it recurses).
  const inclusive = new Map<string, number>();
  const walk = (id: number, onStack: ReadonlySet<string>): number => {
    const node = byId.get(id)!;
    let us = node.callFrame.functionName === "(idle)" ? 0 : (selfUs.get(id) ?? 0);
    const key = frameKey(node);
    const strata = node.callFrame.url.includes("/dist/") && !onStack.has(key);
    const below = strata ? new Set([...onStack, key]) : onStack;
    for (const child of node.children ?? []) us += walk(child, below);
    if (strata) inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    return us;
  };
  walk(profile.nodes[0]!.id, new Set());
  const perReq = (us: number): string => fmt(us / answered, 1);
  const top = (m: Map<string, number>, n: number): string[][] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => [k, perReq(us), `${fmt((us / busy) * 100, 1)} %`]);
  return [
    `busy CPU ${fmt(busy / 1e6, 2)} s for ${answered.toLocaleString("en-US")} answers: ${perReq(busy)} µs per answer (start-up included)`,
    table(["self time by package / part of node", "µs/req", "share"], top(groups, 12)),
    "",
    table(["self time by function", "µs/req", "share"], top(functions, 18)),
    ...(inclusive.size ? ["", table(["inclusive time of Strata's functions", "µs/req", "share"], top(inclusive, 16))] : []),
  ].join("\n");
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  if (!existsSync(BIN) || !existsSync(join(ROOT, "dist", "cli", "main.js")))
    throw new Error(`the built CLI is missing: run \`npm run build\` in ${ROOT} first`);
  const redisUrl = process.env.STRATA_TEST_REDIS_URL;
  const dir = mkdtempSync(join(tmpdir(), "strata-serving-bench-"));
  const project = join(dir, "project");
  const logs = join(dir, "logs");
  mkdirSync(logs);
  const prefix = `strata-bench-serving:${process.pid}_${Date.now().toString(36)}`;
  const env: NodeJS.ProcessEnv = { ...process.env, CI: "true", STRATA_BENCH_REDIS_PREFIX: prefix };
  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    for (const child of children) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", cleanup);
  process.once("SIGINT", () => process.exit(130));

  const servers: Server[] = [];
  try {
    console.log(
      `serving: ${numbers.keys.toLocaleString("en-US")} keys, ${numbers.connections} connections, ${numbers.rounds} rounds × ${numbers.duration} s per target after ${numbers.warmup} s of warm-up each`,
    );
    console.log(await machineLine());

    // The project: the fixture, a package.json, and `strata` resolving to this repo (as an installed package would).
    cpSync(FIXTURE, project, { recursive: true });
    writeFileSync(join(project, "package.json"), `${JSON.stringify({ name: "serving-bench", private: true, type: "module" })}\n`);
    mkdirSync(join(project, "node_modules"));
    symlinkSync(ROOT, join(project, "node_modules", "strata"), "dir");

    const publish = (pipeline: string): string => {
      const started = performance.now();
      cli(["run", pipeline, "--project", project, "--param", `n=${numbers.keys}`, "--progress", "none"], env);
      return `${fmt((performance.now() - started) / 1000, 1)} s`;
    };
    console.log(
      `published ${numbers.keys.toLocaleString("en-US")} documents to the SQLite kv storage in ${publish("publish")} (strata run, process included)`,
    );
    if (redisUrl) {
      console.log(`published them to Redis (${new URL(redisUrl).host}, prefix ${prefix}) in ${publish("publish-redis")}`);
    } else {
      console.log("STRATA_TEST_REDIS_URL is not set: the Redis case is skipped (run under bash scripts/with-services.sh for it)");
    }
    const { key } = JSON.parse(cli(["keys", "create", "bench", "--project", project, "--json"], env)) as { key: string };

    // The requests: `--distinct` keys drawn from the published ones, each a prebuilt request that
    // autocannon cycles through (every connection walks the same list).
    const random = lcg(7);
    const keys = Array.from({ length: numbers.distinct }, () => customerId(Math.floor(random() * numbers.keys)));
    const headers = { "content-type": "application/json", authorization: `Bearer ${key}` };
    const requestsFor = (path: string): LoadRequest[] =>
      keys.map((k) => ({ method: "POST", path, headers, body: JSON.stringify({ customerId: k }) }));

    // The baseline: node:http, reads the body, answers a constant document of the same size as Strata's answers.
    const sample = `{"customerId":"C000042","clv":1455.87,"pAlive":0.2559,"expectedPurchases":11.501,"frequency":37,"recencyDays":118}`;
    const rawCode = `
      const http = require("node:http");
      const body = Buffer.from(${JSON.stringify(sample)});
      http.createServer((req, res) => {
        req.resume();
        req.on("end", () => {
          res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
          res.end(body);
        });
      }).listen(Number(process.argv[1]), "127.0.0.1");
      process.on("SIGTERM", () => process.exit(0)); // a normal exit, so that --cpu-prof writes its profile`;
    // For scale, not a goal: Fastify (the service's framework, same options) answering the same constant
    // document from a route of the same shape, after its default JSON body parsing. What is left
    // between this and Strata is Strata's own work per call.
    const fastifyCode = `
      const app = require("fastify")({ logger: false, bodyLimit: 16 * 1024 * 1024, return503OnClosing: true });
      const body = ${JSON.stringify(sample)};
      app.get("/healthz", async () => ({ status: "ok" }));
      app.post("/v1/endpoints/:type", async (request, reply) => reply.type("application/json").send(body));
      app.listen({ host: "127.0.0.1", port: Number(process.argv[1]) });
      process.on("SIGTERM", () => app.close().then(() => process.exit(0)));`;
    const strataArgs = (port: number): string[] => [BIN, "serve", "--project", project, "--port", String(port)];
    const uncachedArgs = (port: number): string[] => [...strataArgs(port), "--kv-cache-mb", "0"];
    const specs: Omit<Target, "server">[] = [
      { name: "raw node:http", path: "/v1/endpoints/score", strata: false, args: (port) => ["-e", rawCode, String(port)] },
      ...(numbers.context
        ? [
            {
              name: "fastify const",
              path: "/v1/endpoints/score",
              strata: false,
              args: (port: number) => ["-e", fastifyCode, String(port)],
            },
            { name: "strata no kv", path: "/v1/endpoints/score/constant", strata: false, args: strataArgs },
          ]
        : []),
      { name: "strata sqlite", path: "/v1/endpoints/score", strata: true, args: strataArgs },
      ...(redisUrl ? [{ name: "strata redis", path: "/v1/endpoints/score-redis", strata: true, args: strataArgs }] : []),
      // For scale (no goal): every call reads the storage, none is answered from kept documents.
      ...(numbers.context
        ? [
            { name: "sqlite uncached", path: "/v1/endpoints/score", strata: false, args: uncachedArgs },
            ...(redisUrl ? [{ name: "redis uncached", path: "/v1/endpoints/score-redis", strata: false, args: uncachedArgs }] : []),
          ]
        : []),
    ];
    const targets: Target[] = [];
    for (const spec of specs) {
      // Each in its own process, even the two Strata ones: neither warms the other's JIT or caches.
      const port = await freePort();
      const server = await startServer(spec.name, spec.args(port), port, logs, env);
      servers.push(server);
      targets.push({ ...spec, server });
    }

    // Answers are right before anything is timed: every Strata target gives the same document for the same key.
    for (const k of keys.slice(0, 20)) {
      const answers = await Promise.all(
        targets
          .filter((t) => t.strata)
          .map(async (t) => {
            const r = await fetch(`${t.server.url}${t.path}`, { method: "POST", headers, body: JSON.stringify({ customerId: k }) });
            const text = await r.text();
            if (r.status !== 200 || !text.startsWith(`{"customerId":"${k}",`))
              throw new Error(`${t.name}: ${k} answered ${r.status}: ${text}`);
            return text;
          }),
      );
      if (new Set(answers).size !== 1) throw new Error(`the targets disagree on ${k}: ${answers.join(" / ")}`);
    }
    const shown = await fetch(`${targets.find((t) => t.strata)!.server.url}/v1/endpoints/score`, {
      method: "POST",
      headers,
      body: JSON.stringify({ customerId: keys[0] }),
    });
    console.log(
      `request: POST {"customerId":"${keys[0]}"} (${keys.length.toLocaleString("en-US")} distinct keys, prebuilt, cycled), API key in Authorization`,
    );
    console.log(`answer:  ${await shown.text()}\n`);

    const requests = new Map(targets.map((t) => [t.name, requestsFor(t.path)]));
    if (numbers.warmup > 0) for (const t of targets) await load(t, requests.get(t.name)!, numbers.warmup);
    const runs = new Map<string, RunResult[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < numbers.rounds; round++) {
      // Each round starts one target further, so a slow patch of the machine hits all of them alike.
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(round + i) % targets.length]!;
        const r = await load(t, requests.get(t.name)!, numbers.duration);
        runs.get(t.name)!.push(r);
        console.log(
          `  round ${round + 1} ${t.name.padEnd(14)} ${Math.round(r.reqPerSec).toLocaleString("en-US").padStart(7)} req/s  p50 ${fmt(r.p50, 2)} ms  p99 ${fmt(r.p99, 2)} ms  server ${fmt(r.serverCpuUs, 0)} µs CPU/req (${fmt(r.serverSysUs, 0)} kernel)  client ${fmt(r.clientCpuPct, 0)} % CPU${r.errors || r.non2xx ? `  ERRORS ${r.errors} non-2xx ${r.non2xx} (${r.statuses})` : ""}`,
        );
      }
    }

    // ------------------------------------------------------------ report
    const rawRate = median(runs.get("raw node:http")!.map((r) => r.reqPerSec));
    const rawCpu = median(runs.get("raw node:http")!.map((r) => r.serverCpuUs));
    let allOk = true;
    const rows = targets.map((t) => {
      const rs = runs.get(t.name)!;
      const rate = median(rs.map((r) => r.reqPerSec));
      const errors = rs.reduce((s, r) => s + r.errors, 0);
      const non2xx = rs.reduce((s, r) => s + r.non2xx, 0);
      if (errors || non2xx) allOk = false;
      return [
        t.name,
        Math.round(rate).toLocaleString("en-US"),
        `${fmt((rate / rawRate) * 100, 0)} %`,
        fmt(median(rs.map((r) => r.p50)), 2),
        fmt(median(rs.map((r) => r.p99)), 2),
        fmt(max(rs.map((r) => r.p99)), 2),
        String(max(rs.map((r) => r.autocannonP99))),
        String(errors),
        String(non2xx),
        fmt(median(rs.map((r) => r.serverCpuUs)), 0),
        fmt(median(rs.map((r) => r.serverSysUs)), 0),
        `${fmt(median(rs.map((r) => r.serverCpuUs)) / rawCpu, 1)}×`,
        `${fmt(median(rs.map((r) => r.clientCpuPct)), 0)} %`,
      ];
    });
    console.log(`\nmedians over ${numbers.rounds} rounds of ${numbers.duration} s, ${numbers.connections} connections (latency in ms):`);
    console.log(
      table(
        [
          "target",
          "req/s",
          "of raw",
          "p50",
          "p99",
          "worst p99",
          "autocannon p99",
          "errors",
          "non-2xx",
          "server µs/req",
          "of it kernel",
          "CPU vs raw",
          "client CPU",
        ],
        rows,
      ),
    );
    console.log(
      "(server µs/req: the server process' CPU time per answer, from /proc; client CPU: this process, the load generator, in % of one core.)",
    );

    console.log("\ngoals (issue): throughput >= 60 % of raw node:http, p99 < 5 ms at 50 connections");
    for (const t of targets.filter((x) => x.strata)) {
      const rs = runs.get(t.name)!;
      const ratio = median(rs.map((r) => r.reqPerSec)) / rawRate;
      const p99 = median(rs.map((r) => r.p99));
      const ratioOk = ratio >= GOAL_RATIO;
      const p99Ok = p99 < GOAL_P99_MS;
      if (!ratioOk || !p99Ok) allOk = false;
      console.log(
        `  ${t.name.padEnd(14)} throughput ${fmt(ratio * 100, 0)} % of raw: ${ratioOk ? "PASS" : "FAIL"}   p99 ${fmt(p99, 2)} ms: ${p99Ok ? "PASS" : "FAIL"}`,
      );
    }
    if (!redisUrl) console.log("  strata redis   not measured (STRATA_TEST_REDIS_URL unset)");
    if (numbers.connections !== 50) console.log(`  (measured at ${numbers.connections} connections, not the goal's 50)`);

    console.log("\npublished figures, for context only (NOT measured here, other hardware and setups):");
    console.log("  Feast Python feature server: p99 4.6-7 ms at 718 req/s per pod");
    console.log("  MLflow model scoring server: about 3,300 req/s");

    // ------------------------------------------------------------ profile (optional, not part of the figures)
    if (strings.profile !== undefined) {
      const profileDir = resolve(strings.profile);
      mkdirSync(profileDir, { recursive: true });
      for (const t of targets) {
        const before = new Set(readdirSync(profileDir));
        const port = await freePort();
        const server = await startServer(
          `${t.name} profiled`,
          ["--cpu-prof", "--cpu-prof-dir", profileDir, ...t.args(port)],
          port,
          logs,
          env,
        );
        servers.push(server);
        const target = { ...t, server };
        const warm = await load(target, requests.get(t.name)!, numbers.warmup || 1);
        const r = await load(target, requests.get(t.name)!, numbers.duration);
        await stopServer(server);
        // CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile: the main thread's (0), not the module loader's worker.
        const file = readdirSync(profileDir).find((f) => /\.0\.\d+\.cpuprofile$/.test(f) && !before.has(f));
        console.log(
          `\nprofile of ${t.name} (${Math.round(r.reqPerSec).toLocaleString("en-US")} req/s with the profiler on): ${file ? join(profileDir, file) : "none written"}`,
        );
        if (file) console.log(summarizeProfile(join(profileDir, file), warm.answered + r.answered));
      }
    }

    if (flags.check && !allOk) process.exitCode = 1;
  } finally {
    for (const server of servers) await stopServer(server);
    if (redisUrl) await unlinkPrefix(redisUrl, prefix);
    cleanup();
  }
}

/** Deletes the Redis keys this run published (UNLINK: freed in the background). */
async function unlinkPrefix(url: string, prefix: string): Promise<void> {
  const { Redis } = await import("ioredis");
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, found] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      if (found.length > 0) await redis.unlink(...found);
      cursor = next;
    } while (cursor !== "0");
  } catch (error) {
    console.error(`could not remove the Redis keys under ${prefix}: ${(error as Error).message}`);
  } finally {
    redis.disconnect();
  }
}

await main();
