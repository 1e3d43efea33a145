import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { TestClock } from "../../src/clock/clock.js";
import { t } from "../../src/data/column-types.js";
import { dataset } from "../../src/pipeline/dataset.js";
import { pipeline, type AnyPipeline } from "../../src/pipeline/pipeline.js";
import { sql } from "../../src/pipeline/sql.js";
import { step } from "../../src/pipeline/step.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { ControlPlane } from "../../src/schedule/control-plane.js";
import { RunLauncher } from "../../src/schedule/run-launcher.js";
import { TriggerQueue } from "../../src/schedule/trigger-queue.js";
import { on } from "../../src/schedule/triggers.js";
import { SqliteStreamStore } from "../../src/storage/sqlite/stream-store.js";
import { SqliteWaitingTriggerStore } from "../../src/storage/sqlite/waiting-trigger-store.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";

const tempDir = tempDirEachTest("strata-partition-trigger-");
const resources = closeEachTest<{ close(): unknown }>();

const sales = dataset("sales", { storage: "warehouse", partitionBy: "day", schema: { day: t.string(), amount: t.double() } });

/** Writes one partition of `sales`. */
const load = pipeline("load", { params: z.object({ day: z.string(), amount: z.number() }) }, ({ params }) => {
  step(
    "sales",
    { inputs: { day: params.day, amount: params.amount }, output: sales, partition: params.day },
    sql`select ${params.day} as day, ${params.amount} * 1.0 as amount`,
  );
});

/** Rewrites the whole of `sales`: a version that replaced no partition. */
const rewrite = pipeline("rewrite", () => {
  step("sales", { output: sales }, sql`select 'd0' as day, 1.0 as amount`);
});

/** Runs once per landed partition of `sales`. */
const onPartition = pipeline(
  "on-partition",
  {
    triggers: [on.partition("sales", { params: ({ partition, version }) => ({ day: partition, version }) })],
    params: z.object({ day: z.string(), version: z.number().int() }),
  },
  ({ params }) => {
    step("report", { inputs: { day: params.day } }, ({ day }) => ({ day }));
  },
);

/** Runs once per new live version of `sales`, for contrast. */
const onVersion = pipeline(
  "on-version",
  { triggers: [on.dataset("sales", { params: ({ version }) => ({ version }) })], params: z.object({ version: z.number().int() }) },
  ({ params }) => {
    step("count", { inputs: { version: params.version } }, ({ version }) => ({ version }));
  },
);

interface Plane {
  readonly plane: ControlPlane;
  /** One pass, then waits for the runs it started; returns [trigger id, params] of each run of `pipeline`, sorted. */
  pass(pipeline?: string): Promise<[string, unknown][]>;
  stop(): Promise<void>;
}

async function startPlane(
  workspace: Workspace,
  clock: TestClock,
  watched: readonly AnyPipeline[] = [onPartition, onVersion],
): Promise<Plane> {
  const log = pino({ level: "silent" });
  const streams = new SqliteStreamStore(":memory:");
  resources.track(streams);
  const waiting = new SqliteWaitingTriggerStore(":memory:");
  resources.track(waiting);
  const executor = new RunLauncher({ workspace, clock, log, waiting: new TriggerQueue(waiting) });
  const plane = new ControlPlane({ pipelines: new Map(watched.map((p) => [p.name, p])), workspace, streams, executor, clock, log });
  await plane.load();
  const runsOf = async (name: string) => workspace.store.listRuns({ pipeline: name, limit: 100 });
  return {
    plane,
    async pass(name = "on-partition") {
      await plane.tick();
      for (const run of await workspace.store.listRuns({ limit: 100 })) await executor.finished(run.id);
      return (await runsOf(name)).map((r): [string, unknown] => [r.trigger.id, r.params]).sort(([a], [b]) => a.localeCompare(b));
    },
    async stop() {
      await plane.stop();
      await executor.close();
    },
  };
}

const write = (workspace: Workspace, clock: TestClock, day: string, amount = 1) =>
  runPipeline(load, { workspace, clock, params: { day, amount } }).then((r) => expect(r.status).toBe("succeeded"));

