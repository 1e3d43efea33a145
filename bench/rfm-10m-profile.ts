// Where Strata's time goes in bench/rfm-10m.ts, phase by phase, and what other forms of the load
// query would cost.
//
//   npx tsx bench/rfm-10m-profile.ts [--rows 10000000] [--runs 3] [--warmup 1] [--dir PATH] [--data PATH]
//
// Part 1: the same Strata run as rfm-10m.ts, with every call into the DuckDB table engine timed
// (wall and CPU, a call's time excluding the engine calls nested in it): the file checks, the load
// and coercion, the sql step's query into the version table, the schema check, the flip. What is
// left of runPipeline's time is Strata's own runtime (SQLite metadata, scheduling, logging).
// Part 2: raw DuckDB (a fresh file database each time) loading the same CSV with other queries, each
// followed by the RFM SQL and checked against the typed read_csv: Strata's load query exactly as
// src/storage/files/file-source.ts builds it, the same without its error() guard, and a text read with
// plain casts. All interleaved round by round after a warm-up; medians.
import { AsyncLocalStorage } from "node:async_hooks";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { DuckDbTableEngine } from "../src/storage/duckdb/table-engine.js";
import { cleanQuery, type FileSource } from "../src/storage/files/file-source.js";
import type { ResolvedQuery, TableName } from "../src/storage/table-engine.js";
import { cliOptions, fmt, machineLine, median, table, timer, type Timing } from "./lib.js";
import {
  DEFAULT_DATA_DIR,
  checksumDifferences,
  customersFor,
  ensureCsv,
  runDuckDb,
  runStrata,
  transactionSchema,
  work,
  type Checksum,
  type Work,
} from "./rfm-lib.js";

const USAGE = `usage: npx tsx bench/rfm-10m-profile.ts [--rows N] [--runs N] [--warmup N] [--dir PATH] [--data PATH]

  --rows N     transactions in the generated CSV (default 10000000)
  --runs N     measured rounds; medians are reported (default 3)
  --warmup N   unmeasured rounds first (default 1)
  --dir PATH   where the temporary databases go (default: the OS temp dir); removed at the end
  --data PATH  where the generated CSV is cached (default: bench/.scratch/rfm-10m, ignored by git)`;

const { numbers, strings } = cliOptions(USAGE, { rows: [10_000_000, 1], runs: [3, 1], warmup: [1, 0] }, ["dir", "data"]);
const ROWS = numbers.rows;
const RUNS = numbers.runs;
const WARMUP = numbers.warmup;

// ---------------------------------------------------------------------------------------------
// Part 1: timing the engine calls of a Strata run

interface Frame {
  childWall: number;
  childCpu: number;
}

interface Call {
  readonly phase: string;
  readonly wallMs: number;
  readonly cpuMs: number;
}

const context = new AsyncLocalStorage<Frame>();
let calls: Call[] = [];

/** Which phase of the run an engine call belongs to, from its method and SQL. */
function phaseOf(method: string, args: readonly unknown[]): string {
  if (method === "createTableAs") {
    const [target, query] = args as [TableName, ResolvedQuery];
    const text = query.strings.join("?");
    if (/^select file from glob\(/.test(text)) return "file checks: glob the path";
    if (text.includes("columns = {'line': 'VARCHAR'}") && /limit 1\)/.test(text)) return "file checks: read the header line";
    if (text.includes("strata: a record does not coerce")) return "load: read the CSV and coerce to the schema";
    if (target.table.startsWith("customer_summary__v")) return "sql step: the RFM query into the version table";
    return `createTableAs ${target.schema}.${target.table}`;
  }
  if (method === "readRows") return "file checks: read the probes' results";
  if (method === "count") return "row counts after each create table";
  if (method === "describe") return "schema check: describe the version table";
  if (method === "activate" || method === "aliasTarget") return "flip: point the alias view at the version";
  return method;
}

