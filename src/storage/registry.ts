import type { StorageAdapter } from "./adapter.js";
import type { Technology } from "./storage-definition.js";

// Technology -> its adapter, loaded on first use: each pulls in a driver (DuckDB, pg, ioredis)
// that commands not touching that technology should not pay for. Adding a technology is a
// folder and a line here; shared code never asks which technology it has.
const ADAPTERS: Record<Technology, () => Promise<StorageAdapter>> = {
  duckdb: async () => (await import("./duckdb/adapter.js")).duckdbAdapter,
  sqlite: async () => (await import("./sqlite/adapter.js")).sqliteAdapter,
  postgres: async () => (await import("./postgres/adapter.js")).postgresAdapter,
  redis: async () => (await import("./redis/adapter.js")).redisAdapter,
  files: async () => (await import("./files/adapter.js")).filesAdapter,
};

export function adapterFor(technology: Technology): Promise<StorageAdapter> {
  return ADAPTERS[technology]();
}
