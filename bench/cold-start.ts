// Cold start: wall time of `node bin/strata.js --help`, a fresh process each time.
//
//   npx tsx bench/cold-start.ts [--runs 15] [--warmup 2] [--cli path/to/cli.js] [--check]
//
// The baseline, measured in the same run and interleaved with it, is a bare `node -e ""`: what
// starting Node costs on this machine before Strata loads a single module. The goal applies to
// the total (what a user waits for), the difference is what Strata itself costs.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { cliOptions, fmt, machineLine, median, min, quantile, table } from "./lib.js";

const GOAL_MS = 300;

const USAGE = `usage: npx tsx bench/cold-start.ts [--runs N] [--warmup N] [--cli PATH] [--check]

  --runs N     measured spawns of each command; median and p90 are reported (default 15)
  --warmup N   unmeasured spawns of each first, to warm the OS file cache (default 2)
  --cli PATH   the script to time instead of bin/strata.js (also: STRATA_BENCH_CLI=PATH)
  --check      exit with status 1 when the median misses the ${GOAL_MS} ms goal`;

const { numbers, strings, flags } = cliOptions(USAGE, { runs: [15, 1], warmup: [2, 0] }, ["cli"]);
const RUNS = numbers.runs;
const WARMUP = numbers.warmup;

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const standIn = strings.cli ?? process.env.STRATA_BENCH_CLI;
const cli = resolve(standIn ?? resolve(root, "bin/strata.js"));

function fail(message: string): never {
  console.error(`cold-start: ${message}`);
  process.exit(1);
}

if (!existsSync(cli)) {
  fail(
    standIn
      ? `the CLI given by ${strings.cli ? "--cli" : "STRATA_BENCH_CLI"} does not exist: ${cli}`
      : `${cli} does not exist. Build Strata first: run \`npm run build\` in ${root}.`,
  );
}
if (!standIn && !existsSync(resolve(root, "dist/cli/main.js"))) {
  fail(`dist/cli/main.js is missing, so bin/strata.js has nothing to load. Run \`npm run build\` in ${root} first.`);
}

interface Command {
  readonly label: string;
  readonly args: readonly string[];
}

const baseline: Command = { label: `node -e ""`, args: ["-e", ""] };
const shown = relative(root, cli);
const strata: Command = { label: `node ${shown.startsWith("..") ? cli : shown} --help`, args: [cli, "--help"] };

/** Spawns the command once (stdout ignored) and returns its wall time in ms; exits on a failure. */
function time(command: Command): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, command.args, { cwd: root, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const ms = performance.now() - started;
  if (result.error) fail(`cannot spawn ${command.label}: ${result.error.message}`);
  if (result.status !== 0) {
    const hint = standIn ? "" : "\nIf it is not built (or out of date), run `npm run build` first.";
    fail(`${command.label} exited with ${result.status ?? result.signal}:\n${result.stderr.trim()}${hint}`);
  }
  return ms;
}

const samples = new Map<Command, number[]>([
  [baseline, []],
  [strata, []],
]);

console.log(`Strata CLI cold start: ${RUNS} spawns of each command after ${WARMUP} warm-up spawns, fresh process each time`);
console.log(await machineLine());
if (standIn) console.log(`NOTE: timing a stand-in, not bin/strata.js: ${cli}`);
console.log();

// Alternate which command goes first, so that drift in the machine's speed hits both alike.
for (let round = 0; round < WARMUP + RUNS; round++) {
  const order = round % 2 === 0 ? [baseline, strata] : [strata, baseline];
  for (const command of order) {
    const ms = time(command);
    if (round >= WARMUP) samples.get(command)!.push(ms);
  }
}

const base = samples.get(baseline)!;
const ours = samples.get(strata)!;
const row = (command: Command, values: readonly number[]): string[] => [
  command.label,
  fmt(median(values), 1),
  fmt(quantile(values, 0.9), 1),
  fmt(min(values), 1),
];
console.log(table(["command", "median ms", "p90 ms", "min ms"], [row(baseline, base), row(strata, ours)]));

const total = median(ours);
const own = total - median(base);
console.log(
  `\nStrata's own cost (median minus node baseline): ${fmt(own, 1)} ms; ` +
    `${fmt(total / median(base), 2)}x the time of starting bare Node.`,
);
const pass = total < GOAL_MS;
console.log(
  `Goal: \`strata --help\` under ${GOAL_MS} ms in total (median)\n` +
    `  ${pass ? "PASS" : "FAIL"}  ${fmt(total, 1)} ms median, ${fmt(quantile(ours, 0.9), 1)} ms p90`,
);
if (flags.check && !pass) process.exitCode = 1;
