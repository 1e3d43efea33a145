import { describe, expect, it } from "vitest";
import { decodeOutput, encodeOutput } from "../../src/runtime/output-codec.js";
import { TableHandle } from "../../src/runtime/table-handle.js";
import { DuckDbTableEngine } from "../../src/storage/duckdb/table-engine.js";
import type { TableEngine } from "../../src/storage/table-engine.js";

const noEngine = (): Promise<TableEngine> => Promise.reject(new Error("no engine needed"));

async function roundTrip(value: unknown): Promise<unknown> {
  const stored = encodeOutput(value);
  expect(stored.kind).toBe("json");
  return (await decodeOutput(JSON.parse(JSON.stringify(stored)) as typeof stored, noEngine))?.value;
}

describe("output codec", () => {
  it("keeps plain JSON data, Dates and bigints, at any depth", async () => {
    const value = {
      n: 1.5,
      s: "x",
      ok: false,
      none: null,
      at: new Date("2026-05-06T07:08:09.010Z"),
      big: -(2n ** 80n),
      list: [new Date(0), 3n, { deep: [1n] }],
    };
    expect(await roundTrip(value)).toEqual(value);
    expect(await roundTrip(new Date("2026-01-01T00:00:00Z"))).toEqual(new Date("2026-01-01T00:00:00Z"));
    expect(await roundTrip(12n)).toBe(12n);
    expect(await roundTrip([])).toEqual([]);
    expect(await roundTrip("text")).toBe("text");
  });

  it("drops undefined properties the way JSON does", async () => {
    expect(await roundTrip({ a: 1, b: undefined })).toEqual({ a: 1 });
  });

  it("undefined is 'none' and comes back as undefined", async () => {
    expect(encodeOutput(undefined)).toEqual({ kind: "none" });
    expect(await decodeOutput({ kind: "none" }, noEngine)).toEqual({ value: undefined });
  });

  it("class instances and functions are opaque and cannot be reused", async () => {
    expect(encodeOutput(new Map())).toEqual({ kind: "opaque", type: "Map" });
    expect(encodeOutput({ nested: new Set([1]) })).toEqual({ kind: "opaque", type: "Object" });
    expect(encodeOutput(() => 1)).toMatchObject({ kind: "opaque" });
    expect(await decodeOutput({ kind: "opaque", type: "Map" }, noEngine)).toBeUndefined();
  });

  it("tables are kept by name and come back only while the table exists", async () => {
    const engine = await DuckDbTableEngine.open(":memory:");
    try {
      const name = { schema: "r1", table: "t" };
      await engine.createTableAs(name, { strings: ["select 1 as x"], parts: [] }, new AbortController().signal);
      const stored = encodeOutput(new TableHandle(engine, name, 1));
      expect(stored).toEqual({ kind: "table", table: "r1.t", rows: 1 });
      const back = await decodeOutput(stored, () => Promise.resolve(engine));
      expect(back?.value).toBeInstanceOf(TableHandle);
      expect(await (back!.value as TableHandle).rows()).toEqual([{ x: 1 }]);
      expect(await decodeOutput({ kind: "table", table: "r1.gone", rows: 1 }, () => Promise.resolve(engine))).toBeUndefined();
    } finally {
      await engine.close();
    }
  });
});
