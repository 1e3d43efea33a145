import { assertUsable } from "../definition-check.js";
import { readdir, stat } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import type { Health, StorageAdapter, StorageContext } from "../adapter.js";
import type { Format, StorageDefinition } from "../storage-definition.js";

const OPTIONS = ["path"] as const;
const FORMATS = ["files"] as const satisfies readonly Format[];

function check(definition: StorageDefinition): string[] {
  const problems: string[] = [];
  const where = `files storage "${definition.name}"`;
  for (const name of Object.keys(definition.options)) {
    if (!(OPTIONS as readonly string[]).includes(name)) problems.push(`${where}: unknown option "${name}" (known: ${OPTIONS.join(", ")})`);
  }
  const { path } = definition.options;
  if (path === undefined) problems.push(`${where}: option "path" is required: the folder of the files, relative to the project`);
  else if (typeof path !== "string" || path.trim() === "") {
    problems.push(`${where}: option "path" must be a non-empty string (a folder, relative to the project), not ${JSON.stringify(path)}`);
  }
  return problems;
}

/** The folder of a files storage, absolute: `path` resolved against the project folder. */
export function filesFolder(definition: StorageDefinition, context: StorageContext): string {
  const path = String(definition.options.path);
  return isAbsolute(path) ? path : resolve(context.projectDir, path);
}

async function folderHealth(folder: string): Promise<Health> {
  try {
    if (!(await stat(folder)).isDirectory()) return { ok: false, detail: `${folder} is not a folder` };
    const entries = await readdir(folder, { recursive: true, withFileTypes: true });
    const files = entries.filter((e) => e.isFile()).length;
    return { ok: true, detail: `${files} ${files === 1 ? "file" : "files"}` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { ok: false, detail: `the folder ${folder} does not exist` };
    if (code === "EACCES") return { ok: false, detail: `the folder ${folder} cannot be read (permission denied)` };
    return { ok: false, detail: `the folder ${folder} cannot be read: ${(error as Error).message}` };
  }
}

/**
 * Files: a folder of raw inputs (CSV, JSON lines, Parquet) that datasets name by path or glob.
 * Its one capability is `files.folder`; it holds no tables and no key-value data: the runtime
 * reads its datasets into an engine with file-reader.ts, DuckDB doing the reading whatever the target.
 */
export const filesAdapter: StorageAdapter = {
  technology: "files",
  formats: FORMATS,
  check,

  // async so that every failure, even of the checks, is a rejection.
  async open(definition, context) {
    assertUsable(filesAdapter, definition);
    // A missing folder does not fail open(): health says so, and files put there later are seen.
    const folder = filesFolder(definition, context);
    return {
      definition,
      location: folder,
      files: { folder },
      health: () => folderHealth(folder),
      close: () => Promise.resolve(),
    };
  },
};
