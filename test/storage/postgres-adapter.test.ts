import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import type { OpenStorage, StorageContext } from "../../src/storage/adapter.js";
import { postgresAdapter } from "../../src/storage/postgres/adapter.js";
import type { StorageDefinition } from "../../src/storage/storage-definition.js";
import type { ResolvedQuery } from "../../src/storage/table-engine.js";
import { rejection } from "../helpers/errors.js";
import { closeEachTest } from "../helpers/resources.js";
import { postgresUrl, uniqueName } from "../helpers/services.js";

const storages = closeEachTest<OpenStorage>();

const def = (options: StorageDefinition["options"], format: StorageDefinition["format"] = "table"): StorageDefinition => ({
  name: "pg",
  technology: "postgres",
  format,
  options,
});
const context = (env: Record<string, string | undefined>): StorageContext => ({
  projectDir: tmpdir(),
  stateDir: join(tmpdir(), ".strata"),
  env,
});
const open = async (options: StorageDefinition["options"], env: Record<string, string | undefined>): Promise<OpenStorage> =>
  storages.track(await postgresAdapter.open(def(options), context(env)));

const q = (strings: TemplateStringsArray, ...parts: ResolvedQuery["parts"]): ResolvedQuery => ({ strings: [...strings], parts });
const never = (): AbortSignal => new AbortController().signal;

/** A loopback port nothing listens on. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

describe("postgres adapter: definitions", () => {
  it("serves tables", () => {
    expect(postgresAdapter.technology).toBe("postgres");
    expect(postgresAdapter.formats).toEqual(["table"]);
  });

  it("checks its options, one message per problem", () => {
    expect(postgresAdapter.check(def({ urlEnv: "DATABASE_URL" }))).toEqual([]);
    expect(postgresAdapter.check(def({ urlEnv: "DATABASE_URL", schema: "scores", poolSize: 4 }))).toEqual([]);
    expect(postgresAdapter.check(def({}))).toEqual([
      'postgres storage "pg": option "urlEnv" is required: the name of the environment variable that holds its postgres:// URL',
    ]);
    expect(postgresAdapter.check(def({ urlEnv: "postgres://u:secret@db/x" }))).toEqual([
      'postgres storage "pg": option "urlEnv" must be the name of an environment variable (letters, digits and _), not the URL itself',
    ]);
    expect(postgresAdapter.check(def({ urlEnv: "U", url: "postgres://x", host: "db" }))).toEqual([
      'postgres storage "pg": unknown option "url" (known: urlEnv, schema, poolSize)',
      'postgres storage "pg": unknown option "host" (known: urlEnv, schema, poolSize)',
    ]);
    expect(postgresAdapter.check(def({ urlEnv: "U", schema: "Bad Name" }))).toEqual([
      'postgres storage "pg": option "schema" must be a lower-case name (letters, digits and _, starting with a letter or _)',
    ]);
    for (const poolSize of [0, 2.5, "10", -1]) {
      expect(postgresAdapter.check(def({ urlEnv: "U", poolSize }))).toEqual([
        'postgres storage "pg": option "poolSize" must be a whole number from 1 to 1000',
      ]);
    }
  });

  it("refuses to open a bad definition or another format", async () => {
    const invalid = await rejection(postgresAdapter.open(def({}), context({})));
    expect(invalid.code).toBe("STORAGE_INVALID");
    expect(invalid.message).toContain('option "urlEnv" is required');
    expect((await rejection(postgresAdapter.open(def({ urlEnv: "U" }, "kv"), context({ U: postgresUrl() })))).code).toBe(
      "STORAGE_FORMAT_UNSUPPORTED",
    );
  });

  it("an unset urlEnv is STORAGE_UNAVAILABLE naming the storage and the variable", async () => {
    const error = await rejection(postgresAdapter.open(def({ urlEnv: "STRATA_NOT_SET_ANYWHERE" }), context({})));
    expect(error.code).toBe("STORAGE_UNAVAILABLE");
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('storage "pg" (postgres): the environment variable STRATA_NOT_SET_ANYWHERE is not set');
  });

  it("a variable that holds something else than a postgres URL is STORAGE_INVALID, without echoing it", async () => {
    const error = await rejection(postgresAdapter.open(def({ urlEnv: "PGURL" }), context({ PGURL: "mysql://root:hunter2@db/x" })));
    expect(error.code).toBe("STORAGE_INVALID");
    expect(error.message).toContain("PGURL");
    expect(error.message).not.toContain("hunter2");
  });
});

describe("postgres adapter: a running server", () => {
  it("health is ok with the server version", async () => {
    const storage = await open({ urlEnv: "PGURL" }, { PGURL: postgresUrl() });
    const health = await storage.health();
    expect(health.ok).toBe(true);
    expect(health.detail).toMatch(/^postgres \d+\.\d+ at 127\.0\.0\.1:\d+\/postgres, schema public$/);
  });

  it("unqualified names in SQL resolve in the storage's schema", async () => {
    const schema = uniqueName("pgschema");
    const storage = await open({ urlEnv: "PGURL", schema, poolSize: 2 }, { PGURL: postgresUrl() });
    const tables = storage.tables!;
    try {
      await tables.createTableFromRows({ schema, table: "src" }, [{ n: 1 }, { n: 2 }]);
      expect(await tables.createTableAs({ schema, table: "out" }, q`select sum(n) as total from src`, never())).toBe(1);
      expect(await tables.readRows({ schema, table: "out" })).toEqual([{ total: 3 }]);
      // With a pool of two, more concurrent queries than connections wait their turn.
      const counts = await Promise.all(Array.from({ length: 6 }, () => tables.count({ schema, table: "src" })));
      expect(counts).toEqual([2, 2, 2, 2, 2, 2]);
    } finally {
      const client = new pg.Client({ connectionString: postgresUrl() });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    }
  });

  it("a database that does not exist is STORAGE_UNAVAILABLE", async () => {
    const url = new URL(postgresUrl());
    url.pathname = "/no_such_database";
    const storage = await open({ urlEnv: "PGURL" }, { PGURL: url.toString() });
    const error = await rejection(storage.tables!.count({ schema: "public", table: "t" }));
    expect(error.code).toBe("STORAGE_UNAVAILABLE");
    expect(error.message).toContain("no_such_database");
    expect((await storage.health()).ok).toBe(false);
  });
});

describe("postgres adapter: a server that is down", () => {
  it("opens, reports itself down, and fails every call with STORAGE_UNAVAILABLE naming the storage and host, not the password", async () => {
    const port = await freePort();
    const storage = await open({ urlEnv: "PGURL" }, { PGURL: `postgres://strata:s3cret-pw@127.0.0.1:${port}/app` });
    const health = await storage.health();
    expect(health.ok).toBe(false);
    expect(health.detail).toContain(`127.0.0.1:${port}`);
    expect(health.detail).not.toContain("s3cret-pw");

    const tables = storage.tables!;
    const calls: Promise<unknown>[] = [
      tables.count({ schema: "public", table: "t" }),
      tables.readRows({ schema: "public", table: "t" }),
      tables.exists({ schema: "public", table: "t" }),
      tables.createTableAs({ schema: "s", table: "t" }, q`select 1`, never()),
      tables.createTableFromRows({ schema: "s", table: "t" }, [{ a: 1 }]),
      tables.activate({ schema: "s", table: "a" }, { schema: "s", table: "t" }),
      tables.aliasTarget({ schema: "s", table: "a" }),
      (async () => {
        for await (const _ of tables.batches({ schema: "s", table: "t" }));
      })(),
    ];
    for (const call of calls) {
      const error = await rejection(call);
      expect(error.code).toBe("STORAGE_UNAVAILABLE");
      expect(error.retryable).toBe(true);
      expect(error.message).toContain('storage "pg"');
      expect(error.message).toContain(`127.0.0.1:${port}`);
      expect(error.message).not.toContain("s3cret-pw");
      expect(JSON.stringify(error.details)).not.toContain("s3cret-pw");
    }
  });
});

/**
 * A PostgreSQL server of this test's own on a free port, to stop and start again: the way
 * scripts/services.sh starts the shared one (as the postgres user when run as root).
 */
