import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeProject, strata } from "./helpers.js";
import { freePort } from "../helpers/waiting.js";

let project: ReturnType<typeof makeProject>;
let env: Record<string, string>;

beforeEach(() => {
  project = makeProject("basic");
  env = { STRATA_TEST_FLAG: join(project.dir, "flag"), STRATA_TEST_HOOK_OUT: join(project.dir, "hook.json") };
});
afterEach(() => project.cleanup());

const run = (args: string[]) => strata(["run", "numbers", "--project", project.dir, ...args], { env });

describe("strata run", () => {
  it("refuses a bad param with exit 2, names param, value and expectation, and records no run", async () => {
    const bad = await run(["--param", "upTo=zero"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("PARAM_INVALID");
    expect(bad.stderr).toContain('param "upTo": got "zero"; expected number');
    const missing = await run([]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('param "upTo": missing; expected number');
    const unknown = await run(["--param", "upTo=3", "--param", "uptoo=4"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no param "uptoo"');
    const syntax = await run(["--param", "upTo"]);
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toContain("PARAM_SYNTAX");
    const list = await strata(["runs", "list", "--project", project.dir, "--json"]);
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  it("prints a JSON summary, fails with exit 1, fires the failure hook, and resumes after a fix", async () => {
    const failed = await run(["--param", "upTo=5", "--json"]);
    expect(failed.code).toBe(1);
    const first = JSON.parse(failed.stdout) as {
      runId: string;
      status: string;
      steps: { name: string; status: string; attempts: number }[];
    };
    expect(first.status).toBe("failed");
    expect(first.steps.map((s) => [s.name, s.status])).toEqual([
      ["series", "succeeded"],
      ["total", "succeeded"],
      ["flaky", "failed"],
      ["final", "skipped"],
    ]);
    const hook = JSON.parse(readFileSync(join(project.dir, "hook.json"), "utf8")) as Record<string, unknown>;
    expect(hook).toMatchObject({
      runId: first.runId,
      pipeline: "numbers",
      failedStep: "flaky",
      errorCode: "STEP_FAILED",
      status: "failed",
    });
    expect(hook.message).toContain("flag file is missing");

    writeFileSync(join(project.dir, "flag"), "");
    const resumed = await run(["--resume", first.runId.slice(0, 14), "--json"]);
    expect(resumed.code).toBe(0);
    const second = JSON.parse(resumed.stdout) as {
      resumedFrom: string;
      params: unknown;
      steps: { name: string; status: string; reusedFrom: string | null; output: unknown }[];
    };
    expect(second.resumedFrom).toBe(first.runId);
    expect(second.params).toEqual({ upTo: 5, label: "n" });
    expect(second.steps.map((s) => [s.name, s.status])).toEqual([
      ["series", "reused"],
      ["total", "reused"],
      ["flaky", "succeeded"],
      ["final", "succeeded"],
    ]);
    expect(second.steps[3]!.output).toEqual({ label: "n", total: 10, done: true });
  });

  it("shows, lists and logs runs; every log line carries run id and trigger id", async () => {
    writeFileSync(join(project.dir, "flag"), "");
    const ok = await run(["--param", "upTo=3", "--param", "label=x", "--progress", "plain"]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/✔ flaky succeeded/);
    const runId = /run (r[0-9a-z]+) of numbers succeeded/.exec(ok.stdout)?.[1];
    expect(runId).toBeDefined();

    const show = await strata(["runs", "show", runId!, "--project", project.dir, "--json"]);
    const shown = JSON.parse(show.stdout) as { status: string; trigger: { kind: string; id: string }; attempts: unknown[] };
    expect(shown.status).toBe("succeeded");
    expect(shown.trigger.kind).toBe("manual");
    expect(shown.attempts).toHaveLength(4);

    const logs = await strata(["runs", "logs", runId!, "--step", "flaky", "--project", project.dir, "--json"]);
    const lines = logs.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) expect(line).toMatchObject({ runId, triggerId: shown.trigger.id, step: "flaky", attempt: 1 });
    expect(lines.some((l) => l.msg === "checking the flag")).toBe(true);

    const text = await strata(["runs", "logs", runId!, "--project", project.dir]);
    expect(text.stdout).toContain("[flaky#1] checking the flag");
    const list = await strata(["runs", "list", "--project", project.dir]);
    expect(list.stdout).toContain(runId);
    expect((await run(["--param", "upTo=2", "--param", "label=y"])).code).toBe(0); // a second run, for a second page
    const newest = (JSON.parse((await strata(["runs", "list", "--project", project.dir, "--json"])).stdout) as { id: string }[]).map(
      (r) => r.id,
    );
    expect(newest).toHaveLength(2);
    const firstPage = await strata(["runs", "list", "-n", "1", "--project", project.dir]);
    expect(firstPage.stdout).toContain(`older runs: strata runs list --before ${newest[0]!}`);
    const nextPage = await strata(["runs", "list", "--before", newest[0]!, "--project", project.dir, "--json"]);
    expect((JSON.parse(nextPage.stdout) as { id: string }[]).map((r) => r.id)).toEqual(newest.slice(1));
    const missing = await strata(["runs", "show", "rnope", "--project", project.dir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("RUN_NOT_FOUND");
  });

  it("does not let a failing hook hide the run's result", async () => {
    writeFileSync(join(project.dir, "flag"), "");
    const port = await freePort();
    const result = await strata(["run", "numbers", "--project", project.dir, "--param", "upTo=2", "--progress", "plain"], {
      env: { ...env, STRATA_TEST_WEBHOOK: `http://127.0.0.1:${port}/hook?token=secret` },
    });
    expect(result.code).toBe(0);
    // The reason is kept (not just "fetch failed"), and the URL's path and token are not shown.
    expect(result.stderr).toContain(
      `hook webhook $STRATA_TEST_WEBHOOK (127.0.0.1:${port}) failed: webhook POST to 127.0.0.1:${port} failed: ECONNREFUSED`,
    );
    expect(result.stderr).not.toContain("secret");
    expect(existsSync(join(project.dir, "hook.json"))).toBe(false);
  });
});
