import { spawn } from "node:child_process";
import { connect, createServer, type Socket } from "node:net";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isStrataError } from "../../src/errors/strata-error.js";
import { openWorkspace } from "../../src/runtime/workspace.js";
import type { MetadataStores } from "../../src/storage/metadata-stores.js";
import { PostgresMetadataDb } from "../../src/storage/postgres/metadata-db.js";
import { METADATA_MIGRATIONS } from "../../src/storage/postgres/metadata-schema.js";
import { openPostgresMetadata } from "../../src/storage/postgres/metadata-stores.js";
import { openSqliteMetadata } from "../../src/storage/sqlite/metadata-stores.js";
import { rejection } from "../helpers/errors.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";
import { postgresUrl, uniqueName } from "../helpers/services.js";
import { eventually, freePort } from "../helpers/waiting.js";
import { metadataStoreSuite } from "./metadata-store.suite.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const tempDir = tempDirEachTest("strata-metadata-");
const closing = closeEachTest<{ close(): Promise<void> }>();
/** Closes whatever it is given after the test, and hands it back with its own type. */
const track = <T extends { close(): Promise<void> }>(resource: T): T => (closing.track(resource), resource);

/** Runs SQL on the test server from a connection of its own. */
async function onServer<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresUrl() });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function dropSchema(schema: string): Promise<void> {
  await onServer((c) => c.query(`drop schema if exists "${schema}" cascade`));
}

metadataStoreSuite("sqlite", () => {
  const path = join(tempDir(), ".strata", "metadata.sqlite");
  return { open: () => openSqliteMetadata(path) };
});

metadataStoreSuite("postgres", () => {
  const schema = uniqueName("meta");
  return { open: () => openPostgresMetadata({ url: postgresUrl(), schema, poolSize: 4 }), remove: () => dropSchema(schema) };
});

/**
 * Writers in processes of their own, started together on one metadata database: each allocates
 * versions of one dataset and registers versions of one model, then prints the numbers it got.
 */
