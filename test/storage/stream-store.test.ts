import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openStreamStore, type StreamChoice } from "../../src/storage/stream-stores.js";
import type { StreamStore } from "../../src/storage/stream-store.js";
import { rejection } from "../helpers/errors.js";
import { redisUrl, uniqueName } from "../helpers/services.js";
import { eventually, freePort } from "../helpers/waiting.js";

const opened: StreamStore[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "strata-streams-"));
  dirs.push(dir);
  return dir;
}

function redisChoice(url: string): StreamChoice {
  return { technology: "redis", url, endpoint: new URL(url).host, prefix: uniqueName("streams") };
}

function open(choice: StreamChoice): StreamStore {
  const store = openStreamStore(choice, tempDir());
  opened.push(store);
  return store;
}

// One conformance suite, run on both stores the control plane can keep streams in.
describe.each([
  ["sqlite", (): StreamChoice => ({ technology: "sqlite" })],
  ["redis", (): StreamChoice => redisChoice(redisUrl())],
] as const)("the %s stream store", (_name, choice) => {
  it("numbers events from 1 per stream, keeps a repeated id once, and reads them in order after a seq", async () => {
    const store = open(choice());
    const first = await store.append("orders", "o-1", { id: 1, items: ["a", "b"] }, 1000);
    expect(first).toEqual({
      event: { stream: "orders", seq: 1, id: "o-1", at: 1000, payload: { id: 1, items: ["a", "b"] } },
      duplicate: false,
    });
    expect((await store.append("orders", "o-2", "text", 2000)).event.seq).toBe(2);
    // A repeated id: the event kept the first time, not the new payload.
    const again = await store.append("orders", "o-1", { id: 99 }, 3000);
    expect(again).toEqual({ event: first.event, duplicate: true });
    expect((await store.append("orders", "o-3", null, 4000)).event.seq).toBe(3);
    // Another stream has its own numbers and ids.
    expect((await store.append("refunds", "o-1", [1, 2], 5000)).event).toMatchObject({ stream: "refunds", seq: 1 });

    const read = await store.read("orders", 0, 10);
    expect(read.map((e) => [e.seq, e.id, e.at, e.payload])).toEqual([
      [1, "o-1", 1000, { id: 1, items: ["a", "b"] }],
      [2, "o-2", 2000, "text"],
      [3, "o-3", 4000, null],
    ]);
    expect((await store.read("orders", 1, 10)).map((e) => e.seq)).toEqual([2, 3]);
    expect((await store.read("orders", 0, 2)).map((e) => e.seq)).toEqual([1, 2]);
    expect(await store.read("orders", 3, 10)).toEqual([]);
    expect(await store.read("never-posted", 0, 10)).toEqual([]);
  });

  it("keeps each consumer's offset, which only moves forward", async () => {
    const store = open(choice());
    expect(await store.offset("orders", "on-order")).toBe(0);
    await store.commit("orders", "on-order", 2);
    await store.commit("orders", "on-order", 1); // a late commit does not move it back
    expect(await store.offset("orders", "on-order")).toBe(2);
    expect(await store.offset("orders", "audit")).toBe(0);
    expect(await store.offset("refunds", "on-order")).toBe(0);
  });

  it("numbers concurrent appends without a gap or a repeat", async () => {
    const store = open(choice());
    const appended = await Promise.all(Array.from({ length: 50 }, (_, i) => store.append("burst", `e-${i}`, i, i)));
    expect(appended.map((a) => a.event.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect((await store.read("burst", 0, 100)).map((e) => e.payload)).toEqual(appended.map((a) => a.event.payload));
  });
});

describe("the redis stream store on a server of its own", () => {
  let port: number | undefined;
  let dir: string | undefined;
  const server = (...args: string[]): void => void execFileSync("redis-server", args, { stdio: "ignore" });
  const start = (appendOnly: boolean): void =>
    server(
      ...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--daemonize", "yes", "--dir", dir!],
      ...["--appendonly", appendOnly ? "yes" : "no", "--appendfsync", "always", "--pidfile", join(dir!, "redis.pid")],
    );
  const kill9 = (): void => {
    process.kill(Number(readFileSync(join(dir!, "redis.pid"), "utf8")), "SIGKILL");
  };
  afterEach(() => {
    try {
      kill9();
    } catch {
      // Already stopped.
    }
    port = dir = undefined;
  });

  it("keeps accepted events through a kill -9 of a server with its append-only file; warns when there is none", async () => {
    [port, dir] = [await freePort(), tempDir()];
    start(true);
    const choice = redisChoice(`redis://127.0.0.1:${port}`);
    const store = open(choice);
    await eventually(async () => expect(await store.durabilityWarning()).toBeUndefined());
    await store.append("orders", "o-1", { id: 1 }, 1000);
    await store.append("orders", "o-2", { id: 2 }, 2000);
    await store.commit("orders", "on-order", 1);
    kill9();
    start(true);
    await eventually(async () => expect((await store.read("orders", 0, 10)).map((e) => e.id)).toEqual(["o-1", "o-2"]), 20_000); // a restart under load can be slow
    expect(await store.offset("orders", "on-order")).toBe(1);
    // Numbering goes on after the restart, and an id kept before it is still known.
    expect((await store.append("orders", "o-3", 3, 3000)).event.seq).toBe(3);
    expect((await store.append("orders", "o-1", 1, 4000)).duplicate).toBe(true);

    const memoryOnly = open(redisChoice(redisUrl())); // the test server runs without one
    expect(await memoryOnly.durabilityWarning()).toMatch(/does not write an append-only file: .* \(set appendonly yes\)$/);
  });

  it("fails fast with STORAGE_UNAVAILABLE naming the server while it is down, and works again once it is back", async () => {
    [port, dir] = [await freePort(), tempDir()];
    start(false);
    const store = open(redisChoice(`redis://127.0.0.1:${port}`));
    await eventually(async () => expect((await store.append("orders", "o-1", 1, 1000)).event.seq).toBe(1));
    kill9();
    // The first append after the kill may still go out on the connection before it is seen closed.
    const refused = await eventually(() => rejection(store.append("orders", "o-2", 2, 2000)));
    expect(refused.code).toBe("STORAGE_UNAVAILABLE");
    expect(refused.message).toContain(`the stream store (redis 127.0.0.1:${port}) is unavailable: append to "orders" failed`);
    start(false);
    await eventually(async () => expect((await store.append("orders", "o-2", 2, 2000)).event.seq).toBe(1), 20_000);
  });
});
