import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openPostgresMetadata } from "../../src/storage/postgres/metadata-stores.js";
import { postgresUrl, uniqueName } from "../helpers/services.js";
import { freePort } from "../helpers/waiting.js";
import { makeProject, strata } from "./helpers.js";

let project: ReturnType<typeof makeProject>;
let schema: string;

/** The basic fixture with its metadata on Postgres, in a schema of this test's own. */
beforeEach(() => {
  project = makeProject("basic");
  schema = uniqueName("cli_meta");
  writeFileSync(join(project.dir, "flag"), "");
  writeConfig(`{ technology: "postgres", urlEnv: "STRATA_METADATA_URL", schema: "${schema}" }`);
});
afterEach(async () => {
  project.cleanup();
  const client = new pg.Client({ connectionString: postgresUrl() });
  await client.connect();
  await client.query(`drop schema if exists "${schema}" cascade`);
  await client.end();
});

function writeConfig(metadata: string): void {
  writeFileSync(
    join(project.dir, "strata.config.ts"),
    `import { defineProject } from "strata";\nexport default defineProject({ name: "basic", metadata: ${metadata} });\n`,
  );
}

const cli = (args: string[], url = postgresUrl()) =>
  strata([...args, "--project", project.dir], {
    env: { STRATA_TEST_FLAG: join(project.dir, "flag"), STRATA_TEST_HOOK_OUT: join(project.dir, "hook.json"), STRATA_METADATA_URL: url },
  });

describe("metadata on Postgres, chosen in strata.config.ts", () => {
  it("records runs in the Postgres schema, which every command then reads", async () => {
    const first = await cli(["run", "numbers", "--param", "upTo=3", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const second = await cli(["run", "numbers", "--param", "upTo=4", "--json"]);
    expect(second.code, second.stderr).toBe(0);
    const ids = [first, second].map((r) => (JSON.parse(r.stdout) as { runId: string }).runId);

    const list = await cli(["runs", "list", "--json"]);
    expect((JSON.parse(list.stdout) as { id: string }[]).map((r) => r.id)).toEqual([...ids].reverse());
    const show = await cli(["runs", "show", ids[0]!, "--json"]);
    expect(JSON.parse(show.stdout)).toMatchObject({ runId: ids[0], status: "succeeded", params: { upTo: 3, label: "n" } });
    const logs = await cli(["runs", "logs", ids[1]!, "--step", "flaky"]);
    expect(logs.stdout).toContain("[flaky#1] checking the flag");

    const stores = openPostgresMetadata({ url: postgresUrl(), schema });
    try {
      expect((await stores.runs.listRuns()).map((r) => r.id)).toEqual([...ids].reverse());
      expect((await stores.runs.getSteps(ids[1]!)).map((s) => s.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    } finally {
      await stores.close();
    }
    expect(existsSync(join(project.dir, ".strata", "metadata.sqlite"))).toBe(false);
  });

  it("names the variable when it is not set, and the server when it is down, never the password", async () => {
    const unset = await strata(["runs", "list", "--project", project.dir], { env: { STRATA_METADATA_URL: "" } });
    expect(unset.code).not.toBe(0);
    expect(unset.stderr).toContain("STORAGE_UNAVAILABLE");
    expect(unset.stderr).toContain("the environment variable STRATA_METADATA_URL is not set");

    const port = await freePort();
    const down = await cli(["runs", "list"], `postgres://strata:s3cret-pw@127.0.0.1:${port}/meta`);
    expect(down.code).not.toBe(0);
    expect(down.stderr).toContain("STORAGE_UNAVAILABLE");
    expect(down.stderr).toContain(`127.0.0.1:${port}/meta`);
    expect(down.stderr + down.stdout).not.toContain("s3cret-pw");
  });

  it("refuses a malformed metadata field, naming the file and the field", async () => {
    writeConfig(`{ technology: "postgres", url: "postgres://u:s3cret-pw@db/x" }`);
    const result = await cli(["runs", "list"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("PROJECT_LOAD_FAILED");
    expect(result.stderr).toContain("strata.config.ts: metadata.url is not allowed");
    expect(result.stderr).toContain("metadata.urlEnv is required");
    expect(result.stderr).not.toContain("s3cret-pw");
  });
});
