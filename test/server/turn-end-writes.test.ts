import { describe, expect, it } from "vitest";
import { turnEndWrites } from "../../src/server/turn-end-writes.js";

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("turnEndWrites", () => {
  it("makes the writes of a turn together once the turn ends, in order; a failing one fails alone", async () => {
    const later = turnEndWrites();
    const done: string[] = [];
    later(() => done.push("a"));
    later(() => {
      throw new Error("the connection went away");
    });
    later(() => done.push("b"));
    expect(done).toEqual([]);
    await nextTurn();
    expect(done).toEqual(["a", "b"]);
    later(() => done.push("c"));
    await nextTurn();
    expect(done).toEqual(["a", "b", "c"]);
  });
});
