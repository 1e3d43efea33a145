import type { StoredOutput } from "../storage/run-store.js";
import type { TableEngine } from "../storage/table-engine.js";
import { TableHandle } from "./table-handle.js";

// Dates and bigints survive the trip through JSON as tagged objects.
const TAG = "$strata";

function isPlainData(value: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (value === null || ["string", "number", "boolean", "bigint"].includes(typeof value)) return true;
  if (value instanceof Date) return true;
  if (Array.isArray(value)) return value.every((v) => isPlainData(v, depth + 1));
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return false;
    return Object.values(value).every((v) => v === undefined || isPlainData(v, depth + 1));
  }
  return false;
}

/**
 * How a step's output is kept for `--resume`: plain data as JSON, tables by name, anything
 * else (functions, class instances) as opaque, which a resume recomputes.
 */
export function encodeOutput(value: unknown): StoredOutput {
  if (value === undefined) return { kind: "none" };
  if (value instanceof TableHandle) return { kind: "table", table: `${value.table.schema}.${value.table.table}`, rows: value.rowCount };
  if (!isPlainData(value)) return { kind: "opaque", type: (value as object)?.constructor?.name ?? typeof value };
  const json = JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    const raw = this[key];
    if (raw instanceof Date) return { [TAG]: "date", v: raw.toISOString() };
    if (typeof v === "bigint") return { [TAG]: "bigint", v: v.toString() };
    return v;
  });
  return { kind: "json", json };
}

/** The value back, or `undefined` when it cannot be reused (opaque, or its table is gone). */
export async function decodeOutput(stored: StoredOutput, engine: () => Promise<TableEngine>): Promise<{ value: unknown } | undefined> {
  switch (stored.kind) {
    case "none":
      return { value: undefined };
    case "json":
      return {
        value: JSON.parse(stored.json, (_k, v: unknown) => {
          if (v && typeof v === "object" && TAG in v) {
            const tagged = v as { [TAG]: string; v: string };
            return tagged[TAG] === "date" ? new Date(tagged.v) : BigInt(tagged.v);
          }
          return v;
        }) as unknown,
      };
    case "table": {
      const dot = stored.table.indexOf(".");
      const name = { schema: stored.table.slice(0, dot), table: stored.table.slice(dot + 1) };
      const e = await engine();
      return (await e.exists(name)) ? { value: new TableHandle(e, name, stored.rows) } : undefined;
    }
    case "opaque":
      return undefined;
  }
}
