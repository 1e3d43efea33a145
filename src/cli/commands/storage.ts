import { StrataError } from "../../errors/strata-error.js";
import { addStorage } from "../../project/add-storage.js";
import { openProject } from "../../project/load-project.js";
import type { StorageDefinition } from "../../storage/storage-definition.js";
import { EXIT } from "../exit-codes.js";
import { table } from "../format.js";

export interface StorageAddOptions {
  project?: string;
  json?: boolean;
  technology: StorageDefinition["technology"];
  format: StorageDefinition["format"];
  path?: string;
  urlEnv?: string;
  option: string[];
}

function parseOption(arg: string): [string, string | number | boolean] {
  const eq = arg.indexOf("=");
  if (eq <= 0) throw new StrataError("STORAGE_INVALID", `--option "${arg}" is not of the form name=value`, { details: { option: arg } });
  const raw = arg.slice(eq + 1);
  const value = raw === "true" ? true : raw === "false" ? false : /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  return [arg.slice(0, eq), value];
}

/** `strata storage add <name> ...`: one call, no code change; running processes see it at once. */
export async function addStorageCommand(name: string, options: StorageAddOptions): Promise<number> {
  const definition: StorageDefinition = {
    name,
    technology: options.technology,
    format: options.format,
    options: {
      ...Object.fromEntries(options.option.map(parseOption)),
      ...(options.path ? { path: options.path } : {}),
      ...(options.urlEnv ? { urlEnv: options.urlEnv } : {}),
    },
  };
  const health = await addStorage(definition, options.project === undefined ? {} : { project: options.project });
  if (options.json) process.stdout.write(`${JSON.stringify({ storage: definition, health }, null, 2)}\n`);
  else
    process.stdout.write(
      `added storage ${name} (${definition.technology}, ${definition.format}): ${health.ok ? "healthy" : "NOT HEALTHY"}, ${health.detail}\n`,
    );
  return EXIT.OK;
}

/** `strata storage list`: every storage with technology, format, where it is declared, where its data is, and its health. */
export async function listStoragesCommand(options: { project?: string; json?: boolean }): Promise<number> {
  const workspace = (await openProject(options.project)).openWorkspace();
  try {
    const status = await workspace.storages.status();
    if (options.json) {
      process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    } else {
      const rows = status.map((s) => [
        s.health.ok ? "✔" : "✖",
        s.definition.name,
        s.definition.technology,
        s.definition.format,
        s.origin,
        s.location ?? "",
        s.health.detail,
      ]);
      process.stdout.write(`${table(["", "storage", "technology", "format", "declared", "where", "health"], rows)}\n`);
    }
    return status.every((s) => s.health.ok) ? EXIT.OK : EXIT.FAILED;
  } finally {
    await workspace.close();
  }
}

/** `strata storage remove <name>`: forgets a storage added at run time (its data is left as it is). */
export async function removeStorageCommand(name: string, options: { project?: string; json?: boolean }): Promise<number> {
  const workspace = (await openProject(options.project)).openWorkspace();
  try {
    const entry = (await workspace.storages.definitions()).find((e) => e.definition.name === name);
    if (!entry) throw new StrataError("STORAGE_NOT_FOUND", `no storage named "${name}"`, { details: { storage: name } });
    if (entry.origin !== "added") {
      throw new StrataError(
        "STORAGE_INVALID",
        `storage "${name}" is ${entry.origin === "builtin" ? "built in" : "declared in strata.config.ts"}; only storages added with \`strata storage add\` can be removed`,
        {
          details: { storage: name, origin: entry.origin },
        },
      );
    }
    await workspace.catalog.removeStorage(name);
    process.stdout.write(options.json ? `${JSON.stringify({ removed: name })}\n` : `removed storage ${name} (its data is untouched)\n`);
    return EXIT.OK;
  } finally {
    await workspace.close();
  }
}
