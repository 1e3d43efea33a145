import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach } from "vitest";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const BIN = join(ROOT, "bin", "strata.js");

/** A fixture project copied to a temp dir, with `strata` linked in as a project would install it. */
export function makeProject(fixture: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `strata-${fixture}-`));
  cpSync(join(ROOT, "test", "fixtures", fixture), dir, { recursive: true });
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules", "strata"), "dir");
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (`npm run build` first; `npm test` does it). */
export function strata(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: options.cwd ?? ROOT, env: { ...process.env, CI: "true", ...options.env }, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * A fresh copy of a fixture project for each test of the file, and the CLI pointed at it:
 * `cli(...args)` runs `strata <args> --project <the copy>`.
 */
export function projectEachTest(fixture: string): { dir: () => string; cli: (...args: string[]) => Promise<CliResult> } {
  let project: ReturnType<typeof makeProject> | undefined;
  beforeEach(() => {
    project = makeProject(fixture);
  });
  afterEach(() => project?.cleanup());
  const dir = (): string => {
    if (!project) throw new Error("projectEachTest: used outside a test");
    return project.dir;
  };
  return { dir, cli: (...args) => strata([...args, "--project", dir()]) };
}
