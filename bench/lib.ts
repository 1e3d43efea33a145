// Small helpers shared by the benchmarks: robust statistics, argument parsing and plain-text tables.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

/** The median of a non-empty list (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Linear-interpolated quantile, q in [0, 1]. */
export function quantile(values: readonly number[], q: number): number {
  if (!values.length) throw new Error("quantile of an empty list");
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function min(values: readonly number[]): number {
  return Math.min(...values);
}

export function max(values: readonly number[]): number {
  return Math.max(...values);
}

/** Formats a number with a fixed count of decimals. */
export function fmt(value: number, decimals = 2): string {
  return value.toFixed(decimals);
}

/** Renders rows as an aligned text table: text columns left-aligned, numeric-looking ones right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = header.map((_h, i) => rows.length > 0 && rows.every((r) => /^([-+]?[\d.,]+( ?[a-z%×]+)?|-)$/i.test(r[i] ?? "")));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/**
 * Parses `--name N` integer options (each given as `[default, minimum]`), string options as given,
 * and `--check`; prints the usage and exits on `--help` or a bad value.
 */
export function cliOptions<const N extends string, const S extends string>(
  usage: string,
  numbers: Readonly<Record<N, readonly [number, number]>>,
  strings: readonly S[] = [],
): { numbers: Record<N, number>; strings: Partial<Record<S, string>>; flags: { check: boolean } } {
  const options: Record<string, { type: "string" | "boolean" }> = { check: { type: "boolean" }, help: { type: "boolean" } };
  for (const name of [...Object.keys(numbers), ...strings]) options[name] = { type: "string" };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ options, strict: true, allowPositionals: false }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const parsedNumbers = {} as Record<N, number>;
  for (const name of Object.keys(numbers) as N[]) {
    const [fallback, least] = numbers[name];
    const raw = values[name];
    parsedNumbers[name] = fallback;
    if (raw === undefined) continue;
    const n = Number(raw);
    if (typeof raw !== "string" || !Number.isInteger(n) || n < least) {
      console.error(`--${name} must be an integer >= ${least}, got ${String(raw)}\n\n${usage}`);
      process.exit(2);
    }
    parsedNumbers[name] = n;
  }
  const parsedStrings: Partial<Record<S, string>> = {};
  for (const name of strings) {
    const raw = values[name];
    if (typeof raw === "string") parsedStrings[name] = raw;
  }
  return { numbers: parsedNumbers, strings: parsedStrings, flags: { check: values.check === true } };
}

/** One line describing the machine, so that numbers from different machines are not compared blindly. */
export async function machineLine(): Promise<string> {
  const os = await import("node:os");
  const cpu = os.cpus()[0]?.model.trim() ?? "unknown CPU";
  return `node ${process.version}, ${os.platform()} ${os.arch()}, ${os.availableParallelism()} cores (${cpu})`;
}

export interface Timing {
  readonly wallMs: number;
  readonly cpuMs: number;
}

/** Starts a span; the function returned ends it. */
export function timer(): () => Timing {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return { wallMs: performance.now() - wall, cpuMs: (used.user + used.system) / 1000 };
  };
}

/** What a pandas baseline script reports besides its results (timed in Python, imports excluded). */
export interface PandasTiming {
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** The python3 process, as the benchmark waited for it. */
  readonly wallSeconds: number;
  readonly importSeconds: number;
  readonly phases: Record<string, number>;
  readonly versions: { python: string; pandas: string; numpy: string };
}

/**
 * Runs a pandas baseline script and reads the JSON of its last line of output: timings
 * (`seconds`, `cpu_seconds`, `import_seconds`, `phases`), versions, and the script's own results.
 */
export function runPandasScript<R>(python: string, script: string, args: readonly string[]): { timing: PandasTiming; result: R } {
  const started = performance.now();
  const out = execFileSync(python, [script, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 * 1024 * 1024,
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const r = JSON.parse(out.trim().split("\n").pop() ?? "") as R & {
    seconds: number;
    cpu_seconds: number;
    import_seconds: number;
    phases: Record<string, number>;
    python: string;
    pandas: string;
    numpy: string;
  };
  return {
    timing: {
      seconds: r.seconds,
      cpuSeconds: r.cpu_seconds,
      wallSeconds,
      importSeconds: r.import_seconds,
      phases: r.phases,
      versions: { python: r.python, pandas: r.pandas, numpy: r.numpy },
    },
    result: r,
  };
}

/** Why `python` cannot run a pandas baseline here, or null when it can. */
export function pandasUnavailable(python: string): string | null {
  if (!existsSync(python)) return `${python} does not exist (--python PATH names another interpreter)`;
  const probe = spawnSync(python, ["-c", "import pandas"], { encoding: "utf8" });
  if (probe.error) return `${python} cannot be started: ${probe.error.message}`;
  if (probe.status !== 0) {
    const why = probe.stderr.trim().split("\n").pop() ?? `exit ${probe.status}`;
    return `${python} cannot import pandas: ${why} (bash scripts/ensure-system.sh python installs Debian's)`;
  }
  return null;
}
