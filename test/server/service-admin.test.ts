import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer, connect, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { postgresUrl, redisUrl, uniqueName } from "../helpers/services.js";
import { eventually, freePort } from "../helpers/waiting.js";
import { serveFixtureEachTest } from "./serve-fixture.js";

const serve = serveFixtureEachTest();

describe("the models service: keys, reloads, storages", () => {
  it("needs a key with the right scope everywhere but the health checks and the docs page", async () => {
    const { call, keys, workspace, server } = await serve();
    for (const path of ["/healthz", "/readyz", "/docs"]) expect((await call("GET", path, undefined, null)).status).toBe(200);
    const none = await call("POST", "/v1/endpoints/scores", { customerId: "c1" }, null);
    expect([none.status, none.body.error!.code]).toEqual([401, "AUTH_REQUIRED"]);
    const wrong = await call("GET", "/v1/endpoints", undefined, "strata_not-a-key");
    expect([wrong.status, wrong.body.error!.code]).toEqual([401, "AUTH_INVALID"]);
    for (const path of ["/v1/storages", "/metrics"]) {
      const forbidden = await call("GET", path, undefined, keys.invoke);
      expect([forbidden.status, forbidden.body.error!.code]).toEqual([403, "AUTH_FORBIDDEN"]);
      expect((await call("GET", path, undefined, keys.manage)).status).toBe(200);
    }
    expect((await call("POST", "/v1/reload", {}, keys.invoke)).status).toBe(403);
    // x-api-key works as well as a bearer token.
    expect((await fetch(`${server.url}/v1/endpoints`, { headers: { "x-api-key": keys.invoke } })).status).toBe(200);
    // A key made while the service runs works at once; a revoked one stops within the cache's refresh.
    const late = (await workspace.apiKeys.create("late", ["invoke"], Date.now())).key;
    expect((await call("POST", "/v1/endpoints/scores", { customerId: "c1" }, late)).status).toBe(200);
    await workspace.apiKeys.revoke("late", Date.now());
    await eventually(async () => expect((await call("POST", "/v1/endpoints/scores", { customerId: "c1" }, late)).status).toBe(401), 5000);
  });

  it("reloads implementations without a restart; a broken file is refused and the old ones keep serving", async () => {
    const { call, dir, keys, server } = await serve();
    writeFileSync(
      join(dir, "endpoints", "scores", "doubled.ts"),
      `import { implement } from "strata";
import scores from "./endpoint.js";
export default implement(scores, async ({ customerId }, ctx) => {
  const s = await ctx.kv<{ clv: number; batch: number }>("kv").get(customerId);
  return s ? { customerId, clv: s.clv * 2, batch: s.batch } : ctx.notFound();
});
`,
    );
    // Calls in flight while reloading all succeed.
    const calls = Array.from({ length: 200 }, () => call("POST", "/v1/endpoints/scores", { customerId: "c3" }));
    const reloaded = await call("POST", "/v1/reload", {}, keys.manage);
    expect(reloaded.body.endpoints).toEqual(["ab", "anywhere", "flaky", "scores", "shadowed", "tabled"]);
    expect((await Promise.all(calls)).every((a) => a.status === 200)).toBe(true);
    expect((await call("POST", "/v1/endpoints/scores/doubled", { customerId: "c3" })).body).toEqual({
      customerId: "c3",
      clv: 11,
      batch: 1,
    });

    writeFileSync(join(dir, "endpoints", "scores", "doubled.ts"), "export default 42;\n");
    const refused = await call("POST", "/v1/reload", {}, keys.manage);
    expect([refused.status, refused.body.error!.code, refused.body.error!.message]).toEqual([
      500,
      "ENDPOINT_INVALID",
      "endpoints/scores/doubled.ts: its default export is not implement(...): every file beside endpoint.ts is an implementation",
    ]);
    expect((await call("POST", "/v1/endpoints/scores/doubled", { customerId: "c3" })).body.clv).toBe(11);
    expect(server.endpoints().endpoints.get("scores")!.implementations.has("doubled")).toBe(true);
  });

  it("stopping: a call in flight is answered, /readyz says 503 meanwhile, and new connections are refused", async () => {
    const { keys, server } = await serve();
    const socket = connect(Number(new URL(server.url).port), "127.0.0.1");
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
    const answers = (): string[] => received.match(/HTTP\/1\.1 \d{3}/g) ?? [];
    // A first request makes sure the service holds the connection before the call starts on it.
    socket.write("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n");
    await eventually(async () => expect(answers()).toEqual(["HTTP/1.1 200"]));
    const body = JSON.stringify({ customerId: "c3" });
    const head = `POST /v1/endpoints/scores HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${keys.invoke}\r\n`;
    socket.write(`${head}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 4)}`);
    // The call is in flight (half its body sent) when the service is told to stop.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const closed = server.close();
    // The rest of the body, and a readiness check behind it on the same connection.
    socket.write(`${body.slice(4)}GET /readyz HTTP/1.1\r\nHost: test\r\n\r\n`);
    await eventually(async () => expect(answers()).toEqual(["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 503"]));
    expect(received).toContain('"clv":5.5');
    expect(received.slice(received.lastIndexOf("HTTP/1.1"))).toMatch(/^HTTP\/1\.1 503 .*\r\nConnection: close\r\n/s);
    await closed;
    socket.destroy();
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });

  it("adds a storage at the push of a button: implementations read it at once, with no restart", async () => {
    const prefix = uniqueName("serving");
    const { call, keys, publish } = await serve({ CACHE_URL: redisUrl() });
    const added = await call(
      "POST",
      "/v1/storages",
      { name: "cache", technology: "redis", format: "kv", options: { urlEnv: "CACHE_URL", prefix } },
      keys.manage,
    );
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ name: "cache", location: `${new URL(redisUrl()).host}, keys ${prefix}:*`, health: { ok: true } });
    const listed = await call("GET", "/v1/storages", undefined, keys.manage);
    expect((listed.body.storages as { name: string }[]).map((s) => s.name)).toContain("cache");
    const twice = await call(
      "POST",
      "/v1/storages",
      { name: "cache", technology: "redis", format: "kv", options: { urlEnv: "CACHE_URL" } },
      keys.manage,
    );
    expect([twice.status, twice.body.error!.code]).toEqual([409, "STORAGE_EXISTS"]);
    const bad = await call("POST", "/v1/storages", { name: "x", technology: "oracle", format: "kv" }, keys.manage);
    expect([bad.status, bad.body.error!.code]).toEqual([400, "STORAGE_INVALID"]);

    await publish("publish-to-cache");
    const read = await call("POST", "/v1/endpoints/anywhere", { storage: "cache", dataset: "cached_scores", key: "c4" });
    expect(read.body).toEqual({ found: true, doc: { customer_id: "c4", clv: 8 } });
  });
});

