// Orchestration overhead: what Strata adds per step on top of calling the step and recording it.
//
//   npx tsx bench/orchestration.ts [--steps 1000] [--runs 7] [--warmup 2] [--dir /some/disk] [--check]
//
// A pipeline of no-op steps runs twice over: once as a wide fan-out (independent steps) and once
// as a chain (each step takes the previous one's output). Every run records all its metadata in a
// real SQLite file (WAL), through openWorkspace(), exactly like `strata run`. In the same process
// and interleaved with those runs, the baseline awaits the same number of no-op calls and does one
// autocommitted SQLite insert after each (same pragmas). The overhead per step is the difference.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { openWorkspace, pipeline, runPipeline, step, type AnyPipeline, type StepRef } from "../src/index.js";
import { cliOptions, fmt, machineLine, max, median, min, table } from "./lib.js";

const GOAL_MS_PER_STEP = 1;

const USAGE = `usage: npx tsx bench/orchestration.ts [--steps N] [--runs N] [--warmup N] [--dir PATH] [--check]

  --steps N    steps per pipeline (default 1000)
  --runs N     measured runs of each scenario; medians are reported (default 7)
  --warmup N   unmeasured runs of each scenario first (default 2)
  --dir PATH   where the temporary SQLite files go (default: the OS temp dir)
  --check      exit with status 1 when a scenario misses the ${GOAL_MS_PER_STEP} ms/step goal`;

const { numbers, strings, flags } = cliOptions(USAGE, { steps: [1000, 1], runs: [7, 1], warmup: [2, 0] }, ["dir"]);
const STEPS = numbers.steps;
const RUNS = numbers.runs;
const WARMUP = numbers.warmup;

const pad = (i: number): string => String(i).padStart(String(STEPS - 1).length, "0");

/** STEPS independent no-op steps. */
function fanOut(): AnyPipeline {
  return pipeline("bench_fan_out", () => {
    for (let i = 0; i < STEPS; i++) step(`s${pad(i)}`, () => undefined);
  });
}

/** A chain of STEPS no-op steps, each taking the previous step's output as its input. */
function chain(): AnyPipeline {
  return pipeline("bench_chain", () => {
    let prev: StepRef<undefined> = step(`s${pad(0)}`, () => undefined);
    for (let i = 1; i < STEPS; i++) prev = step(`s${pad(i)}`, { inputs: { prev } }, () => undefined);
  });
}

interface Measurement {
  readonly ms: number;
  /** Rows of metadata the run left behind (for the report). */
  readonly recorded?: { steps: number; attempts: number; logs: number };
}

interface Scenario {
  readonly name: string;
  readonly strata: boolean;
  run(dir: string): Promise<Measurement>;
}

function strataScenario(name: string, build: () => AnyPipeline, concurrency: number | undefined): Scenario {
  const defined = build();
  return {
    name,
    strata: true,
    async run(dir) {
      const workspace = openWorkspace(dir);
      try {
        const started = performance.now();
        const result = await runPipeline(defined, { workspace, ...(concurrency === undefined ? {} : { concurrency }) });
        const ms = performance.now() - started;
        // Checked after the clock stopped: every step ran and its metadata is really on disk.
        const attempts = await workspace.store.getAttempts(result.id);
        const logs = await workspace.store.getLogs(result.id);
        const succeeded = result.steps.filter((s) => s.status === "succeeded").length;
        if (result.status !== "succeeded" || succeeded !== STEPS || attempts.length !== STEPS) {
          throw new Error(
            `${name}: expected ${STEPS} succeeded steps and attempts, got run ${result.status}, ${succeeded} steps, ${attempts.length} attempts`,
          );
        }
        await result.close();
        return { ms, recorded: { steps: result.steps.length, attempts: attempts.length, logs: logs.length } };
      } finally {
        await workspace.close();
      }
    },
  };
}

const noop = async (_i: number): Promise<void> => {};

/** The same number of awaited no-op calls, each followed by one autocommitted insert into SQLite (WAL). */
const baseline: Scenario = {
  name: `baseline: ${STEPS} no-op calls + ${STEPS} inserts`,
  strata: false,
  async run(dir) {
    const db = new Database(join(dir, "baseline.sqlite"));
    try {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("busy_timeout = 5000");
      db.exec(`create table events (run_id text not null, step text not null, status text not null, at integer not null)`);
      const insert = db.prepare(`insert into events (run_id, step, status, at) values (?, ?, ?, ?)`);
      const started = performance.now();
      for (let i = 0; i < STEPS; i++) {
        await noop(i);
        insert.run("r_bench", `s${pad(i)}`, "succeeded", Date.now());
      }
      const ms = performance.now() - started;
      const count = (db.prepare(`select count(*) as n from events`).get() as { n: number }).n;
      if (count !== STEPS) throw new Error(`baseline: expected ${STEPS} rows, found ${count}`);
      return { ms };
    } finally {
      db.close();
    }
  },
};

