import { spawnSync } from "node:child_process";
import type { ServerResponse } from "node:http";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TestClock } from "../../src/clock/clock.js";
import { notify } from "../../src/pipeline/hooks.js";
import { pipeline, type AnyPipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";
import { settleAbandoned } from "../../src/runtime/abandoned-runs.js";
import type { HookPayload } from "../../src/runtime/hook-payload.js";
import { deliveryBudgetMs } from "../../src/runtime/hook-retry.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { OverdueHooks } from "../../src/schedule/overdue-hooks.js";
import { thisHost } from "../../src/storage/process-liveness.js";
import { runRecord } from "../helpers/run-records.js";
import { eventually } from "../helpers/waiting.js";
import { startWebhookSink, type WebhookSink } from "../helpers/webhook-sink.js";

let sink: WebhookSink;
let base = "";
/** Responses the sink holds unanswered, as an endpoint that hangs. */
const held: ServerResponse[] = [];
/** The payloads the sink got, in order. */
const received = (): HookPayload[] => sink.received.map((r) => r.body);

beforeAll(async () => {
  sink = await startWebhookSink((res, hook) => (hook.path === "/hang" ? held.push(res) : res.end()));
  base = sink.url;
});
afterAll(async () => {
  await sink.close();
});

let workspace: Workspace;
let clock: TestClock;
beforeEach(() => {
  sink.received.length = 0;
  workspace = openWorkspace(":memory:");
  clock = new TestClock(Date.UTC(2026, 5, 1));
});
afterEach(async () => {
  await workspace.close();
});

const alerting = (): AnyPipeline =>
  pipeline(
    "daily",
    { onFailure: [notify.webhook({ url: `${base}/alert` }, { timeoutMs: 2000, retry: { attempts: 2, delayMs: 10 } })] },
    () => {
      step("load", () => 1);
    },
  );

function sweeper(pipelines: AnyPipeline[]): OverdueHooks {
  return new OverdueHooks({
    pipelines: new Map(pipelines.map((p) => [p.name, p])),
    store: workspace.store,
    clock,
    log: pino({ level: "silent" }),
  });
}

/** A failed run of "daily" as a worker that died right after ending it leaves it: hooks due at `dueAt`, not delivered. */
async function endedUndelivered(id: string, dueAt: number): Promise<void> {
  const { store } = workspace;
  await store.createRun(runRecord(id, { startedAt: clock.now() }), ["load"]);
  const error = { code: "STEP_FAILED", message: "boom" };
  await store.saveStep({
    runId: id,
    step: "load",
    status: "failed",
    attempts: 1,
    startedAt: 1,
    endedAt: 2,
    error,
    output: null,
    reusedFrom: null,
  });
  expect(
    await store.finishRun(id, "failed", clock.now(), { code: "STEP_FAILED", message: 'step "load" failed: boom' }, { hooksDueAt: dueAt }),
  ).toBe(true);
}

describe("hooks nobody delivered (OverdueHooks)", () => {
  it("gives the ender the hooks' whole delivery budget, then delivers them once", async () => {
    const p = alerting();
    const budget = deliveryBudgetMs(p.onFailure!);
    expect(budget).toBe(2000 + 10 + 2000 + 30_000); // two tries timing out, the wait between, the margin
    await endedUndelivered("r1", clock.now() + budget);
    const sweep = sweeper([p]);
    clock.advance(budget - 1);
    expect(await sweep.sweep()).toBe(0);
    expect(received()).toEqual([]);
    clock.advance(1);
    expect(await sweep.sweep()).toBe(1);
    expect(received()).toHaveLength(1);
    expect(received()[0]).toMatchObject({ runId: "r1", pipeline: "daily", status: "failed", failedStep: "load", errorCode: "STEP_FAILED" });
    clock.advance(24 * 3600_000);
    expect(await sweep.sweep()).toBe(0);
    expect(received()).toHaveLength(1);
    const lines = (await workspace.store.getLogs("r1")).map((l) => JSON.parse(l.line) as { msg: string });
    expect(lines.map((l) => l.msg)).toEqual([
      "hooks delivered by the control plane: whoever ended the run did not deliver them",
      "hook delivered",
    ]);
  });

  it("two sweeps at once (two control planes) deliver a run's hooks once", async () => {
    await endedUndelivered("r1", clock.now());
    await endedUndelivered("r2", clock.now());
    const counts = await Promise.all([sweeper([alerting()]).sweep(), sweeper([alerting()]).sweep()]);
    expect(counts[0]! + counts[1]!).toBe(2);
    expect(
      received()
        .map((r) => r.runId)
        .sort(),
    ).toEqual(["r1", "r2"]);
  });

  it("a run whose ender delivered its hooks is not due any more", async () => {
    const p = alerting();
    const result = await runPipeline(
      pipeline("daily", { onFailure: p.onFailure! }, () => {
        step("load", () => {
          throw new Error("boom");
        });
      }),
      { workspace },
    );
    expect(result.status).toBe("failed");
    expect(received()).toHaveLength(1);
    expect(await workspace.store.dueHooks(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    await result.close();
  });

  it("clears hooks that are no one's to deliver; those of a pipeline it lacks it leaves for a day to one that has it", async () => {
    await endedUndelivered("r1", clock.now());
    const quiet = pipeline("daily", {}, () => {
      step("load", () => 1);
    });
    expect(await sweeper([quiet]).sweep()).toBe(0);
    expect(await workspace.store.dueHooks(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    await endedUndelivered("r2", clock.now());
    expect(await sweeper([]).sweep()).toBe(0);
    expect(await workspace.store.dueHooks(clock.now(), 10)).toEqual([]); // looked at again later
    clock.advance(10 * 60_000);
    expect(await sweeper([alerting()]).sweep()).toBe(1); // a control plane that has it
    expect(received().map((r) => r.runId)).toEqual(["r2"]);
    await endedUndelivered("r3", clock.now());
    clock.advance(24 * 3600_000);
    expect(await sweeper([]).sweep()).toBe(0);
    expect(await workspace.store.dueHooks(Number.MAX_SAFE_INTEGER, 10)).toEqual([]); // a day on: dropped
  });

  it("a hook that hangs holds up no other run's hooks", async () => {
    const hanging = pipeline(
      "hangs",
      { onFailure: [notify.webhook({ url: `${base}/hang` }, { timeoutMs: 30_000, retry: { attempts: 1 } })] },
      () => {
        step("load", () => 1);
      },
    );
    await workspace.store.createRun(runRecord("stuck", { pipeline: "hangs" }), ["load"]);
    await workspace.store.finishRun("stuck", "failed", clock.now(), { code: "STEP_FAILED", message: "x" }, { hooksDueAt: clock.now() });
    const sweep = sweeper([alerting(), hanging]);
    const first = sweep.sweep(); // delivers "stuck", whose endpoint never answers
    await eventually(async () => expect(sink.received.map((r) => r.path)).toEqual(["/hang"]));
    await endedUndelivered("r1", clock.now());
    expect(await sweep.sweep()).toBe(1); // while the first is still under way
    expect(received().map((r) => r.runId)).toEqual(["stuck", "r1"]);
    held.splice(0).forEach((res) => res.end());
    expect(await first).toBe(1);
  });

  it("a delivery budget is whole milliseconds, and at most a day", () => {
    const hook = (retry: { attempts: number; delayMs: number; factor: number }) =>
      notify.webhook({ url: base }, { timeoutMs: 1000, retry });
    expect(deliveryBudgetMs([hook({ attempts: 3, delayMs: 333, factor: 1.5 })])).toBe(1000 + 333 + 1000 + 500 + 1000 + 30_000);
    expect(deliveryBudgetMs([hook({ attempts: 200, delayMs: 1000, factor: 2 })])).toBe(24 * 3600_000);
  });

  it("a run settled as abandoned (its process gone) gets its failure hooks from the next sweep", async () => {
    const gone = spawnSync(process.execPath, ["-e", ""]).pid; // a process that has ended
    await workspace.store.createRun(runRecord("r1", { owner: `${thisHost()}:${gone}` }), ["load"]);
    const settled = await settleAbandoned(workspace, await workspace.store.getRun("r1"), clock.now());
    expect(settled).toMatchObject({ status: "failed", error: { code: "RUN_ABANDONED" } });
    expect(await sweeper([alerting()]).sweep()).toBe(1);
    expect(received()).toMatchObject([{ runId: "r1", status: "failed", errorCode: "RUN_ABANDONED", failedStep: null }]);
  });
});
