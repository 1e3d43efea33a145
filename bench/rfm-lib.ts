// Shared by rfm-10m.ts and rfm-10m-profile.ts: the generated CDNOW-shaped CSV, the RFM query
// (written once, as Strata's sql template), one Strata run and one raw DuckDB run, and the
// checksum that compares their results.
import { existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { dataset, openWorkspace, pipeline, runPipeline, sql, step, storage, t, type AnyPipeline, type DatasetRef } from "../src/index.js";
import { fmt } from "./lib.js";
import { timer, type Timing } from "./lib.js";

const FIRST_DAY = "1997-01-01";
const DAYS = 546; // 1997-01-01 .. 1998-06-30: 18 months, as CDNOW
/** The last day of the data and the observation end of the summary (written as a literal in the SQL below). */
export const OBSERVATION_END = "1998-06-30";
/** Bump when the generator changes, so that an old cached file is not used. */
const DATA_VERSION = 1;

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
/** Ignored by git (the `.scratch/` rule of .gitignore), so the generated CSV can stay. */
export const DEFAULT_DATA_DIR = join(BENCH_DIR, ".scratch", "rfm-10m");

/** About ten purchases per customer, as 10M rows and 1M customers. */
export const customersFor = (rows: number): number => Math.max(1, Math.round(rows / 10));

const lit = (text: string): string => `'${text.replace(/'/g, "''")}'`;

// ---------------------------------------------------------------------------------------------
// The data

/**
 * Writes the CSV with DuckDB from range(): hash-based values, so the same file every time.
 * Customers are drawn uniformly (about 10 purchases each, some on the same day), dates uniformly
 * over 18 months; sorted by customer and date like CDNOW_master.txt; customer ids zero-padded text.
 */
async function generate(file: string, rows: number): Promise<void> {
  const partial = `${file}.partial-${process.pid}`;
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    await connection.run(`copy (
        select lpad(cast(customer as varchar), 7, '0') as customer_id,
               strftime(date '${FIRST_DAY}' + day, '%Y%m%d') as date,
               cds as number_of_cds,
               round(cds * (500 + hash(i, 'price') % 2000) / 100.0, 2) as dollar_value
        from (select i,
                     1 + (hash(i, 'customer') % ${customersFor(rows)})::bigint as customer,
                     (hash(i, 'day') % ${DAYS})::integer as day,
                     1 + (hash(i, 'cds') % 4)::integer as cds
              from range(${rows}) r(i))
        order by customer, day, i
      ) to ${lit(partial)} (format csv, header true, delimiter ',')`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  renameSync(partial, file);
}

/** The cached CSV of `rows` transactions (generated on first use), and a line saying which. */
export async function ensureCsv(rows: number, dataDir: string): Promise<{ file: string; note: string }> {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, `cdnow-like-${rows}-v${DATA_VERSION}.csv`);
  const size = (): string => `${fmt(statSync(file).size / 1e6, 0)} MB`;
  if (existsSync(file)) return { file, note: `CSV: ${file} (cached, ${size()})` };
  process.stderr.write(`generating ${rows.toLocaleString("en-US")} rows into ${file} ...`);
  const started = performance.now();
  await generate(file, rows);
  process.stderr.write("\r" + " ".repeat(120) + "\r");
  return { file, note: `CSV: ${file} (generated in ${fmt((performance.now() - started) / 1000, 1)} s, ${size()})` };
}

// ---------------------------------------------------------------------------------------------
// The work: one query, written once as Strata's sql template; raw DuckDB runs the same text with
// the dataset replaced by its own table. It is the summary SQL of examples/cltv with its daily
// dedup folded in, over the whole period.

/** The raw dataset's schema, as examples/cltv declares CDNOW's (constraints aside). */
export const transactionSchema = { customer_id: t.string(), date: t.date("%Y%m%d"), number_of_cds: t.int(), dollar_value: t.double() };
const summarySchema = { customer_id: t.string(), frequency: t.int(), recency: t.double(), T: t.double(), monetary_value: t.double() };

function rfmQuery(source: DatasetRef<unknown>) {
  return sql`with daily as (
      select customer_id, date, sum(dollar_value) as amount
      from ${source} group by customer_id, date
    ), calibration as (
      select * from daily where date <= date '1998-06-30'
    ), firsts as (
      select customer_id, min(date) as first_date from calibration group by customer_id
    )
    select c.customer_id,
           (count(*) - 1)::integer as frequency,
           date_diff('day', f.first_date, max(c.date)) / 7.0 as recency,
           date_diff('day', f.first_date, date '1998-06-30') / 7.0 as "T",
           coalesce(avg(c.amount) filter (where c.date > f.first_date), 0) as monetary_value
    from calibration c join firsts f using (customer_id)
    group by c.customer_id, f.first_date
    order by c.customer_id`;
}

export interface Work {
  readonly file: string;
  /** The Strata pipeline: one sql step from the raw dataset to a new version of `customer_summary`. */
  readonly pipeline: AnyPipeline;
  /** Raw DuckDB: the load, `create table tx as` this (read_csv with the schema's types). */
  readonly duckdbLoad: string;
  /** Raw DuckDB: the RFM query, reading the table `tx`. */
  readonly duckdbRfm: string;
}

export function work(file: string): Work {
  const transactions = dataset("transactions", { storage: "lake", path: basename(file), csv: { header: true }, schema: transactionSchema });
  const customerSummary = dataset("customer_summary", { storage: "warehouse", key: "customer_id", schema: summarySchema });
  const query = rfmQuery(transactions);
  if (query.strings.length !== 2 || !query.strings.join("").includes(`date '${OBSERVATION_END}'`)) {
    throw new Error("the RFM query must read one table, up to OBSERVATION_END");
  }
  return {
    file,
    pipeline: pipeline("rfm_bench", () => {
      step("summary", { output: customerSummary }, query);
    }),
    duckdbLoad:
      `select * from read_csv(${lit(file)}, header = true, auto_detect = false, delim = ',', ` +
      `columns = {'customer_id': 'VARCHAR', 'date': 'DATE', 'number_of_cds': 'INTEGER', 'dollar_value': 'DOUBLE'}, dateformat = '%Y%m%d')`,
    duckdbRfm: query.strings.join("tx"),
  };
}

// ---------------------------------------------------------------------------------------------
// Timing and checks

/** Wall and CPU time (all threads of the process, DuckDB's included) of a span. */

/** What is compared between the implementations; floats rounded, so that summation order does not matter. */
export interface Checksum {
  readonly rows: number;
  readonly frequencySum: number;
  /** Sums of recency and T in days (exact integers). */
  readonly recencyDays: number;
  readonly tDays: number;
  readonly monetarySum: number;
  /** XOR of a hash of every row (monetary value rounded to 6 decimals). */
  readonly rowHash: string;
}

async function checksumOf(connection: DuckDBConnection, qualifiedTable: string): Promise<Checksum> {
  const reader = await connection.runAndReadAll(`select count(*)::bigint, sum(frequency)::bigint,
      sum(round(recency * 7))::bigint, sum(round("T" * 7))::bigint, sum(monetary_value),
      bit_xor(hash(customer_id, frequency, round(recency * 7)::bigint, round("T" * 7)::bigint, round(monetary_value, 6)))::varchar
    from ${qualifiedTable}`);
  const [row] = reader.getRowsJS();
  if (!row) throw new Error(`no checksum row for ${qualifiedTable}`);
  return {
    rows: Number(row[0]),
    frequencySum: Number(row[1]),
    recencyDays: Number(row[2]),
    tDays: Number(row[3]),
    monetarySum: Number(row[4]),
    rowHash: String(row[5]),
  };
}

/** How two checksums differ, one item per field; empty when they are equal. */
export function checksumDifferences(a: Checksum, b: Checksum): string[] {
  const out: string[] = [];
  for (const key of ["rows", "frequencySum", "recencyDays", "tDays", "rowHash"] as const) {
    if (a[key] !== b[key]) out.push(`${key} ${a[key]} vs ${b[key]}`);
  }
  if (Math.abs(a.monetarySum - b.monetarySum) > 1e-9 * Math.max(1, Math.abs(b.monetarySum))) {
    out.push(`monetary value sum ${a.monetarySum} vs ${b.monetarySum}`);
  }
  return out;
}

export interface StrataSample {
  readonly total: Timing;
  /** The sql step's own duration as the run recorded it (millisecond clock). */
  readonly stepMs: number;
  readonly checksum: Checksum;
}

/**
 * One Strata run in a fresh project folder under `dir`: `.strata/` (metadata in SQLite, the
 * `warehouse` DuckDB file) and a `files` storage `lake` on the CSV's folder. Only runPipeline is
 * timed; the summary is checked afterwards, on the dataset's live version.
 */
export async function runStrata(dir: string, w: Work): Promise<StrataSample> {
  const projectDir = join(dir, "project");
  const stateDir = join(projectDir, ".strata");
  mkdirSync(stateDir, { recursive: true });
  const lake = storage("lake", { technology: "files", format: "files", options: { path: dirname(w.file) } });
  const workspace = openWorkspace(stateDir, { projectDir, storages: [lake] });
  try {
    const stop = timer();
    const result = await runPipeline(w.pipeline, { workspace });
    const total = stop();
    if (result.status !== "succeeded") {
      const failed = result.steps.find((s) => s.error);
      throw new Error(`the Strata run ${result.status}: ${failed?.error?.message ?? result.error?.message ?? "no error recorded"}`);
    }
    // The same database instance as the workspace's (DuckDB's instance cache), after the clock stopped.
    const instance = await DuckDBInstance.fromCache(join(stateDir, "warehouse.duckdb"));
    const connection = await instance.connect();
    try {
      return {
        total,
        stepMs: result.steps[0]?.durationMs ?? total.wallMs,
        checksum: await checksumOf(connection, `"datasets"."customer_summary"`),
      };
    } finally {
      connection.closeSync();
      instance.closeSync();
      await result.close();
    }
  } finally {
    await workspace.close();
  }
}

export interface DuckDbSample {
  readonly total: Timing;
  readonly load: Timing;
  readonly rfm: Timing;
  readonly checksum: Checksum;
}

export interface DuckDbOptions {
  /** The load query, `create table tx as` this; default: the typed read_csv (the profile tries others). */
  readonly load?: string;
  /**
   * Where the tables go. `file` (the baseline): a fresh database file, as Strata's warehouse.
   * `memory`: an in-memory database, nothing written to disk. `raw-in-memory`: the database file
   * for the summary, but `tx` in an attached in-memory database.
   */
  readonly storage?: "file" | "memory" | "raw-in-memory";
}

/**
 * Raw DuckDB, the floor: the CSV loaded into a table with the schema's types, then the RFM query
 * into a table. Timed from opening the database to the summary (closing it is not timed, nor is
 * it for Strata).
 */
export async function runDuckDb(dir: string, w: Work, options: DuckDbOptions = {}): Promise<DuckDbSample> {
  const where = options.storage ?? "file";
  const stop = timer();
  const instance = await DuckDBInstance.create(where === "memory" ? ":memory:" : join(dir, "raw.duckdb"));
  const connection = await instance.connect();
  try {
    const stopLoad = timer();
    if (where === "raw-in-memory") await connection.run(`attach ':memory:' as scratch`);
    const tx = where === "raw-in-memory" ? "scratch.tx" : "tx";
    await connection.run(`create table ${tx} as ${options.load ?? w.duckdbLoad}`);
    const loaded = stopLoad();
    const stopRfm = timer();
    await connection.run(`create table customer_summary as ${w.duckdbRfm.replace(/\bfrom tx\b/, `from ${tx}`)}`);
    const rfm = stopRfm();
    const total = stop();
    return { total, load: loaded, rfm, checksum: await checksumOf(connection, "customer_summary") };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
