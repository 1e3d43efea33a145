import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { postgresUrl, uniqueName } from "../helpers/services.js";
import { makeProject, strata, type CliResult } from "./helpers.js";

interface RunJson {
  runId: string;
  status: string;
  error: { code: string; message: string } | null;
  steps: { name: string; status: string; output: unknown }[];
}
interface Version {
  version: number;
  storage: string;
  status: string;
  rows: number | null;
  runId: string;
  step: string;
  live: boolean;
}
interface Lineage {
  step: string;
  dataset: string;
  version: number;
  direction: "read" | "write";
}

// Each test runs several strata processes (about a second each, more on a busy machine).
const SLOW = { timeout: 120_000 };

let project: ReturnType<typeof makeProject>;
beforeEach(() => {
  project = makeProject("data-project");
});
afterEach(() => project.cleanup());

const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => strata([...args, "--project", project.dir], { env });

async function run(pipeline: string, ...params: string[]): Promise<{ code: number; run: RunJson }> {
  const result = await cli(["run", pipeline, "--json", ...params.flatMap((p) => ["--param", p])]);
  return { code: result.code, run: JSON.parse(result.stdout) as RunJson };
}

const json = async <T>(args: string[]): Promise<T> => JSON.parse((await cli([...args, "--json"])).stdout) as T;
const versions = (dataset: string): Promise<Version[]> => json<Version[]>(["dataset", "versions", dataset]);
const live = async (dataset: string): Promise<number | undefined> => (await versions(dataset)).find((v) => v.live)?.version;

/** What the `reader` pipeline sees of customer_totals, and the version its run read. */
async function readTotals(): Promise<{ rows: unknown; version: number | undefined }> {
  const { code, run: read } = await run("reader");
  expect(code).toBe(0);
  const lineage = (await json<{ lineage: Lineage[] }>(["runs", "show", read.runId])).lineage;
  return { rows: read.steps[0]!.output, version: lineage.find((l) => l.dataset === "customer_totals")?.version };
}

const ALL_ORDERS = [
  { customer: "ann", orders: 2, total: 15 },
  { customer: "bob", orders: 2, total: 25 },
  { customer: "cyd", orders: 1, total: 100 },
];
const ORDERS_OF_6_OR_MORE = [
  { customer: "ann", orders: 1, total: 10.5 },
  { customer: "bob", orders: 1, total: 20 },
  { customer: "cyd", orders: 1, total: 100 },
];

