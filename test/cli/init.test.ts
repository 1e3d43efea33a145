import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { strata } from "./helpers.js";

let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), "strata-init-"));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("strata init", () => {
  it("scaffolds a project that runs as generated and passes its own npm test", async () => {
    const dir = join(base, "my-project");
    const init = await strata(["init", dir]);
    expect(init.code, init.stderr + init.stdout).toBe(0);
    for (const file of [
      "strata.config.ts",
      "pipelines/orders.ts",
      "endpoints/README.md",
      "data/orders.csv",
      "test/orders.test.ts",
      ".gitignore",
      "package.json",
    ]) {
      expect(existsSync(join(dir, file)), file).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))).toMatchObject({ name: "my-project" });
    const test = execFileSync("npm", ["test"], { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
    expect(test).toMatch(/# pass 2/);
    expect(test).toMatch(/# fail 0/);
    const run = await strata(["run", "orders", "--param", "minAmount=20", "--json"], { cwd: dir });
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as { steps: { output: unknown }[] }).steps[2]!.output).toEqual({
      customers: 3,
      total: 295.6,
      top: "ada",
    });
    expect(existsSync(join(dir, ".strata", "metadata.sqlite"))).toBe(true);
  });

  it("refuses a folder that is not empty, with exit 2", async () => {
    const dir = join(base, "taken");
    await strata(["init", dir, "--no-install"]);
    writeFileSync(join(dir, "extra.txt"), "x");
    const again = await strata(["init", dir, "--no-install"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("INIT_TARGET_EXISTS");
  });
});
