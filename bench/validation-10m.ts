// Record validation with quarantine on a big CSV with 1 % bad records: Strata's ingestion against
// the same checks written by hand in DuckDB SQL in the same process, and against pandas.
//
//   npx tsx bench/validation-10m.ts [--rows 10000000] [--runs 3] [--warmup 1] [--pandas 1] [--only strata,sql,pandas]
//                                   [--dir PATH] [--data PATH] [--python PATH] [--pandas-dates distinct|column] [--check]
//
// A CDNOW-like CSV (customer_id, date as YYYYMMDD, cds, amount) with exactly 1 % bad records
// (non-numeric or negative amounts, missing ids or dates, unparseable dates, cds that are not whole
// numbers or negative, a 5th field, a missing field, two defects at once) is generated once with
// DuckDB and cached, with what every bad line must give (validation-lib.ts). Then, interleaved round
// by round after a warm-up:
// - Strata: runPipeline() of one ingest step from the raw dataset (schema checks, quarantine on)
//   to a warehouse dataset. Timed end to end.
// - hand-written DuckDB SQL: a fresh database file, one pass over the CSV into a checked temp
//   table, then the clean table and the quarantine (line, raw line, reasons).
// Then pandas (Debian's /usr/bin/python3) in a child process: bench/validation-pandas.py.
// Every run's outcome (clean rows, quarantined rows, reasons per code, each bad line's codes) is
// checked against what the generator wrote, and so against the others'.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliOptions, pandasUnavailable, runPandasScript, type PandasTiming, fmt, machineLine, max, median, min, table } from "./lib.js";
import {
  BENCH_DIR,
  DEFAULT_DATA_DIR,
  DEFECTS,
  REASONS,
  customersFor,
  ensureCsv,
  entriesHash,
  normalizeEntries,
  outcomeDifferences,
  probeHandSql,
  probeStrata,
  probeRecords,
  reasonsOf,
  runHandSql,
  runStrata,
  type Outcome,
  type Sample,
} from "./validation-lib.js";

const GOALS = { strataPerSql: 1.2, pandasPerStrata: 4, strataRowsPerSecond: 2_000_000 } as const;
const PANDAS_SCRIPT = join(BENCH_DIR, "validation-pandas.py");
const IMPLEMENTATIONS = ["strata", "sql", "pandas"] as const;
type Implementation = (typeof IMPLEMENTATIONS)[number];

const USAGE = `usage: npx tsx bench/validation-10m.ts [--rows N] [--runs N] [--warmup N] [--pandas N] [--only LIST] [--dir PATH] [--data PATH]
                                 [--python PATH] [--pandas-dates distinct|column] [--check]

  --rows N        records in the generated CSV, 1 % of them bad (default 10000000)
  --runs N        measured runs of Strata and of the hand-written SQL, interleaved; medians are reported (default 3)
  --warmup N      unmeasured rounds of both first (default 1)
  --pandas N      runs of the pandas baseline (default 1; 0 skips it)
  --only LIST     which to run, comma-separated among strata, sql, pandas (default all three)
  --dir PATH      where the temporary databases go (default: the OS temp dir); removed at the end
  --data PATH     where the generated CSV is cached (default: bench/.scratch/validation-10m, ignored by git)
  --python PATH   the Python with pandas (default: /usr/bin/python3, Debian's)
  --pandas-dates  distinct (default): pd.to_datetime on the distinct date texts; column: on the whole column
  --check         exit with status 1 when a goal is missed or an outcome differs`;

const { numbers, strings, flags } = cliOptions(USAGE, { rows: [10_000_000, 1], runs: [3, 1], warmup: [1, 0], pandas: [1, 0] }, [
  "only",
  "dir",
  "data",
  "python",
  "pandas-dates",
]);
const ROWS = numbers.rows;
const RUNS = numbers.runs;
const WARMUP = numbers.warmup;
const PYTHON = strings.python ?? "/usr/bin/python3";
const PANDAS_DATES = strings["pandas-dates"] ?? "distinct";
const ONLY = (strings.only ?? IMPLEMENTATIONS.join(",")).split(",").map((s) => s.trim());
for (const [bad, why] of [
  [ONLY.find((s) => !(IMPLEMENTATIONS as readonly string[]).includes(s)), `--only takes ${IMPLEMENTATIONS.join(", ")}`],
  [!["distinct", "column"].includes(PANDAS_DATES) ? PANDAS_DATES : undefined, "--pandas-dates takes distinct or column"],
] as const) {
  if (bad !== undefined) {
    console.error(`${why}, not ${JSON.stringify(bad)}\n\n${USAGE}`);
    process.exit(2);
  }
}
const runs = (name: Implementation): boolean => ONLY.includes(name);