class ThrowawayPostgres {
  readonly dir = mkdtempSync(join(tmpdir(), "strata-pg-recovery-"));
  readonly bin: string;
  constructor(readonly port: number) {
    const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(a) - Number(b));
    this.bin = `/usr/lib/postgresql/${versions.at(-1)}/bin`;
    if (process.getuid?.() === 0)
      chownSync(
        this.dir,
        Number(execFileSync("id", ["-u", "postgres"]).toString()),
        Number(execFileSync("id", ["-g", "postgres"]).toString()),
      );
    this.#run("initdb", ["-D", join(this.dir, "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
  }

  #run(tool: string, args: string[]): void {
    const command = join(this.bin, tool);
    if (process.getuid?.() === 0) execFileSync("runuser", ["-u", "postgres", "--", command, ...args], { stdio: "pipe" });
    else execFileSync(command, args, { stdio: "pipe" });
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  start(): void {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off`;
    this.#run("pg_ctl", ["-D", join(this.dir, "data"), "-l", join(this.dir, "log"), "-w", "-t", "30", "-o", options, "start"]);
  }

  stop(): void {
    this.#run("pg_ctl", ["-D", join(this.dir, "data"), "-m", "fast", "-w", "stop"]);
  }

  remove(): void {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe("postgres adapter: recovery", () => {
  let server: ThrowawayPostgres | undefined;
  afterAll(() => server?.remove());

  it("fails while the server is down and works again, on the same storage, once it is back", async () => {
    server = new ThrowawayPostgres(await freePort());
    server.start();
    const storage = await open({ urlEnv: "PGURL" }, { PGURL: server.url });
    const tables = storage.tables!;
    const t = { schema: "public", table: "kept" };
    await tables.createTableFromRows(t, [{ n: 1 }, { n: 2 }]);
    expect(await tables.count(t)).toBe(2);

    server.stop();
    const down = await rejection(tables.count(t));
    expect(down.code).toBe("STORAGE_UNAVAILABLE");
    expect(down.message).toContain(`127.0.0.1:${server.port}`);
    expect((await storage.health()).ok).toBe(false);

    server.start();
    // The pool dropped the connections that broke; new ones reach the restarted server.
    expect(await tables.count(t)).toBe(2);
    expect((await storage.health()).ok).toBe(true);
    await tables.createTableAs({ schema: "public", table: "more" }, q`select n * 10 as n from ${{ table: t }}`, never());
    expect(await tables.readRows({ schema: "public", table: "more" })).toEqual([{ n: 10 }, { n: 20 }]);
  }, 60_000);
});
