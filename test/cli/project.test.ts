import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, strata } from "./helpers.js";

describe("strata pipelines and project loading", () => {
  it("lists pipelines with params and steps", async () => {
    const project = makeProject("basic");
    try {
      const text = await strata(["pipelines", "--project", project.dir]);
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/numbers\s+\(pipelines\/numbers\.ts, 4 steps\)/);
      expect(text.stdout).toMatch(/upTo\s+integer\s+yes/);
      const json = JSON.parse((await strata(["pipelines", "--project", project.dir, "--json"])).stdout) as {
        name: string;
        steps: { name: string; kind: string; inputs: Record<string, string> }[];
      }[];
      expect(json[0]!.steps.map((s) => `${s.name}:${s.kind}`)).toEqual(["series:sql", "total:sql", "flaky:ts", "final:ts"]);
      expect(json[0]!.steps[2]!.inputs).toEqual({ total: "total", label: "param:label" });
    } finally {
      project.cleanup();
    }
  });

  it("fails at load on a DAG error, naming the steps, with exit 2", async () => {
    const project = makeProject("broken-dag");
    try {
      const result = await strata(["pipelines", "--project", project.dir]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("DAG_CYCLE");
      expect(result.stderr).toMatch(/a -> b -> a|b -> a -> b/);
      expect(result.stderr).toContain("(in pipelines/loop.ts)");
    } finally {
      project.cleanup();
    }
  });

  it("names the folder when there is no project, and unknown pipelines", async () => {
    const empty = mkdtempSync(join(tmpdir(), "strata-empty-"));
    try {
      const none = await strata(["run", "x", "--project", empty]);
      expect(none.code).toBe(2);
      expect(none.stderr).toContain(`PROJECT_NOT_FOUND: no strata.config.ts in ${empty}`);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    const project = makeProject("basic");
    try {
      const unknown = await strata(["run", "nope", "--project", project.dir, "--json"]);
      expect(unknown.code).toBe(2);
      expect(JSON.parse(unknown.stdout)).toMatchObject({ error: { code: "PIPELINE_NOT_FOUND" } });
    } finally {
      project.cleanup();
    }
  });

  it("answers --help fast and well, and rejects unknown options with exit 2", async () => {
    const help = await strata(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["init", "run", "pipelines", "runs"]) expect(help.stdout).toContain(command);
    const bad = await strata(["run", "x", "--bogus"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown option '--bogus'");
  });
});
