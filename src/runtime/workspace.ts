import { join } from "node:path";
import type { RunStore } from "../storage/run-store.js";
import type { TableEngine } from "../storage/table-engine.js";
import { SqliteRunStore } from "../storage/sqlite/run-store.js";

/**
 * Where runs are recorded and SQL steps execute. The embedded defaults live in a project's
 * `.strata/` folder: metadata in SQLite, tables in DuckDB (opened only when a SQL step needs it).
 */
export interface Workspace {
  readonly store: RunStore;
  engine(): Promise<TableEngine>;
  close(): Promise<void>;
}

export function openWorkspace(dir: string | ":memory:"): Workspace {
  const memory = dir === ":memory:";
  const store = new SqliteRunStore(memory ? ":memory:" : join(dir, "metadata.sqlite"));
  let engine: Promise<TableEngine> | undefined;
  return {
    store,
    // DuckDB costs ~130 ms to load: only runs with a SQL step pay for it.
    engine: () =>
      (engine ??= import("../storage/duckdb/table-engine.js").then(({ DuckDbTableEngine }) =>
        DuckDbTableEngine.open(memory ? ":memory:" : join(dir, "warehouse.duckdb")),
      )),
    async close() {
      await store.close();
      if (engine) await (await engine).close();
    },
  };
}
