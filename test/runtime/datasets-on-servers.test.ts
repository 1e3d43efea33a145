import { describe, expect, it } from "vitest";
import { z } from "zod";
import { t } from "../../src/data/column-types.js";
import { dataset } from "../../src/pipeline/dataset.js";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { sql } from "../../src/pipeline/sql.js";
import { step } from "../../src/pipeline/step.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { storage } from "../../src/storage/storage-definition.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";
import { postgresUrl, redisUrl, uniqueName } from "../helpers/services.js";
import { freePort } from "../helpers/waiting.js";

const tempDir = tempDirEachTest("strata-servers-");
const workspaces = closeEachTest<Workspace>();

/** A workspace with a Postgres table storage and a Redis kv storage on the throwaway servers. */
function open(env: Record<string, string>): Workspace {
  return workspaces.track(
    openWorkspace(tempDir(), {
      projectDir: tempDir(),
      env,
      storages: [
        storage("shared", { technology: "postgres", format: "table", options: { urlEnv: "PG_URL", schema: uniqueName("s") } }),
        storage("serving", { technology: "redis", format: "kv", options: { urlEnv: "REDIS_URL", prefix: uniqueName("strata") } }),
      ],
    }),
  );
}

const totals = dataset("totals", { storage: "shared", schema: { k: t.int(), total: t.double(), engine: t.string() } });
const lookups = dataset("lookups", { storage: "serving", key: "k", schema: { k: t.int(), total: t.double() } });

const job = pipeline("servers", { params: z.object({ n: z.number().int() }) }, ({ params }) => {
  // version() exists in both engines; its text shows which one ran the query.
  const written = step(
    "totals",
    { inputs: { n: params.n }, output: totals },
    sql`select range::integer as k, range * 1.5 as total, version() as engine from generate_series(0, ${params.n} - 1) as g(range)`,
  );
  step("lookups", { inputs: { written }, output: lookups }, async ({ written }) =>
    (await written.rows()).map((r) => ({ k: r.k, total: r.total })),
  );
});

describe("datasets on Postgres and Redis", () => {
  it("a sql step writing a Postgres dataset runs inside Postgres, and a kv dataset publishes to Redis", async () => {
    const workspace = open({ PG_URL: postgresUrl(), REDIS_URL: redisUrl() });
    const result = await runPipeline(job, { workspace, params: { n: 4 } });
    expect(result.status, JSON.stringify(result.steps)).toBe("succeeded");
    const rows = await (result.outputs.totals as { rows(): Promise<{ engine: string }[]> }).rows();
    expect(rows).toHaveLength(4);
    expect(rows[0]!.engine).toMatch(/^PostgreSQL/);
    const kv = (await workspace.storages.open("serving")).kv!;
    expect(JSON.parse((await kv.get("lookups", "3"))!)).toEqual({ k: 3, total: 4.5 });
  });

  it("a Redis that is down fails the step with STORAGE_UNAVAILABLE naming the storage, and the live version stays", async () => {
    const good = open({ PG_URL: postgresUrl(), REDIS_URL: redisUrl() });
    expect((await runPipeline(job, { workspace: good, params: { n: 2 } })).status).toBe("succeeded");
    await workspaces.closeAll();
    const port = await freePort();
    const down = open({ PG_URL: postgresUrl(), REDIS_URL: `redis://:s3cret@127.0.0.1:${port}` });
    const result = await runPipeline(job, { workspace: down, params: { n: 3 } });
    expect(result.status).toBe("failed");
    const failed = result.steps.find((s) => s.name === "lookups")!;
    expect(failed.error?.code).toBe("STORAGE_UNAVAILABLE");
    expect(failed.error?.message).toContain('"serving"');
    expect(failed.error?.message).toContain(`127.0.0.1:${port}`);
    expect(failed.error?.message).not.toContain("s3cret");
    const versions = await down.catalog.versions("lookups");
    expect(versions.map((v) => [v.version, v.status, v.live])).toEqual([
      [1, "ready", true],
      [2, "failed", false],
    ]);
  });
});
