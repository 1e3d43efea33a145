import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { postgresUrl, redisUrl, uniqueName } from "../helpers/services.js";
import { makeProject, strata, type CliResult } from "./helpers.js";
import { freePort } from "../helpers/waiting.js";

interface StorageStatus {
  definition: { name: string; technology: string; format: string; options: Record<string, unknown> };
  origin: "builtin" | "config" | "added";
  location: string | null;
  health: { ok: boolean; detail: string };
}

/** Every file under a folder, recursively, as raw bytes decoded leniently (SQLite and DuckDB files too). */
function filesUnder(dir: string): { path: string; text: string }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .map((path) => ({ path, text: readFileSync(path).toString("latin1") }));
}

// Each test runs several strata processes (about a second each, more on a busy machine).
const SLOW = { timeout: 120_000 };

let project: ReturnType<typeof makeProject>;
let env: Record<string, string>;
beforeEach(() => {
  project = makeProject("data-project");
  env = { STRATA_TEST_REDIS_URL: redisUrl(), STRATA_TEST_POSTGRES_URL: postgresUrl() };
});
afterEach(() => project.cleanup());

const cli = (args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> =>
  strata([...args, "--project", project.dir], { env: { ...env, ...extraEnv } });

async function list(extraEnv: Record<string, string> = {}): Promise<{ code: number; storages: StorageStatus[] }> {
  const result = await cli(["storage", "list", "--json"], extraEnv);
  return { code: result.code, storages: JSON.parse(result.stdout) as StorageStatus[] };
}

describe("strata storage list", () => {
  it("shows the built-in warehouse and kv and the config's files storage, each with its health", SLOW, async () => {
    const { code, storages } = await list();
    expect(code).toBe(0);
    expect(storages.map((s) => [s.definition.name, s.definition.technology, s.definition.format, s.origin, s.health.ok])).toEqual([
      ["warehouse", "duckdb", "table", "builtin", true],
      ["kv", "sqlite", "kv", "builtin", true],
      ["lake", "files", "files", "config", true],
    ]);
    expect(storages[2]!.health.detail).toBe("1 file");
    const text = await cli(["storage", "list"]);
    expect(text.code).toBe(0);
    expect(storages.map((s) => s.location)).toEqual([
      join(project.dir, ".strata", "warehouse.duckdb"),
      join(project.dir, ".strata", "kv.kv.sqlite"),
      join(project.dir, "data"),
    ]);
    expect(text.stdout).toMatch(/✔\s+warehouse\s+duckdb\s+table\s+builtin\s+\S+\/\.strata\/warehouse\.duckdb\s+duckdb v/);
    expect(text.stdout).toMatch(/✔\s+kv\s+sqlite\s+kv\s+builtin\s+\S+\/\.strata\/kv\.kv\.sqlite\s+sqlite \d/);
    expect(text.stdout).toMatch(/✔\s+lake\s+files\s+files\s+config\s+\S+\/data\s+1 file/);
  });
});

describe("strata storage add", () => {
  it("adds a redis kv storage in one call; new processes see it and write to it, with no config change", SLOW, async () => {
    const prefix = uniqueName("strata_cli");
    const added = await cli(
      ["storage", "add", "serving", "--technology", "redis", "--format", "kv"].concat([
        "--url-env",
        "STRATA_TEST_REDIS_URL",
        "--option",
        `prefix=${prefix}`,
      ]),
    );
    expect(added.code).toBe(0);
    expect(added.stdout).toContain("added storage serving (redis, kv): healthy, redis ");

    const { code, storages } = await list();
    expect(code).toBe(0);
    expect(storages.find((s) => s.definition.name === "serving")).toMatchObject({
      definition: { technology: "redis", format: "kv", options: { urlEnv: "STRATA_TEST_REDIS_URL", prefix } },
      origin: "added",
      location: `${new URL(redisUrl()).host}, keys ${prefix}:*`,
      health: { ok: true },
    });
    expect(readFileSync(join(project.dir, "strata.config.ts"), "utf8")).not.toContain("serving");

    // A pipeline whose dataset lives in the new storage runs in yet another process.
    const run = await cli(["run", "serve", "--json"]);
    expect(run.code).toBe(0);
    const shown = JSON.parse((await cli(["dataset", "show", "served_totals", "--json"])).stdout) as {
      versions: { version: number; storage: string; rows: number; live: boolean }[];
    };
    expect(shown.versions).toEqual([expect.objectContaining({ version: 1, storage: "serving", rows: 3, live: true })]);
    const redis = new Redis(redisUrl());
    try {
      expect((await redis.keys(`${prefix}*`)).length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });

  it("adds a postgres table storage with a schema of its own", SLOW, async () => {
    const schema = uniqueName("s");
    const added = await cli(
      ["storage", "add", "pg", "--technology", "postgres", "--format", "table"].concat([
        "--url-env",
        "STRATA_TEST_POSTGRES_URL",
        "--option",
        `schema=${schema}`,
        "--json",
      ]),
    );
    expect(added.code).toBe(0);
    const body = JSON.parse(added.stdout) as { storage: StorageStatus["definition"]; health: StorageStatus["health"] };
    expect(body.storage.options).toEqual({ urlEnv: "STRATA_TEST_POSTGRES_URL", schema });
    expect(body.health.ok).toBe(true);
    expect(body.health.detail).toContain(`schema ${schema}`);
    const { storages } = await list();
    expect(storages.find((s) => s.definition.name === "pg")).toMatchObject({ origin: "added", health: { ok: true } });
  });

  it("refuses bad definitions with exit 2 and a code that names the problem, adding nothing", SLOW, async () => {
    const add = (name: string, ...args: string[]) => cli(["storage", "add", name, ...args]);
    const redisKv = ["--technology", "redis", "--format", "kv"];
    expect((await add("serving", ...redisKv, "--url-env", "STRATA_TEST_REDIS_URL")).code).toBe(0);

    // [arguments, code, what the message says]; each runs in its own process, all at once.
    const cases: [string[], string, string][] = [
      [["serving", ...redisKv, "--url-env", "STRATA_TEST_REDIS_URL"], "STORAGE_EXISTS", 'a storage named "serving" exists already'],
      [["warehouse", "--technology", "duckdb", "--format", "table"], "STORAGE_EXISTS", '"warehouse" exists already'],
      [
        ["other", "--technology", "redis", "--format", "table", "--url-env", "STRATA_TEST_REDIS_URL"],
        "STORAGE_FORMAT_UNSUPPORTED",
        'redis does not serve the format "table" (it serves: kv)',
      ],
      [["other", ...redisKv], "STORAGE_INVALID", 'option "urlEnv" is required'],
      [
        ["other", ...redisKv, "--url-env", "STRATA_TEST_REDIS_URL", "--option", "colour=blue"],
        "STORAGE_INVALID",
        'unknown option "colour" (known: urlEnv, prefix)',
      ],
      [["other", ...redisKv, "--option", "url=redis://127.0.0.1"], "STORAGE_INVALID", "secrets never go in options"],
      [["other", ...redisKv, "--url-env", "X", "--option", "prefix"], "STORAGE_INVALID", "not of the form name=value"],
    ];
    const results = await Promise.all(cases.map(([args]) => add(args[0]!, ...args.slice(1))));
    for (const [i, [, code, message]] of cases.entries()) {
      const result = results[i]!;
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`error ${code}: `);
      expect(result.stderr).toContain(message);
      expect(result.stderr).not.toContain("    at "); // a message, not a stack trace
    }
    const json = await add("serving", ...redisKv, "--url-env", "STRATA_TEST_REDIS_URL", "--json");
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "STORAGE_EXISTS", details: { storage: "serving" } } });
    expect((await list()).storages.map((s) => s.definition.name)).toEqual(["warehouse", "kv", "lake", "serving"]);
  });

  it("reports a server that is down by host:port, and never shows or keeps the URL's password", SLOW, async () => {
    const port = await freePort();
    const down = { SERVING_URL: `redis://:s3cret@127.0.0.1:${port}` };
    const up = { SERVING_URL: redisUrl().replace("redis://", "redis://:s3cret@") };
    const outputs: CliResult[] = [];
    const run = async (args: string[], secretEnv: Record<string, string>) => {
      const result = await cli(args, secretEnv);
      outputs.push(result);
      return result;
    };
    const options = ["--url-env", "SERVING_URL", "--option", `prefix=${uniqueName("strata_cli")}`];
    const added = await run(["storage", "add", "serving", "--technology", "redis", "--format", "kv", ...options], down);
    expect(added.code).toBe(0);
    expect(added.stdout).toContain("NOT HEALTHY");

    const listed = await run(["storage", "list"], down);
    expect(listed.code).toBe(1);
    expect(listed.stdout).toMatch(
      new RegExp(`✖\\s+serving\\s+redis\\s+kv\\s+added\\s+127\\.0\\.0\\.1:${port}, keys strata_cli\\S+:\\*\\s+.*127\\.0\\.0\\.1:${port}`),
    );
    const json = await run(["storage", "list", "--json"], down);
    expect(json.code).toBe(1);
    const serving = (JSON.parse(json.stdout) as StorageStatus[]).find((s) => s.definition.name === "serving")!;
    expect(serving.health).toEqual({ ok: false, detail: expect.stringContaining(`127.0.0.1:${port}`) as unknown });

    // The same storage, the server down then up (the URL, with its password, only in the environment).
    const failed = await run(["run", "serve", "--json", "--verbose"], down);
    expect(failed.code).toBe(1);
    const failedRun = JSON.parse(failed.stdout) as { runId: string; error: { code: string; message: string } };
    expect(failedRun.error.code).toBe("STORAGE_UNAVAILABLE");
    expect(failedRun.error.message).toContain(`127.0.0.1:${port}`);
    expect((await run(["storage", "list"], up)).code).toBe(0);
    const served = await run(["run", "serve", "--json", "--verbose"], up);
    expect(served.code).toBe(0);
    for (const runId of [failedRun.runId, (JSON.parse(served.stdout) as { runId: string }).runId]) {
      await run(["runs", "show", runId, "--json"], up);
      const logs = await run(["runs", "logs", runId], up);
      expect(logs.stdout).toContain("step started");
      await run(["runs", "logs", runId, "--json"], up);
    }
    await run(["dataset", "show", "served_totals", "--json"], up);

    for (const output of outputs) expect(`${output.stdout}\n${output.stderr}`).not.toContain("s3cret");
    const files = filesUnder(join(project.dir, ".strata"));
    expect(files.map((f) => f.path)).toContain(join(project.dir, ".strata", "metadata.sqlite"));
    for (const file of files) expect({ file: file.path, leaked: file.text.includes("s3cret") }).toEqual({ file: file.path, leaked: false });
  });
});
