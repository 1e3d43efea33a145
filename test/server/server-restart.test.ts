import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openWorkspace } from "../../src/runtime/workspace.js";
import { makeProject } from "../cli/helpers.js";
import { killHard, startServerProcess, type ServerProcess } from "../helpers/server-process.js";
import { eventually } from "../helpers/waiting.js";

const servers: ServerProcess[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await killHard(server.child);
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe("strata server killed with runs in flight (the embedded executor)", () => {
  it("on restart, marks each run it left running failed with the reason, and resumes it once", async () => {
    const project = makeProject("control");
    cleanups.push(project.cleanup);
    const workspace = openWorkspace(join(project.dir, ".strata"), { projectDir: project.dir });
    const key = (await workspace.apiKeys.create("restart", ["run"], Date.now())).key;
    const post = async (server: ServerProcess, path: string, body: unknown) => {
      const response = await fetch(server.url + path, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return (await response.json()) as Record<string, unknown>;
    };
    try {
      const first = await startServerProcess(project.dir);
      servers.push(first);
      const started = await post(first, "/v1/pipelines/slow/runs", { params: { ms: 60_000 } });
      const runId = started.runId as string;
      await eventually(async () => {
        if ((await workspace.store.getSteps(runId))[0]?.status !== "running") throw new Error("the step has not started");
      });
      await killHard(first.child);
      expect((await workspace.store.getRun(runId)).status).toBe("running"); // nobody said otherwise yet

      const second = await startServerProcess(project.dir);
      servers.push(second);
      const lost = await workspace.store.getRun(runId);
      expect(lost.status).toBe("failed");
      expect(lost.error?.code).toBe("RUN_ABANDONED");
      expect(lost.error?.message).toContain(`pid ${first.child.pid}`);
      const recovery = (await workspace.store.listRuns({ pipeline: "slow" })).find((r) => r.resumedFrom === runId);
      expect(recovery?.trigger).toEqual({ kind: "recovery", id: `recover:${runId}` });
      expect(second.output()).not.toContain("error");

      // A second restart neither fails nor resumes anything again.
      await killHard(second.child);
      const third = await startServerProcess(project.dir);
      servers.push(third);
      const resumed = (await workspace.store.listRuns({ pipeline: "slow" })).filter((r) => r.trigger.kind === "recovery");
      expect(resumed.map((r) => r.resumedFrom)).toEqual([runId]);
      expect((await workspace.store.getRun(recovery!.id)).status).toBe("failed");
    } finally {
      await workspace.close();
    }
  }, 60_000);

  it("a run resumed after a restart runs to its end", async () => {
    const project = makeProject("control");
    cleanups.push(project.cleanup);
    const workspace = openWorkspace(join(project.dir, ".strata"), { projectDir: project.dir });
    const key = (await workspace.apiKeys.create("restart", ["run"], Date.now())).key;
    try {
      const first = await startServerProcess(project.dir);
      servers.push(first);
      const response = await fetch(`${first.url}/v1/pipelines/slow/runs`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ params: { ms: 1500 } }),
      });
      const runId = ((await response.json()) as { runId: string }).runId;
      await eventually(async () => {
        if ((await workspace.store.getSteps(runId))[0]?.status !== "running") throw new Error("the step has not started");
      });
      await killHard(first.child);

      const second = await startServerProcess(project.dir);
      servers.push(second);
      const recovery = await eventually(async () => {
        const run = (await workspace.store.listRuns({ pipeline: "slow" })).find((r) => r.resumedFrom === runId);
        if (run?.status !== "succeeded") throw new Error(`the resumed run has not ended yet (${run?.status ?? "not started"})`);
        return run;
      });
      expect(recovery.params).toEqual({ ms: 1500 });
      const [step] = await workspace.store.getSteps(recovery.id);
      expect([step!.status, step!.output]).toEqual(["succeeded", { kind: "json", json: '{"waited":1500}' }]);
      expect((await workspace.store.getRun(runId)).error?.code).toBe("RUN_ABANDONED");
    } finally {
      await workspace.close();
    }
  }, 60_000);

  it("a trigger queued behind a run (overlap: queue) survives the kill and starts after a restart", async () => {
    const project = makeProject("control");
    cleanups.push(project.cleanup);
    const workspace = openWorkspace(join(project.dir, ".strata"), { projectDir: project.dir });
    const key = (await workspace.apiKeys.create("restart", ["run"], Date.now())).key;
    const call = async (server: ServerProcess, method: string, path: string, body?: unknown) => {
      const response = await fetch(server.url + path, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return (await response.json()) as Record<string, unknown>;
    };
    try {
      const first = await startServerProcess(project.dir);
      servers.push(first);
      const running = await call(first, "POST", "/v1/pipelines/slow/runs", { params: { ms: 60_000 } });
      const queued = await call(first, "POST", "/v1/pipelines/slow/runs", { params: { ms: 10 } });
      expect(queued.status).toBe("queued");
      const waitingId = (queued.trigger as { id: string }).id;
      await killHard(first.child);

      const second = await startServerProcess(project.dir);
      servers.push(second);
      // The lost run is resumed first; the trigger waits behind it, as it did.
      const recovery = (await workspace.store.listRuns({ pipeline: "slow" })).find((r) => r.resumedFrom === running.runId)!;
      const pipelines = (await call(second, "GET", "/v1/pipelines")).pipelines as { name: string; queued: number }[];
      expect(pipelines.find((p) => p.name === "slow")?.queued).toBe(1);
      await call(second, "POST", `/v1/runs/${recovery.id}/cancel`);
      const started = await eventually(async () => {
        const run = (await workspace.store.listRuns({ pipeline: "slow" })).find((r) => r.trigger.id === waitingId);
        if (run?.status !== "succeeded") throw new Error("the waiting trigger has not run yet");
        return run;
      });
      expect(started.params).toEqual({ ms: 10 });

      // Started once: another restart does not start it again.
      await killHard(second.child);
      const third = await startServerProcess(project.dir);
      servers.push(third);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await workspace.store.listRuns({ pipeline: "slow" })).filter((r) => r.trigger.id === waitingId)).toHaveLength(1);
    } finally {
      await workspace.close();
    }
  }, 60_000);
});