async function writeFromProcesses(target: object, processes: number, each: number): Promise<{ versions: number[]; models: number[] }> {
  const script = join(ROOT, "test", "helpers", "metadata-writer.ts");
  const children = Array.from({ length: processes }, () => {
    const child = spawn(process.execPath, ["--import", "tsx", script, JSON.stringify({ ...target, each })], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise<{ versions: number[]; models: number[] }>((done, fail) =>
      child.on("exit", (code) => (code === 0 ? done(JSON.parse(stdout) as never) : fail(new Error(`writer exited ${code}: ${stderr}`)))),
    );
  });
  const results = await Promise.all(children);
  return { versions: results.flatMap((r) => r.versions), models: results.flatMap((r) => r.models) };
}

const sorted = (numbers: readonly number[]): number[] => [...numbers].sort((a, b) => a - b);
const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe("metadata store: processes sharing one database", () => {
  let schema: string;
  beforeEach(() => {
    schema = uniqueName("meta");
  });
  afterEach(() => dropSchema(schema));

  it("sqlite: processes writing one file at once get distinct version numbers", async () => {
    const path = join(tempDir(), "metadata.sqlite");
    track(openSqliteMetadata(path)); // created before, as `strata` does on first use
    const { versions, models } = await writeFromProcesses({ technology: "sqlite", path }, 3, 20);
    expect(sorted(versions)).toEqual(oneTo(60));
    expect(sorted(models)).toEqual(oneTo(60));
  });

  it("postgres: processes starting together on a new schema migrate it once and get distinct version numbers", async () => {
    const { versions, models } = await writeFromProcesses({ technology: "postgres", url: postgresUrl(), schema }, 3, 20);
    expect(sorted(versions)).toEqual(oneTo(60));
    expect(sorted(models)).toEqual(oneTo(60));
    const migrations = await onServer((c) => c.query<{ version: number }>(`select version from "${schema}".migrations order by version`));
    expect(migrations.rows.map((r) => r.version)).toEqual(METADATA_MIGRATIONS.map((_m, i) => i + 1));
    // The checks no read needs are gone (a run's step rows' foreign key, the log lines' primary
    // key); the keys the writes find rows by are kept.
    const constraints = await onServer((c) =>
      c.query<{ name: string }>(
        `select cl.relname || ' ' || con.contype::text as name from pg_constraint con
         join pg_class cl on cl.oid = con.conrelid join pg_namespace ns on ns.oid = con.connamespace
         where ns.nspname = $1 and cl.relname in ('runs', 'run_steps', 'attempts', 'logs') order by 1`,
        [schema],
      ),
    );
    expect(constraints.rows.map((r) => r.name)).toEqual(["attempts p", "run_steps p", "runs p"]);
  });

  it("sqlite: a dataset's write lock held by a process that dies is taken by the next writer", async () => {
    const path = join(tempDir(), "metadata.sqlite");
    const stores = track(openSqliteMetadata(path));
    await holdThenDie({ technology: "sqlite", path });
    await (await stores.catalog.holdDataset("contended")).release();
  });

  it("sqlite: a write lock naming a pid that a later process has been given is taken by the next writer", async () => {
    const path = join(tempDir(), "metadata.sqlite");
    const stores = track(openSqliteMetadata(path));
    const later = spawn("sleep", ["30"], { stdio: "ignore" }); // alive, and started after the lock below was taken
    try {
      lockRowAnHourOld(path, later.pid!);
      await (await stores.catalog.holdDataset("contended")).release();
    } finally {
      later.kill("SIGKILL");
    }
  });

  it("sqlite: a write lock left under this process's own pid by an earlier process (a restarted container) is taken", async () => {
    const path = join(tempDir(), "metadata.sqlite");
    const stores = track(openSqliteMetadata(path));
    lockRowAnHourOld(path, process.pid);
    await (await stores.catalog.holdDataset("contended")).release();
  });

  it("postgres: a write lock whose session is ended under it says so, and another writer can take it", async () => {
    const stores = track(openPostgresMetadata({ url: postgresUrl(), schema }));
    const hold = await stores.catalog.holdDataset("contended");
    expect(() => hold.ensure()).not.toThrow();
    // The session holding this lock, and no other test's (keys are stored as oids: unsigned).
    const terminated = await onServer((c) =>
      c.query(
        `select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and granted
           and classid::bigint = (hashtext($1)::bigint + 4294967296) % 4294967296
           and objid::bigint = (hashtext($2)::bigint + 4294967296) % 4294967296`,
        [`strata.${schema}`, "dataset:contended"],
      ),
    );
    expect(terminated.rowCount).toBe(1);
    // STORAGE_UNAVAILABLE, naming the lock, once the client has seen its session end.
    await eventually(async () => expect(() => hold.ensure()).toThrow(/the lock on dataset:contended was lost/));
    await (await track(openPostgresMetadata({ url: postgresUrl(), schema })).catalog.holdDataset("contended")).release();
    await hold.release();
  });

  it("postgres: a dataset's write lock held by a process that dies is taken by the next writer", async () => {
    const stores = track(openPostgresMetadata({ url: postgresUrl(), schema }));
    await holdThenDie({ technology: "postgres", url: postgresUrl(), schema });
    await (await stores.catalog.holdDataset("contended")).release();
  });
});

/** A row holding the write lock of "contended" in a SQLite metadata file, taken an hour ago by `pid` of this machine. */
function lockRowAnHourOld(path: string, pid: number): void {
  const db = new Database(path);
  db.prepare(`insert into dataset_locks (dataset, token, host, pid, taken_at) values (?, ?, ?, ?, ?)`).run(
    "contended",
    "an-hour-ago",
    hostname(),
    pid,
    Date.now() - 3_600_000,
  );
  db.close();
}

/** Starts a process holding the write lock of "contended", kills it once it holds it, and resolves then. */
async function holdThenDie(target: object): Promise<void> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "test", "helpers", "dataset-lock-holder.ts"), JSON.stringify(target)],
    {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((held, fail) => {
    child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("held") && held());
    child.on("exit", (code) => fail(new Error(`the holder exited (${code}) before holding: ${stderr}`)));
  });
  const gone = new Promise((done) => child.once("exit", done));
  child.kill("SIGKILL");
  await gone;
}