/** Wraps the engine's methods: each call is timed, excluding the engine calls nested in it. */
function instrument(): void {
  const proto = DuckDbTableEngine.prototype as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const method of [
    "createTableAs",
    "createTableFromRows",
    "readRows",
    "count",
    "exists",
    "describe",
    "activate",
    "aliasTarget",
    "drop",
  ]) {
    const original = proto[method];
    if (typeof original !== "function") throw new Error(`DuckDbTableEngine has no method ${method}`);
    proto[method] = async function (this: unknown, ...args: unknown[]) {
      const parent = context.getStore();
      const frame: Frame = { childWall: 0, childCpu: 0 };
      const stop = timer();
      try {
        return await context.run(frame, () => original.apply(this, args));
      } finally {
        const t = stop();
        if (parent) {
          parent.childWall += t.wallMs;
          parent.childCpu += t.cpuMs;
        }
        calls.push({ phase: phaseOf(method, args), wallMs: t.wallMs - frame.childWall, cpuMs: t.cpuMs - frame.childCpu });
      }
    };
  }
}

/** A Strata run, its time split by phase; the rest of runPipeline's time is the runtime's own. */
async function profiledStrata(dir: string, w: Work): Promise<{ phases: Map<string, Timing>; checksum: Checksum }> {
  calls = [];
  const sample = await runStrata(dir, w);
  const phases = new Map<string, Timing>();
  for (const c of calls) {
    const seen = phases.get(c.phase) ?? { wallMs: 0, cpuMs: 0 };
    phases.set(c.phase, { wallMs: seen.wallMs + c.wallMs, cpuMs: seen.cpuMs + c.cpuMs });
  }
  const engine = [...phases.values()].reduce((a, b) => ({ wallMs: a.wallMs + b.wallMs, cpuMs: a.cpuMs + b.cpuMs }), {
    wallMs: 0,
    cpuMs: 0,
  });
  phases.set("runtime: metadata (SQLite), scheduling, logs, catalog", {
    wallMs: sample.total.wallMs - engine.wallMs,
    cpuMs: sample.total.cpuMs - engine.cpuMs,
  });
  phases.set("total: runPipeline", sample.total);
  return { phases, checksum: sample.checksum };
}

// ---------------------------------------------------------------------------------------------
// Part 2: other load queries on raw DuckDB

/** The load queries compared, each creating `tx` with the same columns and types. */
function loadVariants(w: Work): { name: string; sql: string; storage?: "raw-in-memory" }[] {
  const source: FileSource = {
    storage: "lake",
    dataset: "transactions",
    folder: dirname(w.file),
    path: basename(w.file),
    format: "csv",
    csv: { header: true },
    schema: Object.fromEntries(Object.entries(transactionSchema).map(([name, type]) => [name, type.spec])),
  };
  const names = Object.keys(transactionSchema);
  const strata = cleanQuery(
    source,
    { files: [w.file], groups: [{ files: [w.file], columns: names }] },
    { errors: "fail", failOnBad: true },
  );
  const unguarded = strata.replace(/\s*where case when [\s\S]*$/, "");
  if (unguarded === strata) throw new Error("the load query has no error() guard to take out: update this profile");
  const text = w.duckdbLoad.replace(/'DATE'|'INTEGER'|'DOUBLE'/g, "'VARCHAR'").replace(/, dateformat = '[^']*'/, "");
  return [
    { name: "typed read_csv (raw DuckDB's load, the reference)", sql: w.duckdbLoad },
    { name: "Strata's load query, as file-source.ts builds it", sql: strata },
    { name: "the same without the error() guard (WHERE clause)", sql: unguarded },
    {
      name: "text read_csv + plain casts (no regexp, no try_)",
      sql: `select customer_id, strptime(date, '%Y%m%d')::date as date, number_of_cds::integer as number_of_cds, dollar_value::double as dollar_value from (${text})`,
    },
    { name: "typed read_csv into an attached in-memory database", sql: w.duckdbLoad, storage: "raw-in-memory" },
    { name: "Strata's load query into an attached in-memory database", sql: strata, storage: "raw-in-memory" },
  ];
}

// ---------------------------------------------------------------------------------------------

const s = (ms: number): string => fmt(ms / 1000, 2);