// ---------------------------------------------------------------------------------------------
// pandas

interface PandasResult extends PandasTiming {
  readonly outcome: Outcome;
  readonly probe: string[][];
}

function runPandas(file: string, entriesFile: string, probe: readonly (readonly string[])[]): PandasResult {
  const { timing, result: r } = runPandasScript<{ clean: number; quarantined: number; reasons: Record<string, number>; probe: string[][] }>(
    PYTHON,
    PANDAS_SCRIPT,
    [file, entriesFile, "--dates", PANDAS_DATES, "--probe", JSON.stringify(probe)],
  );
  const entries = normalizeEntries(readFileSync(entriesFile, "utf8").split("\n").filter(Boolean));
  rmSync(entriesFile, { force: true });
  return { ...timing, outcome: { clean: r.clean, quarantined: r.quarantined, reasons: r.reasons, entries }, probe: r.probe };
}

// ---------------------------------------------------------------------------------------------

const seconds = (ms: number): string => fmt(ms / 1000, 2);
const spread = (ms: readonly number[]): string => (ms.length > 1 ? `${seconds(min(ms))}-${seconds(max(ms))}` : "-");
const times = (ratio: number): string => `${fmt(ratio, 2)}x`;
const count = (n: number): string => n.toLocaleString("en-US");
const rate = (ms: number): string => `${fmt(ROWS / (ms / 1000) / 1e6, 2)}M`;

