import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeProject, ROOT, strata } from "./helpers.js";

let project: ReturnType<typeof makeProject>;
beforeEach(() => {
  project = makeProject("basic");
});
afterEach(() => project.cleanup());

describe("a strata process killed in the middle of a step", () => {
  it("leaves a run that reads as abandoned (not running forever) and resumes", async () => {
    const env = {
      ...process.env,
      CI: "true",
      STRATA_TEST_FLAG: join(project.dir, "flag"),
      STRATA_TEST_STARTED: join(project.dir, "started"),
    };
    const child = spawn(process.execPath, [join(ROOT, "bin", "strata.js"), "run", "slow", "--project", project.dir, "--progress", "none"], {
      env,
      stdio: "ignore",
    });
    for (let i = 0; i < 500 && !existsSync(env.STRATA_TEST_STARTED); i++) await sleep(20);
    expect(existsSync(env.STRATA_TEST_STARTED)).toBe(true);
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));

    const list = await strata(["runs", "list", "--project", project.dir, "--json"]);
    const [run] = JSON.parse(list.stdout) as { id: string; status: string; error: { code: string; message: string } }[];
    expect(run).toMatchObject({ status: "failed", error: { code: "RUN_ABANDONED" } });
    expect(run!.error.message).toContain(`pid ${child.pid}`);

    writeFileSync(env.STRATA_TEST_FLAG, "");
    const resumed = await strata(["run", "slow", "--project", project.dir, "--resume", run!.id, "--json"], { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    const steps = (JSON.parse(resumed.stdout) as { steps: { name: string; status: string }[] }).steps;
    expect(steps.map((s) => [s.name, s.status])).toEqual([
      ["first", "reused"],
      ["wait", "succeeded"],
    ]);
  });
});