describe("datasets written by runs", () => {
  it("reads raw CSV, writes a table and a kv dataset in versions, and records each run's lineage", SLOW, async () => {
    const first = await run("orders");
    expect(first.code).toBe(0);
    const second = await run("orders", "minAmount=6");
    expect(second.code).toBe(0);

    expect(await json<unknown[]>(["dataset", "list"])).toEqual([
      { name: "customer_facts", storage: "kv", live: 2, rows: 3 },
      { name: "customer_totals", storage: "warehouse", live: 2, rows: 3 },
      { name: "number_docs", storage: "kv", live: null, rows: null },
      { name: "numbers", storage: "warehouse", live: null, rows: null },
      { name: "pg_totals", storage: "pg", live: null, rows: null },
      { name: "raw_orders", storage: "lake", live: null, rows: null },
      { name: "served_totals", storage: "serving", live: null, rows: null },
    ]);
    for (const [dataset, step] of [
      ["customer_totals", "totals"],
      ["customer_facts", "publish"],
    ] as const) {
      expect((await versions(dataset)).map((v) => [v.version, v.status, v.rows, v.runId, v.step, v.live])).toEqual([
        [1, "ready", 3, first.run.runId, step, false],
        [2, "ready", 3, second.run.runId, step, true],
      ]);
    }

    const show = await cli(["dataset", "show", "customer_totals"]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain("storage warehouse, key customer, keeps 3 versions");
    expect(show.stdout).toMatch(/customer\s+string\s+no/);
    expect(show.stdout).toMatch(/orders\s+bigint\s+no/);
    expect(show.stdout).toMatch(/total\s+double\s+no/);
    expect(show.stdout).toMatch(new RegExp(`●\\s+2\\s+ready\\s+3\\s+${second.run.runId} \\(totals\\)`));
    expect(show.stdout).toMatch(new RegExp(`\\n\\s+1\\s+ready\\s+3\\s+${first.run.runId} \\(totals\\)`));
    const raw = await cli(["dataset", "show", "raw_orders"]);
    expect(raw.stdout).toMatch(/amount\s+double\s+no\s+>= 0/);
    expect(raw.stdout).toContain("no versions yet");

    const shown = await json<{ lineage: Lineage[] }>(["runs", "show", second.run.runId]);
    expect(shown.lineage.map((l) => [l.step, l.direction, l.dataset, l.version])).toEqual([
      ["totals", "read", "raw_orders", 0],
      ["totals", "write", "customer_totals", 2],
      ["publish", "write", "customer_facts", 2],
    ]);
    expect(await readTotals()).toEqual({ rows: ORDERS_OF_6_OR_MORE, version: 2 });
    expect((await cli(["runs", "show", second.run.runId])).stdout).toMatch(/totals\s+wrote\s+customer_totals\s+2/);

    const missing = await cli(["dataset", "show", "nope"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('DATASET_NOT_FOUND: no dataset "nope"');
  });

  it("says after a run which dataset versions it wrote and where they are, and shows a list of records as a table", SLOW, async () => {
    const human = await cli(["run", "orders"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/outputs:\n\s+dataset\s+version\s+rows\s+storage\s+where\n/);
    expect(human.stdout).toMatch(/customer_facts\s+v1 \(live\)\s+3\s+kv \(sqlite\)\s+\S*\.strata\/kv\.kv\.sqlite\n/);
    expect(human.stdout).toMatch(/customer_totals\s+v1 \(live\)\s+3\s+warehouse \(duckdb\)\s+\S*\.strata\/warehouse\.duckdb\n/);
    // The publish step wrote a dataset: it is under outputs:, not repeated as a result.
    expect(human.stdout).not.toContain("publish:");

    const { run: second } = await run("orders", "minAmount=6");
    expect((second as RunJson & { outputs: unknown[] }).outputs).toEqual([
      expect.objectContaining({ dataset: "customer_facts", version: 2, rows: 3, live: true, storage: "kv", technology: "sqlite" }),
      expect.objectContaining({ dataset: "customer_totals", version: 2, rows: 3, live: true, storage: "warehouse", technology: "duckdb" }),
    ]);

    const reader = await cli(["run", "reader"]);
    expect(reader.stdout).toMatch(/read:\n\s+customer\s+orders\s+total\n\s+ann\s+1\s+10\.5\n\s+bob\s+1\s+20\n\s+cyd\s+1\s+100\n/);
    expect(reader.stdout).not.toContain("outputs:"); // it wrote nothing
  });

  it("rolls back to a kept version, which readers then see; a version not kept is refused", SLOW, async () => {
    expect((await run("orders")).code).toBe(0);
    expect((await run("orders", "minAmount=6")).code).toBe(0);
    expect((await run("bad_write")).code).toBe(1); // version 3, failed
    expect(await readTotals()).toEqual({ rows: ORDERS_OF_6_OR_MORE, version: 2 });

    const rolled = await cli(["dataset", "rollback", "customer_totals", "1"]);
    expect(rolled.code).toBe(0);
    expect(rolled.stdout).toContain("dataset customer_totals: version 1 is live");
    expect(await live("customer_totals")).toBe(1);
    expect(await readTotals()).toEqual({ rows: ALL_ORDERS, version: 1 });
    const kvRolled = await cli(["dataset", "rollback", "customer_facts", "1", "--json"]);
    expect(JSON.parse(kvRolled.stdout)).toEqual({ dataset: "customer_facts", live: 1 });
    expect(await live("customer_facts")).toBe(1);

    for (const version of ["7", "3"]) {
      const refused = await cli(["dataset", "rollback", "customer_totals", version]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(
        `DATASET_VERSION_NOT_FOUND: dataset "customer_totals" has no version ${version} to roll back to (kept: 1, 2)`,
      );
    }
    const refused = await cli(["dataset", "rollback", "customer_totals", "7", "--json"]);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: "DATASET_VERSION_NOT_FOUND", details: { version: 7 } } });
    expect(await live("customer_totals")).toBe(1);
  });
});

describe("bad input to a dataset write", () => {
  it("names file, line, column and value of a raw value that is not a number, and the path of a missing file", SLOW, async () => {
    expect((await run("orders")).code).toBe(0);
    writeFileSync(join(project.dir, "data", "orders.csv"), "order_id,customer,amount\n1,ann,10.5\n2,bob,20\n3,cyd,twenty\n");
    const bad = await run("orders");
    expect(bad.code).toBe(1);
    expect(bad.run.error!.code).toBe("INGEST_COERCION_FAILED");
    expect(bad.run.error!.message).toContain('storage "lake", dataset "raw_orders": orders.csv line 4, column "amount": "twenty"');

    rmSync(join(project.dir, "data", "orders.csv"));
    const missing = await run("orders");
    expect(missing.code).toBe(1);
    expect(missing.run.error!.code).toBe("INGEST_FILE_NOT_FOUND");
    expect(missing.run.error!.message).toContain(join(project.dir, "data", "orders.csv"));
    expect((await versions("customer_totals")).map((v) => [v.version, v.live])).toEqual([[1, true]]);
  });

  it("refuses a step output that does not match the schema and keeps the previous version live", SLOW, async () => {
    expect((await run("orders")).code).toBe(0);
    const bad = await run("bad_write");
    expect(bad.code).toBe(1);
    expect(bad.run.error!.code).toBe("SCHEMA_MISMATCH");
    expect(bad.run.error!.message).toContain('column "orders" is VARCHAR, the schema says bigint; column "total" is missing');
    expect((await versions("customer_totals")).map((v) => [v.version, v.status, v.live])).toEqual([
      [1, "ready", true],
      [2, "failed", false],
    ]);
    expect(await readTotals()).toEqual({ rows: ALL_ORDERS, version: 1 });
  });
});

describe("a dataset in a postgres storage added with storage add", () => {
  it("is written by a sql step that runs in Postgres", SLOW, async () => {
    const env = { STRATA_TEST_POSTGRES_URL: postgresUrl() };
    const schema = uniqueName("s");
    const added = await cli(
      ["storage", "add", "pg", "--technology", "postgres", "--format", "table"].concat([
        "--url-env",
        "STRATA_TEST_POSTGRES_URL",
        "--option",
        `schema=${schema}`,
      ]),
      env,
    );
    expect(added.code).toBe(0);
    const written = await cli(["run", "pg_orders", "--json"], env);
    expect(written.code).toBe(0);
    const read = await cli(["run", "pg_reader", "--json"], env);
    expect(read.code).toBe(0);
    const rows = (JSON.parse(read.stdout) as RunJson).steps[0]!.output as { customer: string; total: number; engine: string }[];
    expect(rows.map((r) => [r.customer, r.total])).toEqual([
      ["ann", 15],
      ["bob", 25],
      ["cyd", 100],
    ]);
    for (const row of rows) expect(row.engine).toMatch(/^PostgreSQL \d+/); // DuckDB's version() is "v1..."
    expect((await versions("pg_totals")).map((v) => [v.version, v.storage, v.rows, v.live])).toEqual([[1, "pg", 3, true]]);
    // Its tables live in the storage's own schema, so projects sharing the database stay apart.
    const client = new pg.Client({ connectionString: postgresUrl() });
    await client.connect();
    try {
      const found = await client.query<{ table_name: string }>(
        "select table_name from information_schema.tables where table_schema = $1 order by table_name",
        [schema],
      );
      expect(found.rows.map((r) => r.table_name)).toEqual(["pg_totals", "pg_totals__v1"]);
    } finally {
      await client.end();
    }
  });
});