describe("postgres metadata store", () => {
  let schema: string;
  beforeEach(() => {
    schema = uniqueName("meta");
  });
  afterEach(() => dropSchema(schema));
  const open = (options: { url?: string; schema?: string } = {}): MetadataStores =>
    track(openPostgresMetadata({ url: options.url ?? postgresUrl(), schema: options.schema ?? schema }));

  it("plans a step's writes as key lookups even on empty tables, so a plan kept while they grow stays one", async () => {
    const db = new PostgresMetadataDb({ url: postgresUrl(), schema });
    try {
      // The generic plan of a prepared statement, as Postgres makes it after five runs, on empty tables.
      const row = await db.transaction("test", "explain", async (query) => {
        await query(`set local plan_cache_mode = force_generic_plan`);
        await query(`prepare step_write (text[], text[], text[]) as
           update run_steps set status = u.status from unnest($1, $2, $3) as u (run_id, step, status)
           where run_steps.run_id = u.run_id and run_steps.step = u.step`);
        const [explained] = await query<{ "QUERY PLAN": unknown }>(`explain (format json) execute step_write ('{r1}', '{a}', '{running}')`);
        await query(`deallocate step_write`);
        return explained;
      });
      const plan = JSON.stringify(row!["QUERY PLAN"]);
      expect(plan).toContain('"Index Name":"run_steps_pkey"');
      expect(plan).not.toContain('"Node Type":"Seq Scan"');
    } finally {
      await db.close();
    }
  });

  it("plans prepared writes once (generic plans), and reads afresh (their optional filters need the values)", async () => {
    const db = new PostgresMetadataDb({ url: postgresUrl(), schema });
    try {
      const mode = async (prepared: boolean): Promise<unknown> =>
        (
          await db.query<{ plan_cache_mode: string }>(
            "test",
            "show",
            `select current_setting('plan_cache_mode') as plan_cache_mode`,
            [],
            prepared,
          )
        )[0]?.plan_cache_mode;
      expect(await mode(true)).toBe("force_generic_plan");
      expect(await mode(false)).toBe("auto");
    } finally {
      await db.close();
    }
  });

  it("creates its schema and tables at the first call, not when opened", async () => {
    const stores = open();
    const exists = async (): Promise<boolean> =>
      (await onServer((c) => c.query(`select 1 from information_schema.schemata where schema_name = $1`, [schema]))).rowCount === 1;
    expect(await exists()).toBe(false);
    expect(await stores.runs.listRuns()).toEqual([]);
    expect(await exists()).toBe(true);
    const tables = await onServer((c) =>
      c.query<{ table_name: string }>(`select table_name from information_schema.tables where table_schema = $1 order by 1`, [schema]),
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual([
      "api_keys",
      "attempts",
      "dataset_live",
      "dataset_versions",
      "lineage",
      "logs",
      "migrations",
      "model_aliases",
      "models",
      "run_steps",
      "runs",
      "storages",
      "validation_reports",
      "version_counters",
    ]);
    expect(stores.location).toMatch(new RegExp(`^postgres 127\\.0\\.0\\.1:\\d+/postgres, schema ${schema}$`));
  });

  it("keeps everything across a reopen, and a second open does not migrate again", async () => {
    const first = open();
    await first.runs.createRun(
      {
        id: "r1",
        pipeline: "p",
        status: "running",
        trigger: { kind: "manual", id: "t" },
        params: {},
        inputParams: {},
        owner: null,
        resumedFrom: null,
        startedAt: 1,
        endedAt: null,
        error: null,
      },
      ["a"],
    );
    await first.catalog.beginVersion({ dataset: "d", storage: "warehouse", runId: "r1", step: "a", partition: null, at: 1 });
    await first.close();
    const second = open();
    expect((await second.runs.getRun("r1")).pipeline).toBe("p");
    expect(await second.catalog.beginVersion({ dataset: "d", storage: "warehouse", runId: null, step: null, partition: null, at: 2 })).toBe(
      2,
    );
    const migrations = await onServer((c) => c.query(`select version from "${schema}".migrations`));
    expect(migrations.rowCount).toBe(METADATA_MIGRATIONS.length);
  });

  it("keeps schemas apart: two projects on one database do not see each other's runs", async () => {
    const other = uniqueName("meta");
    try {
      const a = open();
      const b = open({ schema: other });
      await a.catalog.beginVersion({ dataset: "d", storage: "warehouse", runId: null, step: null, partition: null, at: 1 });
      expect(await b.catalog.datasets()).toEqual([]);
      expect(await b.catalog.beginVersion({ dataset: "d", storage: "warehouse", runId: null, step: null, partition: null, at: 1 })).toBe(1);
    } finally {
      await closing.closeAll();
      await dropSchema(other);
    }
  });

  it("defaults to the schema strata, and refuses a schema name that would need quoting", () => {
    expect(new PostgresMetadataDb({ url: postgresUrl() }).schema).toBe("strata");
    let thrown: unknown;
    try {
      openPostgresMetadata({ url: postgresUrl(), schema: "Bad-Name" });
    } catch (error) {
      thrown = error;
    }
    expect(isStrataError(thrown) && thrown.code).toBe("STORAGE_INVALID");
    expect((thrown as Error).message).toContain(`schema "Bad-Name" must be a lower-case name`);
  });

  it("a server that is down is STORAGE_UNAVAILABLE naming host:port, never the password, for every store", async () => {
    const port = await freePort();
    const stores = open({ url: `postgres://strata:s3cret-pw@127.0.0.1:${port}/meta` });
    const calls: Promise<unknown>[] = [
      stores.runs.listRuns(),
      stores.runs.getRun("r1"),
      stores.runs.appendLogs([{ runId: "r1", step: null, attempt: null, time: 1, level: 30, line: "{}" }]),
      stores.catalog.beginVersion({ dataset: "d", storage: "warehouse", runId: null, step: null, partition: null, at: 1 }),
      stores.catalog.listStorages(),
      stores.models.register({ name: "m", algorithm: "x", params: {}, runId: null, step: null, at: 1 }),
      stores.models.get("m", "live"),
      stores.apiKeys.activeByHash(),
      stores.apiKeys.create("k", ["invoke"], 1),
    ];
    for (const call of calls) {
      const error = await rejection(call);
      expect(error.code).toBe("STORAGE_UNAVAILABLE");
      expect(error.retryable).toBe(true);
      expect(error.status).toBe(503);
      expect(error.message).toContain(`127.0.0.1:${port}/meta`);
      expect(error.message).not.toContain("s3cret-pw");
      expect(JSON.stringify(error.details)).not.toContain("s3cret-pw");
      expect(error.details).toMatchObject({ server: `127.0.0.1:${port}/meta`, schema });
    }
  });

  it("works once the server is reachable again, migrating then, without being reopened", async () => {
    // A loopback proxy to the test server stands for a server that is down, then back.
    const port = await freePort();
    const target = new URL(postgresUrl());
    const sockets = new Set<Socket>();
    const proxy = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("error", () => socket.destroy());
        socket.on("close", () => sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
    });
    const stores = open({ url: `postgres://postgres@127.0.0.1:${port}${target.pathname}` });
    try {
      expect((await rejection(stores.runs.listRuns())).code).toBe("STORAGE_UNAVAILABLE");
      await new Promise<void>((done) => proxy.listen(port, "127.0.0.1", done));
      expect(
        await stores.catalog.beginVersion({ dataset: "d", storage: "warehouse", runId: null, step: null, partition: null, at: 1 }),
      ).toBe(1);
      expect(await stores.runs.listRuns()).toEqual([]);
    } finally {
      await stores.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((done) => proxy.close(done));
    }
  });

  it("a statement that runs past the timeout is STORE_FAILED; a lock wait and a migration are not bound by it", async () => {
    const db = new PostgresMetadataDb({ url: postgresUrl(), schema, statementTimeoutMs: 300 });
    const other = new PostgresMetadataDb({ url: postgresUrl(), schema, statementTimeoutMs: 300 });
    try {
      await db.ready(); // migrating runs with no timeout
      const error = await rejection(db.query("test", "sleep", `select pg_sleep(2)`));
      expect(error.code).toBe("STORE_FAILED");
      expect(error.message).toMatch(/sleep failed: .*statement timeout/);
      const first = await db.advisoryHold("test", "hold", "k");
      const second = other.advisoryHold("test", "hold", "k");
      await new Promise((done) => setTimeout(done, 600)); // twice the timeout, waiting for the lock
      await first.release();
      await (await second).release();
    } finally {
      await db.close();
      await other.close();
    }
  });

  it("after close, a call is STORAGE_UNAVAILABLE saying so", async () => {
    const stores = open();
    await stores.runs.listRuns();
    await stores.close();
    await stores.close();
    const error = await rejection(stores.runs.listRuns());
    expect(error.code).toBe("STORAGE_UNAVAILABLE");
    expect(error.message).toContain("is closed");
  });

  it("openWorkspace keeps a run's metadata in Postgres when told to", async () => {
    const workspace = track(openWorkspace(tempDir(), { metadata: { technology: "postgres", url: postgresUrl(), schema } }));
    await workspace.catalog.addStorage({ name: "lake", technology: "files", format: "files", options: { path: "data" } }, 1);
    const { key } = await workspace.apiKeys.create("svc", ["invoke"], 1);
    const seen = open();
    expect((await seen.catalog.listStorages()).map((s) => s.name)).toEqual(["lake"]);
    expect((await seen.apiKeys.list()).map((k) => [k.name, k.hint])).toEqual([["svc", key.slice(0, 12)]]);
  });
});