async function main(): Promise<void> {
  const { file, note, expected } = await ensureCsv(ROWS, strings.data ?? DEFAULT_DATA_DIR);
  const root = mkdtempSync(join(strings.dir ?? tmpdir(), "strata-bench-validation-"));
  const cleanup = (): void => rmSync(root, { recursive: true, force: true });
  process.once("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  try {
    const bad = expected.entries.length;
    const truth: Outcome = { clean: ROWS - bad, quarantined: bad, reasons: reasonsOf(expected.entries), entries: expected.entries };
    console.log(
      `Record validation with quarantine, a ${count(ROWS)}-row CDNOW-like CSV (about ${count(customersFor(ROWS))} customers),` +
        ` ${count(bad)} bad records (${fmt((100 * bad) / ROWS, 2)} %): ${ONLY.join(", ")};` +
        ` medians of ${RUNS} runs after ${WARMUP} warm-up round${WARMUP === 1 ? "" : "s"}`,
    );
    console.log(await machineLine());
    console.log(note);
    console.log(`Databases under ${root} (a fresh one per run, removed after it)\n`);
    console.log(
      table(
        ["defect", "records", "reasons", "injected"],
        DEFECTS.map((d) => [d.kind, count(expected.defects[d.kind] ?? 0), d.reasons.join(" + "), d.example]),
      ),
    );
    console.log("");

    const samples: Record<"strata" | "sql", Sample[]> = { strata: [], sql: [] };
    const checked: { name: string; round: number; outcome: Outcome; notes?: readonly string[] }[] = [];
    const scenarios = [
      { key: "strata", name: "Strata", run: (dir: string) => runStrata(dir, file) },
      { key: "sql", name: "hand SQL", run: (dir: string) => runHandSql(dir, file) },
    ].filter((s) => runs(s.key as Implementation)) as { key: "strata" | "sql"; name: string; run: (dir: string) => Promise<Sample> }[];
    let n = 0;
    for (let round = 0; scenarios.length && round < WARMUP + RUNS; round++) {
      const measured = round >= WARMUP;
      // Each round starts one further, so that drift in the machine's speed hits all alike.
      for (let k = 0; k < scenarios.length; k++) {
        const scenario = scenarios[(round + k) % scenarios.length]!;
        process.stderr.write(`\r${measured ? "measuring" : "warming up"}: round ${round + 1}/${WARMUP + RUNS}, ${scenario.name}      `);
        const dir = join(root, `run-${n++}`);
        mkdirSync(dir);
        const s = await scenario.run(dir);
        rmSync(dir, { recursive: true, force: true });
        checked.push({ name: scenario.name, round: round + 1, outcome: s.outcome, ...(s.notes ? { notes: s.notes } : {}) });
        if (measured) samples[scenario.key].push(s);
      }
    }
    process.stderr.write("\r" + " ".repeat(60) + "\r");

    const probe = probeRecords();
    const skipped = !runs("pandas") ? "not in --only" : numbers.pandas === 0 ? "--pandas 0" : pandasUnavailable(PYTHON);
    const pandasRuns: PandasResult[] = [];
    if (!skipped) {
      for (let i = 0; i < numbers.pandas; i++) {
        process.stderr.write(`\rpandas: run ${i + 1}/${numbers.pandas}      `);
        const p = runPandas(
          file,
          join(root, `pandas-${i}.txt`),
          probe.map((x) => x.record),
        );
        pandasRuns.push(p);
        checked.push({ name: "pandas", round: i + 1, outcome: p.outcome });
      }
      process.stderr.write("\r" + " ".repeat(60) + "\r");
    }

    // -------------------------------------------------------------------------------------------
    // Times

    const wall = (s: readonly Sample[]): number[] => s.map((x) => x.total.wallMs);
    const strata = samples.strata.length ? median(wall(samples.strata)) : null;
    const sql = samples.sql.length ? median(wall(samples.sql)) : null;
    const pandasMs = pandasRuns.map((p) => p.seconds * 1000);
    const pandasWallMs = pandasRuns.map((p) => p.wallSeconds * 1000);
    const pandas = pandasRuns.length ? median(pandasMs) : null;
    const vsSql = (ms: number): string => (sql === null ? "-" : times(ms / sql));
    const rows: string[][] = [];
    if (sql !== null) {
      rows.push([
        "hand-written DuckDB SQL (read_csv, checks, clean table + quarantine)",
        seconds(sql),
        spread(wall(samples.sql)),
        seconds(median(samples.sql.map((s) => s.total.cpuMs))),
        rate(sql),
        String(samples.sql.length),
        "1.00x",
      ]);
    }
    if (strata !== null) {
      rows.push([
        "Strata: runPipeline (ingest with quarantine -> dataset version)",
        seconds(strata),
        spread(wall(samples.strata)),
        seconds(median(samples.strata.map((s) => s.total.cpuMs))),
        rate(strata),
        String(samples.strata.length),
        vsSql(strata),
      ]);
    }
    const last = pandasRuns[pandasRuns.length - 1];
    if (last && pandas !== null) {
      const cpu = seconds(median(pandasRuns.map((p) => p.cpuSeconds * 1000)));
      const n = String(pandasRuns.length);
      rows.push([
        `pandas ${last.versions.pandas}, timed in Python (no imports)`,
        seconds(pandas),
        spread(pandasMs),
        cpu,
        rate(pandas),
        n,
        vsSql(pandas),
      ]);
      rows.push([
        `pandas, the whole python3 process`,
        seconds(median(pandasWallMs)),
        spread(pandasWallMs),
        "-",
        rate(median(pandasWallMs)),
        n,
        vsSql(median(pandasWallMs)),
      ]);
    }
    if (rows.length) console.log(table(["", "median s", "min-max s", "CPU s", "rows/s", "runs", "vs hand SQL"], rows));
    if (last) {
      const phases = Object.entries(last.phases)
        .map(([name, s]) => `${name} ${fmt(s, 2)} s`)
        .join(", ");
      console.log(
        `\npandas (last run, dates parsed ${PANDAS_DATES === "distinct" ? "once per distinct text" : "on the whole column"}): ${phases};` +
          ` imports ${fmt(last.importSeconds, 2)} s. Python ${last.versions.python}, numpy ${last.versions.numpy}, one thread.`,
      );
    }
    if (rows.length) {
      console.log(
        `CPU s: user + system time of all threads (DuckDB uses every core), often steadier than wall time when other work shares the machine.`,
      );
    }

    // -------------------------------------------------------------------------------------------
    // Checks

    console.log(`\nChecks (every run, warm-up included, against what the generator wrote for each bad line):`);
    console.log(
      `  expected: ${count(truth.clean)} clean, ${count(truth.quarantined)} quarantined; reasons ` +
        REASONS.map((r) => `${r} ${count(truth.reasons[r] ?? 0)}`).join(", ") +
        `; hash of the bad lines (line:codes) ${entriesHash(truth.entries)}`,
    );
    let allOk = true;
    for (const name of ["Strata", "hand SQL", "pandas"]) {
      const mine = checked.filter((c) => c.name === name);
      if (!mine.length) {
        console.log(`  skipped: ${name}${name === "pandas" ? ` (${skipped})` : " (not in --only)"}`);
        continue;
      }
      const diffs = mine.flatMap((c) =>
        [...outcomeDifferences(c.outcome, truth), ...(c.notes ?? [])].map((d) => `${name}, run ${c.round}: ${d}`),
      );
      allOk &&= diffs.length === 0;
      const first = mine[0]!.outcome;
      console.log(
        `  ${diffs.length ? "DIFF" : "OK  "}  ${name}: ${count(first.clean)} clean, ${count(first.quarantined)} quarantined,` +
          ` hash ${entriesHash(first.entries)} (${mine.length} run${mine.length === 1 ? "" : "s"})`,
      );
      for (const d of diffs.slice(0, 8)) console.log(`        ${d}`);
    }
    // The three against each other, directly (the same as above when all match the generator).
    const firstOf = (name: string): Outcome | undefined => checked.find((c) => c.name === name)?.outcome;
    for (const [a, b] of [
      ["Strata", "hand SQL"],
      ["pandas", "hand SQL"],
      ["Strata", "pandas"],
    ] as const) {
      const x = firstOf(a);
      const y = firstOf(b);
      if (!x || !y) continue;
      const diffs = outcomeDifferences(x, y);
      console.log(`  ${diffs.length ? "DIFF" : "OK  "}  ${a} = ${b}${diffs.length ? `: ${diffs.join("; ")}` : ""}`);
    }

    // The same odd texts through each implementation's checks (hand SQL: its expressions on a VALUES
    // list; pandas: its check() on a frame; Strata: one small run on a CSV of them).
    const probes: [string, string[][]][] = [];
    if (runs("sql")) probes.push(["hand SQL", await probeHandSql(probe.map((p) => p.record))]);
    if (last) probes.push(["pandas", last.probe]);
    if (runs("strata"))
      probes.push([
        "Strata",
        await probeStrata(
          join(root, "probe"),
          probe.map((p) => p.record),
        ),
      ]);
    if (probes.length > 1) {
      const shown = (reasons: readonly string[]): string => [...reasons].sort().join(" ") || "ok";
      const differ = probe.flatMap((p, i) => {
        const cells = probes.map(([, results]) => shown(results[i]!));
        return cells.every((c) => c === cells[0]) ? [] : [[p.column, JSON.stringify(p.text), ...cells]];
      });
      console.log(
        `\nStrictness probe (odd texts, each in an otherwise good record, through the same checks; none of them is in the data):` +
          ` ${probes.map(([name]) => name).join(", ")} agree on ${probe.length - differ.length} of ${probe.length}` +
          (differ.length ? ", differ on:" : "."),
      );
      if (differ.length) console.log(table(["column", "text", ...probes.map(([name]) => name)], differ).replace(/^/gm, "  "));
    }

    // -------------------------------------------------------------------------------------------
    // Goals

    console.log(`\nGoals:`);
    const verdicts: boolean[] = [];
    const verdict = (pass: boolean | null, text: string): void => {
      if (pass !== null) verdicts.push(pass);
      console.log(`  ${pass === null ? "----" : pass ? "PASS" : "FAIL"}  ${text}`);
    };
    if (strata === null) verdict(null, `Strata not run (--only ${ONLY.join(",")}): no goal measured`);
    else {
      const perSql = sql === null ? null : strata / sql;
      verdict(
        perSql === null ? null : perSql <= GOALS.strataPerSql,
        perSql === null
          ? `Strata / hand SQL: hand SQL not run`
          : `Strata / hand SQL = ${times(perSql)} wall (limit ${GOALS.strataPerSql}x); CPU time ` +
              times(median(samples.strata.map((s) => s.total.cpuMs)) / median(samples.sql.map((s) => s.total.cpuMs))),
      );
      const perStrata = pandas === null ? null : pandas / strata;
      verdict(
        perStrata === null ? null : perStrata >= GOALS.pandasPerStrata,
        perStrata === null
          ? `pandas / Strata: pandas not run (${skipped})`
          : `pandas / Strata = ${times(perStrata)} (at least ${GOALS.pandasPerStrata}x; the whole python3 process: ${times(median(pandasWallMs) / strata)})`,
      );
      verdict(
        ROWS / (strata / 1000) >= GOALS.strataRowsPerSecond,
        `Strata ${rate(strata)} rows/s (at least ${fmt(GOALS.strataRowsPerSecond / 1e6, 1)}M)`,
      );
    }
    if (sql !== null && pandas !== null) {
      console.log(
        `        For scale: pandas / hand SQL = ${times(pandas / sql)}; with Strata at ${GOALS.strataPerSql}x hand SQL,` +
          ` pandas / Strata would be ${times(pandas / (sql * GOALS.strataPerSql))}.`,
      );
    }
    if (ROWS < 10_000_000) console.log(`  (--rows ${ROWS}: a smoke test; the goals are about 10,000,000 rows.)`);
    if (flags.check && (!allOk || verdicts.includes(false))) process.exitCode = 1;
  } finally {
    cleanup();
  }
}

await main();