function medianBuildMs(build: () => AnyPipeline): number {
  const times: number[] = [];
  for (let i = 0; i < Math.max(RUNS, 3); i++) {
    const started = performance.now();
    build();
    times.push(performance.now() - started);
  }
  return median(times);
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(strings.dir ?? tmpdir(), "strata-bench-orchestration-"));
  const cleanup = (): void => rmSync(root, { recursive: true, force: true });
  process.once("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  try {
    const scenarios: Scenario[] = [
      baseline,
      strataScenario(`fan-out, ${STEPS} independent steps, concurrency 4 (default)`, fanOut, undefined),
      strataScenario(`fan-out, ${STEPS} independent steps, concurrency 1`, fanOut, 1),
      strataScenario(`chain, ${STEPS} steps long`, chain, undefined),
    ];
    const samples = new Map<Scenario, number[]>(scenarios.map((s) => [s, []]));
    const recorded = new Map<Scenario, Measurement["recorded"]>();

    console.log(`Strata orchestration overhead: ${STEPS} no-op steps per pipeline, medians of ${RUNS} runs after ${WARMUP} warm-up runs`);
    console.log(await machineLine());
    console.log(`SQLite files under ${root} (WAL, synchronous=NORMAL), one fresh file per run\n`);

    // Rounds interleave the scenarios, starting each round one scenario further, so that drift
    // in the machine's speed (other load, thermal, GC) spreads over all of them alike.
    let n = 0;
    for (let round = 0; round < WARMUP + RUNS; round++) {
      const measured = round >= WARMUP;
      process.stderr.write(`\r${measured ? "measuring" : "warming up"}: round ${round + 1}/${WARMUP + RUNS}   `);
      for (let k = 0; k < scenarios.length; k++) {
        const scenario = scenarios[(round + k) % scenarios.length]!;
        const dir = join(root, `run-${n++}`);
        mkdirSync(dir);
        const m = await scenario.run(dir);
        rmSync(dir, { recursive: true, force: true });
        if (!measured) continue;
        samples.get(scenario)!.push(m.ms / STEPS);
        if (m.recorded) recorded.set(scenario, m.recorded);
      }
    }
    process.stderr.write("\r" + " ".repeat(40) + "\r");

    const base = median(samples.get(baseline)!);
    const rows = scenarios.map((s) => {
      const perStep = samples.get(s)!;
      const med = median(perStep);
      return [
        s.name,
        fmt(med * STEPS, 1),
        fmt(med, 3),
        `${fmt(min(perStep), 3)}-${fmt(max(perStep), 3)}`,
        s.strata ? fmt(med - base, 3) : "-",
        s.strata ? `${fmt(med / base, 1)}x` : "1.0x",
      ];
    });
    console.log(table(["scenario", "run ms (median)", "ms/step", "ms/step min-max", "overhead ms/step", "vs baseline"], rows));

    const example = [...recorded.values()][0];
    if (example) {
      console.log(
        `\nRecorded per Strata run: 1 run row, ${example.steps} step rows, ${example.attempts} attempt rows, ${example.logs} log lines` +
          ` (about 2 commits per step: the attempt, written once since a no-op step ends within 100 ms, and its log lines; the baseline commits once per call).`,
      );
    }
    console.log(
      `Defining the pipeline (step() calls and graph checks, before any run; not in the times above): ` +
        `fan-out ${fmt(medianBuildMs(fanOut), 1)} ms, chain ${fmt(medianBuildMs(chain), 1)} ms.`,
    );

    console.log(`\nGoal: under ${GOAL_MS_PER_STEP} ms of orchestration overhead per step (Strata ms/step minus baseline ms/step)`);
    let allPass = true;
    for (const s of scenarios.filter((x) => x.strata)) {
      const overhead = median(samples.get(s)!) - base;
      const pass = overhead < GOAL_MS_PER_STEP;
      allPass &&= pass;
      console.log(`  ${pass ? "PASS" : "FAIL"}  ${fmt(overhead, 3)} ms/step  ${s.name}`);
    }

    console.log(
      `\nFor scale (quoted, not measured here): Airflow spends seconds per task (scheduler loop, a process per task),` +
        `\nand Dagster users report 3-6 s just to launch a run.`,
    );
    if (flags.check && !allPass) process.exitCode = 1;
  } finally {
    cleanup();
  }
}

await main();