describe("on.partition", () => {
  it("starts one run per version that replaced a partition, every one landed since the last look", async () => {
    const workspace = openWorkspace(tempDir());
    resources.track(workspace);
    const clock = new TestClock();
    const { plane, pass, stop } = await startPlane(workspace, clock);
    expect(plane.describe().triggers).toEqual(["on-version <- dataset sales", "on-partition <- partitions of sales"]);

    await write(workspace, clock, "2026-01-01");
    expect(await pass()).toEqual([["partition:sales@v1", { day: "2026-01-01", version: 1 }]]);

    // Two partitions land between two looks: two runs (a dataset trigger starts one, for the live version).
    await write(workspace, clock, "2026-01-02");
    await write(workspace, clock, "2026-01-03");
    expect(await pass()).toEqual([
      ["partition:sales@v1", { day: "2026-01-01", version: 1 }],
      ["partition:sales@v2", { day: "2026-01-02", version: 2 }],
      ["partition:sales@v3", { day: "2026-01-03", version: 3 }],
    ]);
    expect((await pass("on-version")).map(([id]) => id)).toEqual(["dataset:sales@v1", "dataset:sales@v3"]);

    // A version that replaced no partition starts nothing; a partition written again starts a run.
    expect((await runPipeline(rewrite, { workspace, clock })).status).toBe("succeeded");
    await write(workspace, clock, "2026-01-02", 5);
    const runs = await pass();
    expect(runs.map(([id]) => id)).toEqual(["partition:sales@v1", "partition:sales@v2", "partition:sales@v3", "partition:sales@v5"]);
    expect(runs[3]![1]).toEqual({ day: "2026-01-02", version: 5 });

    // A failed write (its rows do not fit the schema) is no landed partition; nothing repeats on later looks.
    const broken = pipeline("broken", () => {
      step("sales", { output: sales, partition: "2026-01-04" }, sql`select '2026-01-04' as day, 'many' as amount`);
    });
    expect((await runPipeline(broken, { workspace, clock })).status).toBe("failed");
    expect((await workspace.catalog.versions("sales")).at(-1)).toMatchObject({ version: 6, partition: "2026-01-04", status: "failed" });
    expect(await pass()).toHaveLength(4);
    await stop();
  });

  it("reads where it left off back from its runs after a restart: partitions landed while down run, none twice", async () => {
    const workspace = openWorkspace(tempDir());
    resources.track(workspace);
    const clock = new TestClock();
    const first = await startPlane(workspace, clock);
    await write(workspace, clock, "2026-01-01");
    expect((await first.pass()).map(([id]) => id)).toEqual(["partition:sales@v1"]);
    await first.stop();

    // Down while two partitions land.
    clock.advance(60_000);
    await write(workspace, clock, "2026-01-02");
    await write(workspace, clock, "2026-01-03");
    const again = await startPlane(workspace, clock);
    expect((await again.pass()).map(([id]) => id)).toEqual(["partition:sales@v1", "partition:sales@v2", "partition:sales@v3"]);
    expect((await again.pass()).map(([id]) => id)).toHaveLength(3);
    await again.stop();

    // A trigger that never ran starts from the live version: history does not run.
    const fresh = pipeline(
      "fresh",
      { triggers: [on.partition("sales", { params: ({ partition }) => ({ day: partition }) })], params: z.object({ day: z.string() }) },
      () => {
        step("s", () => 1);
      },
    );
    const late = await startPlane(workspace, clock, [fresh]);
    expect(await late.pass("fresh")).toEqual([]);
    await write(workspace, clock, "2026-01-04");
    expect(await late.pass("fresh")).toEqual([["partition:sales@v4", { day: "2026-01-04" }]]);
    await late.stop();
  });

  it("waits until a version has gone live, and takes versions that concurrent writers flipped out of order", async () => {
    const workspace = openWorkspace(tempDir());
    resources.track(workspace);
    const clock = new TestClock();
    const { pass, stop } = await startPlane(workspace, clock, [onPartition]);
    const { catalog } = workspace;
    const begin = (partition: string) =>
      catalog.beginVersion({ dataset: "sales", storage: "warehouse", runId: null, step: null, partition, at: 1 });
    // Written and checked, not yet flipped: no run until it is live.
    const v1 = await begin("d1");
    await catalog.finishVersion("sales", v1, 1, 10);
    expect(await pass()).toEqual([]);
    await catalog.setLive("sales", v1, 11);
    expect((await pass()).map(([id]) => id)).toEqual(["partition:sales@v1"]);
    // v2 and v3 allocated in order; v3 flips first, then v2 (built on v3): both landed.
    const v2 = await begin("d2");
    const v3 = await begin("d3");
    await catalog.finishVersion("sales", v3, 2, 20);
    await catalog.setLive("sales", v3, 21);
    await catalog.finishVersion("sales", v2, 3, 30);
    await catalog.setLive("sales", v2, 31);
    expect((await pass()).map(([id]) => id)).toEqual(["partition:sales@v1", "partition:sales@v2", "partition:sales@v3"]);
    await stop();
  });

  it("a params function that throws skips that partition and does not stop the pass", async () => {
    const workspace = openWorkspace(tempDir());
    resources.track(workspace);
    const clock = new TestClock();
    const picky = pipeline(
      "picky",
      {
        triggers: [
          on.partition("sales", {
            params: ({ partition }) => {
              if (partition === "bad") throw new Error("no such day");
              return { day: partition };
            },
          }),
        ],
        params: z.object({ day: z.string() }),
      },
      () => {
        step("s", () => 1);
      },
    );
    const { pass, stop } = await startPlane(workspace, clock, [picky]);
    await write(workspace, clock, "bad");
    await write(workspace, clock, "2026-01-05");
    expect(await pass("picky")).toEqual([["partition:sales@v2", { day: "2026-01-05" }]]);
    await stop();
  });
});
