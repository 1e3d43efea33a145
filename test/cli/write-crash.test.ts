import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openWorkspace } from "../../src/runtime/workspace.js";
import { makeProject, ROOT, strata } from "./helpers.js";

// Killing a process half way through a write and reading afterwards: the previous version of the
// dataset stays intact, the killed run reads as abandoned, and the next write succeeds.

interface Version {
  version: number;
  status: string;
  rows: number | null;
  live: boolean;
}

let project: ReturnType<typeof makeProject>;
beforeEach(() => {
  project = makeProject("data-project");
});
afterEach(() => project.cleanup());

const cli = (args: string[]) => strata([...args, "--project", project.dir]);
async function versions(dataset: string): Promise<Version[]> {
  const result = await cli(["dataset", "versions", dataset, "--json"]);
  const parsed = JSON.parse(result.stdout) as Version[] | { error: unknown };
  if (!Array.isArray(parsed)) throw new Error(`dataset versions failed (exit ${result.code}): ${result.stdout} ${result.stderr}`);
  return parsed;
}

/** Polls `check` (every 100 ms, at most a minute) until it holds. */
async function waitUntil(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`gave up waiting until ${what}`);
}

/**
 * Starts `strata run <pipeline> --param rows=<rows>`, waits until `writing` says the write is under
 * way, and kills the process with SIGKILL: no handler, no cleanup.
 */
async function killMidWrite(pipeline: string, rows: number, writing: () => Promise<boolean> | boolean): Promise<number> {
  const bin = join(ROOT, "bin", "strata.js");
  const child = spawn(process.execPath, [bin, "run", pipeline, "--param", `rows=${rows}`, "--project", project.dir, "--progress", "none"], {
    env: { ...process.env, CI: "true" },
    stdio: "ignore",
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
  try {
    await waitUntil(`${pipeline} is writing`, async () => {
      if (child.exitCode !== null) throw new Error(`strata run ${pipeline} ended (exit ${child.exitCode}) before it could be killed`);
      return writing();
    });
  } finally {
    child.kill("SIGKILL");
  }
  expect(await exited).toBe("SIGKILL"); // killed, not finished
  return child.pid!;
}

async function expectAbandoned(pipeline: string, pid: number): Promise<void> {
  const runs = JSON.parse((await cli(["runs", "list", "--pipeline", pipeline, "--json"])).stdout) as {
    status: string;
    error: { code: string; message: string } | null;
  }[];
  expect(runs.map((r) => [r.status, r.error?.code ?? null])).toEqual([
    ["failed", "RUN_ABANDONED"],
    ["succeeded", null],
  ]);
  expect(runs[0]!.error!.message).toContain(`pid ${pid}`);
}

describe("a process killed half way through a dataset write", () => {
  it("leaves the live version of a table dataset whole; the next write succeeds", { timeout: 180_000 }, async () => {
    expect((await cli(["run", "numbers", "--param", "rows=10"])).code).toBe(0);

    // 300M rows take DuckDB many seconds here. The kill comes once version 2 is being written and
    // the database file has grown: blocks of the new table are on disk, the table is half made.
    const file = join(project.dir, ".strata", "warehouse.duckdb");
    const before = statSync(file).size;
    const pid = await killMidWrite(
      "numbers",
      300_000_000,
      async () => statSync(file).size > before && (await versions("numbers")).some((v) => v.version === 2 && v.status === "writing"),
    );

    expect((await versions("numbers")).filter((v) => v.live).map((v) => [v.version, v.rows])).toEqual([[1, 10]]);
    const read = await cli(["run", "sum_numbers", "--json"]);
    expect(read.code).toBe(0);
    expect((JSON.parse(read.stdout) as { steps: { output: unknown }[] }).steps[0]!.output).toEqual({ rows: 10, sum: 45 });
    await expectAbandoned("numbers", pid);
    expect((await versions("numbers")).find((v) => v.version === 2)?.status).toBe("failed");

    const next = await cli(["run", "numbers", "--param", "rows=5", "--json"]);
    expect(next.code).toBe(0);
    expect((await versions("numbers")).filter((v) => v.live).map((v) => [v.version, v.status, v.rows])).toEqual([[3, "ready", 5]]);
    const after = await cli(["run", "sum_numbers", "--json"]);
    expect((JSON.parse(after.stdout) as { steps: { output: unknown }[] }).steps[0]!.output).toEqual({ rows: 5, sum: 10 });
  });

  it(
    "leaves the live version of a kv dataset (built-in SQLite kv storage) whole; the next write succeeds",
    { timeout: 180_000 },
    async () => {
      expect((await cli(["run", "number_docs", "--param", "rows=10"])).code).toBe(0);
      const file = join(project.dir, ".strata", "kv.kv.sqlite");

      // 3M documents take the SQLite writer several seconds here; it commits them 100k at a time.
      // The kill comes once the first of those commits of version 2 is in the file: half a version.
      const pid = await killMidWrite("number_docs", 3_000_000, () => {
        const db = new Database(file, { readonly: true, fileMustExist: true });
        try {
          const written = db.prepare<[string], { n: number }>("select count(*) as n from kv_entries where dataset = ? and version = 2");
          return written.get("number_docs")!.n > 0;
        } finally {
          db.close();
        }
      });

      // Read through the storage's own reader, as the serving side would.
      const readDocs = async (keys: string[]): Promise<{ live: number | null; docs: unknown[] }> => {
        const workspace = openWorkspace(join(project.dir, ".strata"), { projectDir: project.dir });
        try {
          const kv = (await workspace.storages.open("kv")).kv!;
          const docs = (await kv.mget("number_docs", keys)).map((d) => (d === undefined ? undefined : (JSON.parse(d) as unknown)));
          return { live: await kv.liveVersion("number_docs"), docs };
        } finally {
          await workspace.close();
        }
      };
      expect(await readDocs(["3", "9", "10", "99999"])).toEqual({ live: 1, docs: [{ i: 3, j: 6 }, { i: 9, j: 18 }, undefined, undefined] });
      expect((await versions("number_docs")).filter((v) => v.live).map((v) => [v.version, v.rows])).toEqual([[1, 10]]);
      await expectAbandoned("number_docs", pid);
      // Settling the abandoned run discarded its half-written version: status and data.
      expect((await versions("number_docs")).find((v) => v.version === 2)?.status).toBe("failed");
      const leftovers = new Database(file, { readonly: true });
      try {
        expect(leftovers.prepare("select count(*) as n from kv_entries where dataset = 'number_docs' and version = 2").get()).toEqual({
          n: 0,
        });
      } finally {
        leftovers.close();
      }

      expect((await cli(["run", "number_docs", "--param", "rows=7"])).code).toBe(0);
      expect((await versions("number_docs")).filter((v) => v.live).map((v) => [v.version, v.status, v.rows])).toEqual([[3, "ready", 7]]);
      expect(await readDocs(["3", "9"])).toEqual({ live: 3, docs: [{ i: 3, j: 6 }, undefined] });
    },
  );
});
