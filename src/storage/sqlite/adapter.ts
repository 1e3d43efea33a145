import { assertUsable } from "../definition-check.js";
import { isAbsolute, join, resolve } from "node:path";
import type { Health, StorageAdapter, StorageContext } from "../adapter.js";
import type { Format, StorageDefinition } from "../storage-definition.js";
import { SqliteKvStore } from "./kv-store.js";

const OPTIONS = ["path"] as const;

/** Where the storage's file lives: `path` (relative to the project) or `<stateDir>/<name>.kv.sqlite`. */
function filePath(definition: StorageDefinition, context: StorageContext): string {
  const path = definition.options.path;
  if (typeof path !== "string") return join(context.stateDir, `${definition.name}.kv.sqlite`);
  return isAbsolute(path) ? path : resolve(context.projectDir, path);
}

const FORMATS = ["kv"] as const satisfies readonly Format[];

function check(definition: StorageDefinition): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(definition.options)) {
    if (!(OPTIONS as readonly string[]).includes(name)) {
      problems.push(`sqlite storage "${definition.name}": unknown option "${name}" (known: ${OPTIONS.join(", ")})`);
    }
  }
  const path = definition.options.path;
  if (path !== undefined && (typeof path !== "string" || path.trim() === "")) {
    problems.push(`sqlite storage "${definition.name}": option "path" must be a non-empty string (a file path, relative to the project)`);
  }
  return problems;
}

/** SQLite: the embedded default for key-value storages, one database file per storage. */
export const sqliteAdapter: StorageAdapter = {
  technology: "sqlite",
  formats: FORMATS,
  check,

  // async so that every failure, even of the checks, is a rejection.
  async open(definition, context) {
    assertUsable(sqliteAdapter, definition);
    const location = filePath(definition, context);
    const kv = new SqliteKvStore(location, { storage: definition.name });
    return {
      definition,
      location,
      kv,
      async health(): Promise<Health> {
        try {
          const { sqliteVersion, datasets } = await kv.describe();
          return { ok: true, detail: `sqlite ${sqliteVersion}, ${datasets} ${datasets === 1 ? "dataset" : "datasets"}` };
        } catch (error) {
          return { ok: false, detail: (error as Error).message };
        }
      },
      close() {
        kv.close();
        return Promise.resolve();
      },
    };
  },
};