describe("the models service: a storage that goes down", () => {
  let port: number | undefined;
  let dir: string | undefined;
  const redis = (...args: string[]): void => {
    execFileSync(args[0] === "cli" ? "redis-cli" : "redis-server", args.slice(1), { stdio: "ignore" });
  };
  const start = (): void =>
    redis("server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "yes", "--dir", dir!);
  afterEach(() => {
    try {
      if (port !== undefined) redis("cli", "-p", String(port), "shutdown", "nosave");
    } catch {
      // Already stopped.
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    port = dir = undefined;
  });

  it("answers 503 while it is down and serves again by itself once it is back", { timeout: 60_000 }, async () => {
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), "strata-volatile-"));
    start();
    const { call, keys, publish } = await serve({ CACHE_URL: `redis://127.0.0.1:${port}` });
    const storage = { name: "cache", technology: "redis", format: "kv", options: { urlEnv: "CACHE_URL", prefix: "volatile" } };
    expect((await call("POST", "/v1/storages", storage, keys.manage)).status).toBe(201);
    await publish("publish-to-cache");
    const read = (): ReturnType<typeof call> =>
      call("POST", "/v1/endpoints/anywhere", { storage: "cache", dataset: "cached_scores", key: "c4" });
    expect((await read()).status).toBe(200);

    redis("cli", "-p", String(port), "shutdown", "save"); // its data is kept on disk for the restart
    const down = await eventually(async () => {
      const answer = await read();
      if (answer.status === 200) throw new Error("still answering");
      return answer;
    });
    expect([down.status, down.body.error!.code]).toEqual([503, "STORAGE_UNAVAILABLE"]);
    expect(down.body.error!.message).toContain(`127.0.0.1:${port}`);
    // The rest of the service is unaffected.
    expect((await call("POST", "/v1/endpoints/scores", { customerId: "c1" })).status).toBe(200);
    expect((await call("GET", "/readyz", undefined, null)).status).toBe(200);

    start();
    const back = await eventually(async () => {
      const answer = await read();
      if (answer.status !== 200) throw new Error(`still ${answer.status}`);
      return answer;
    }, 20_000);
    expect(back.body).toEqual({ found: true, doc: { customer_id: "c4", clv: 8 } });
  });

  it("answers 503 while a Postgres table storage is out of reach, and serves again by itself", { timeout: 60_000 }, async () => {
    // The storage reaches the test's Postgres through a TCP relay that the test can cut and restore.
    const target = new URL(postgresUrl());
    const relay = await tcpRelay(target.hostname, Number(target.port || 5432));
    closers.push(relay.close);
    const through = new URL(target);
    through.port = String(relay.port);
    const { call, keys, publish } = await serve({ TABLES_URL: through.toString() });
    const storage = {
      name: "tables",
      technology: "postgres",
      format: "table",
      options: { urlEnv: "TABLES_URL", schema: uniqueName("tables").toLowerCase() },
    };
    expect((await call("POST", "/v1/storages", storage, keys.manage)).status).toBe(201);
    await publish("publish-to-tables");
    const read = (): ReturnType<typeof call> => call("POST", "/v1/endpoints/tabled", { customerId: "c4" });
    expect((await read()).body).toEqual({ customerId: "c4", clv: 12 });

    await relay.cut();
    const down = await eventually(async () => {
      const answer = await read();
      if (answer.status === 200) throw new Error("still answering");
      return answer;
    });
    expect([down.status, down.body.error!.code]).toEqual([503, "STORAGE_UNAVAILABLE"]);
    expect((await call("POST", "/v1/endpoints/scores", { customerId: "c1" })).status).toBe(200);

    await relay.restore();
    const back = await eventually(async () => {
      const answer = await read();
      if (answer.status !== 200) throw new Error(`still ${answer.status}: ${JSON.stringify(answer.body)}`);
      return answer;
    }, 20_000);
    expect(back.body).toEqual({ customerId: "c4", clv: 12 });
  });
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/**
 * A TCP relay to host:port on a free local port. `cut` stops taking connections and drops the
 * open ones, as a server that went away; `restore` listens again on the same port.
 */
async function tcpRelay(
  host: string,
  port: number,
): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    const upstream = connect(port, host);
    track(client);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  const listen = (at: number): Promise<void> => new Promise((resolve) => server.listen(at, "127.0.0.1", resolve));
  await listen(0);
  const own = (server.address() as AddressInfo).port;
  const cut = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  return { port: own, cut, restore: () => listen(own), close: () => (server.listening ? cut() : Promise.resolve()) };
}
