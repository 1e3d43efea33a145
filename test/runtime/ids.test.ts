import { describe, expect, it } from "vitest";
import { newId } from "../../src/runtime/ids.js";

describe("ids", () => {
  it("are the prefix, 10 characters of time and 8 random ones, in lower-case Crockford base32", () => {
    const id = newId("r", Date.UTC(2026, 10, 24));
    expect(id).toMatch(/^r[0-9a-hjkmnp-tv-z]{18}$/);
    expect(newId("r", 0).slice(1, 11)).toBe("0000000000");
    expect(newId("r", 33).slice(1, 11)).toBe("0000000011");
    expect(newId("r", 33.9).slice(1, 11)).toBe("0000000011"); // whole milliseconds
    expect(newId("r", -5).slice(1, 11)).toBe("0000000000");
  });

  it("sort by time, and differ at the same millisecond", () => {
    const at = Date.UTC(2026, 10, 24, 12);
    const ids = Array.from({ length: 20_000 }, (_, i) => newId("r", at + Math.floor(i / 100)));
    expect(new Set(ids).size).toBe(ids.length);
    const times = ids.map((id) => id.slice(1, 11));
    expect([...times].sort()).toEqual(times);
    expect(newId("r", at + 1) > newId("r", at)).toBe(true);
  });

  it("use every character of the alphabet in their random part", () => {
    const seen = new Set(Array.from({ length: 2_000 }, () => newId("t", 0).slice(11)).join(""));
    expect(seen.size).toBe(32);
  });
});
