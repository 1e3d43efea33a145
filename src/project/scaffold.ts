import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { StrataError } from "../errors/strata-error.js";

/** The strata package's root folder (this file is at src/project or dist/project). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const TEMPLATE = join(PACKAGE_ROOT, "templates", "project");

export interface ScaffoldOptions {
  /** How the new project depends on strata. Default: a link to this installation (`file:`). */
  strataSpec?: string;
  /** Run `npm install` in the new project. Default true. */
  install?: boolean;
  log?: (line: string) => void;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = join(dir, entry);
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}

/**
 * `strata init <dir>`: a project that runs as generated: a config, a pipeline with SQL and
 * TypeScript steps, sample data, a test, and its own `npm test`.
 */
export function scaffoldProject(target: string, options: ScaffoldOptions = {}): { dir: string; files: string[] } {
  const dir = resolve(target);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new StrataError("INIT_TARGET_EXISTS", `${dir} exists and is not empty; choose a new folder`, { details: { dir } });
  }
  const name = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9-_.]/g, "-");
  const values: Record<string, string> = { name, strataSpec: options.strataSpec ?? `file:${PACKAGE_ROOT}` };
  cpSync(TEMPLATE, dir, { recursive: true });
  // npm drops .gitignore from published packages, so the template keeps it as `gitignore`.
  renameSync(join(dir, "gitignore"), join(dir, ".gitignore"));
  const files: string[] = [];
  for (const file of listFiles(dir)) {
    let out = file;
    if (file.endsWith(".tmpl")) {
      out = file.slice(0, -".tmpl".length);
      renameSync(file, out);
    }
    const text = readFileSync(out, "utf8");
    if (text.includes("{{"))
      writeFileSync(
        out,
        text.replace(/\{\{(\w+)\}\}/g, (m, key: string) => values[key] ?? m),
      );
    files.push(out.slice(dir.length + 1));
  }
  if (options.install !== false) {
    options.log?.("installing dependencies (npm install)...");
    // npm passes its own settings to child processes as npm_config_* variables (when strata runs
    // under npx or an npm script); the new project must install with its own settings.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_config_/i.test(key)));
    const npm = spawnSync("npm", ["install", "--no-audit", "--no-fund"], { cwd: dir, env, stdio: ["ignore", "inherit", "inherit"] });
    if (npm.status !== 0) {
      throw new StrataError(
        "INIT_INSTALL_FAILED",
        `npm install failed in ${dir} (exit ${npm.status ?? npm.signal}); fix the cause and run it there`,
        { details: { dir } },
      );
    }
  }
  return { dir, files: files.sort() };
}
