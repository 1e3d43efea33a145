import { assertUsable } from "../definition-check.js";
import { isAbsolute, join, resolve } from "node:path";
import type { Health, StorageAdapter, StorageContext } from "../adapter.js";
import type { Format, StorageDefinition } from "../storage-definition.js";
import { DuckDbQuarantineStore } from "./quarantine-store.js";
import { DuckDbTableEngine } from "./table-engine.js";

const OPTIONS = ["path"] as const;
const FORMATS = ["table"] as const satisfies readonly Format[];

/** Where the database lives: `path` (relative to the project, or `:memory:`) or `<stateDir>/warehouse.duckdb`. */
function databasePath(definition: StorageDefinition, context: StorageContext): string {
  const path = definition.options.path;
  if (typeof path !== "string") return join(context.stateDir, "warehouse.duckdb");
  if (path === ":memory:" || isAbsolute(path)) return path;
  return resolve(context.projectDir, path);
}

function check(definition: StorageDefinition): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(definition.options)) {
    if (!(OPTIONS as readonly string[]).includes(name)) {
      problems.push(`duckdb storage "${definition.name}": unknown option "${name}" (known: ${OPTIONS.join(", ")})`);
    }
  }
  const path = definition.options.path;
  if (path !== undefined && (typeof path !== "string" || path.trim() === "")) {
    problems.push(
      `duckdb storage "${definition.name}": option "path" must be a non-empty string (a file path relative to the project, or ":memory:")`,
    );
  }
  return problems;
}

/** DuckDB: the embedded default for tables. Storages that name the same file share one database. */
export const duckdbAdapter: StorageAdapter = {
  technology: "duckdb",
  formats: FORMATS,
  check,

  // async so that every failure, even of the checks, is a rejection.
  async open(definition, context) {
    assertUsable(duckdbAdapter, definition);
    const location = databasePath(definition, context);
    const tables = await DuckDbTableEngine.open(location, { storage: definition.name });
    return {
      definition,
      location,
      tables,
      quarantine: new DuckDbQuarantineStore(tables),
      async health(): Promise<Health> {
        try {
          const { version, tables: count } = await tables.stats();
          return { ok: true, detail: `duckdb ${version}, ${count} ${count === 1 ? "table" : "tables"}` };
        } catch (error) {
          return { ok: false, detail: (error as Error).message };
        }
      },
      close: () => tables.close(),
    };
  },
};
