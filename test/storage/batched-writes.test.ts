import { describe, expect, it } from "vitest";
import { batchedWrites } from "../../src/storage/postgres/batched-writes.js";

describe("batched writes (the Postgres run store's group commit)", () => {
  it("writes the calls of one turn together, the last of each key only", async () => {
    const statements: string[][] = [];
    const loader = batchedWrites<{ k: string; v: string }>(
      async (items) => void statements.push(items.map((i) => `${i.k}=${i.v}`)),
      (i) => i.k,
    );
    await Promise.all([loader.load({ k: "a", v: "1" }), loader.load({ k: "b", v: "1" }), loader.load({ k: "a", v: "2" })]);
    expect(statements).toEqual([["b=1", "a=2"]]);
  });

  it("while a statement is on its way, the writes that come meanwhile wait and go together in the next one", async () => {
    const statements: string[][] = [];
    let release: () => void = () => undefined;
    const loader = batchedWrites<string>(
      async (items) => {
        statements.push([...items]);
        if (statements.length === 1) await new Promise<void>((done) => (release = done));
      },
      (i) => i,
    );
    const first = loader.load("a");
    await new Promise((done) => setImmediate(done)); // "a" is on its way
    const later = [loader.load("b")];
    await new Promise((done) => setImmediate(done)); // another turn
    later.push(loader.load("c"));
    await new Promise((done) => setImmediate(done));
    expect(statements).toEqual([["a"]]);
    release();
    await Promise.all([first, ...later]);
    expect(statements).toEqual([["a"], ["b", "c"]]);
    await loader.load("d"); // at rest again: leaves at the end of its turn
    expect(statements.at(-1)).toEqual(["d"]);
  });

  it("gives each caller what the write says of its item", async () => {
    const loader = batchedWrites<number, string>(
      async (items) => (item) => `${item} of ${items.length}`,
      (i) => String(i),
    );
    expect(await Promise.all([loader.load(1), loader.load(2)])).toEqual(["1 of 2", "2 of 2"]);
  });

  it("when the batch fails, writes each row alone: only the bad one's caller gets the error", async () => {
    const written: string[] = [];
    const loader = batchedWrites<string>(
      async (items) => {
        if (items.includes("bad")) throw new Error(`refused ${items.join(",")}`);
        written.push(...items);
      },
      (i) => i,
    );
    const outcomes = await Promise.allSettled([loader.load("x"), loader.load("bad"), loader.load("y")]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toEqual(new Error("refused bad"));
    expect(written).toEqual(["x", "y"]);
  });
});