async function main(): Promise<void> {
  const { file, note } = await ensureCsv(ROWS, strings.data ?? DEFAULT_DATA_DIR);
  const root = mkdtempSync(join(strings.dir ?? tmpdir(), "strata-bench-rfm-profile-"));
  const cleanup = (): void => rmSync(root, { recursive: true, force: true });
  process.once("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  try {
    instrument();
    const w = work(file);
    const variants = loadVariants(w);
    console.log(
      `Profile of the RFM benchmark: ${ROWS.toLocaleString("en-US")} rows, about ${customersFor(ROWS).toLocaleString("en-US")} customers;` +
        ` medians of ${RUNS} rounds after ${WARMUP} warm-up round${WARMUP === 1 ? "" : "s"}`,
    );
    console.log(await machineLine());
    console.log(`${note}\n`);

    type Job = { name: string; run: (dir: string) => Promise<void> };
    const strataPhases = new Map<string, Timing[]>();
    const variantRuns = new Map<string, { load: Timing[]; rfm: Timing[]; total: Timing[] }>(
      variants.map((v) => [v.name, { load: [], rfm: [], total: [] }]),
    );
    const checks: { name: string; checksum: Checksum }[] = [];
    let measured = false;
    const jobs: Job[] = [
      {
        name: "Strata",
        run: async (dir) => {
          const { phases, checksum } = await profiledStrata(dir, w);
          checks.push({ name: "Strata", checksum });
          if (!measured) return;
          for (const [phase, t] of phases) strataPhases.set(phase, [...(strataPhases.get(phase) ?? []), t]);
        },
      },
      ...variants.map((v): Job => ({
        name: v.name,
        run: async (dir) => {
          const sample = await runDuckDb(dir, w, { load: v.sql, storage: v.storage ?? "file" });
          checks.push({ name: v.name, checksum: sample.checksum });
          if (!measured) return;
          const into = variantRuns.get(v.name)!;
          into.load.push(sample.load);
          into.rfm.push(sample.rfm);
          into.total.push(sample.total);
        },
      })),
    ];
    let n = 0;
    for (let round = 0; round < WARMUP + RUNS; round++) {
      measured = round >= WARMUP;
      for (let k = 0; k < jobs.length; k++) {
        const job = jobs[(round + k) % jobs.length]!;
        process.stderr.write(
          `\r${measured ? "measuring" : "warming up"}: round ${round + 1}/${WARMUP + RUNS}, job ${k + 1}/${jobs.length}   `,
        );
        const dir = join(root, `run-${n++}`);
        mkdirSync(dir);
        await job.run(dir);
        rmSync(dir, { recursive: true, force: true });
      }
    }
    process.stderr.write("\r" + " ".repeat(60) + "\r");

    const total = median(strataPhases.get("total: runPipeline")!.map((t) => t.wallMs));
    const rows = [...strataPhases].map(([phase, ts]) => {
      const wall = median(ts.map((t) => t.wallMs));
      return [phase, s(wall), s(median(ts.map((t) => t.cpuMs))), `${fmt((100 * wall) / total, 1)}%`];
    });
    console.log("Part 1: a Strata run (runPipeline), by phase (each engine call without the calls nested in it)");
    console.log(table(["phase", "wall s", "CPU s", "of total"], rows));

    const reference = variantRuns.get(variants[0]!.name)!;
    const wallOf = (ts: readonly Timing[]): number => median(ts.map((t) => t.wallMs));
    const cpuOf = (ts: readonly Timing[]): number => median(ts.map((t) => t.cpuMs));
    console.log("\nPart 2: raw DuckDB with other load queries (then the same RFM SQL), a fresh database file each");
    console.log(
      table(
        ["load query", "load s", "load CPU s", "RFM SQL s", "RFM CPU s", "total s", "total CPU s", "load CPU vs reference"],
        variants.map((v) => {
          const r = variantRuns.get(v.name)!;
          return [
            v.name,
            s(wallOf(r.load)),
            s(cpuOf(r.load)),
            s(wallOf(r.rfm)),
            s(cpuOf(r.rfm)),
            s(wallOf(r.total)),
            s(cpuOf(r.total)),
            `${fmt(cpuOf(r.load) / cpuOf(reference.load), 2)}x`,
          ];
        }),
      ),
    );
    const strataTotal = strataPhases.get("total: runPipeline")!;
    console.log(
      `\nStrata's runPipeline against the reference's total: ${fmt(total / wallOf(reference.total), 2)}x wall,` +
        ` ${fmt(cpuOf(strataTotal) / cpuOf(reference.total), 2)}x CPU.`,
    );
    const bad = checks.flatMap((c) => {
      const diff = checksumDifferences(c.checksum, checks.find((x) => x.name === variants[0]!.name)!.checksum);
      return diff.length ? [`${c.name}: ${diff.join("; ")}`] : [];
    });
    console.log(bad.length ? `Results differ:\n  ${bad.join("\n  ")}` : `Every run's summary is the same (checksums of all columns).`);
    if (bad.length) process.exitCode = 1;
  } finally {
    cleanup();
  }
}

await main();
