import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import { createClient } from "strata/client";
import { afterEach, describe, expect, it } from "vitest";
import type customerValue from "../../cltv/endpoints/customer-value/endpoint.js";
import { createCheckoutServer, offerFor, type OfferAnswer } from "../checkout.js";
import { decideOffer, defaultOffer, RULES } from "../offer.js";

describe("decideOffer", () => {
  it.each([
    [{ clv: 350, pAlive: 0.9 }, "vip", true, 10],
    [{ clv: RULES.vipClv, pAlive: 0.1 }, "vip", true, 10],
    [{ clv: 67, pAlive: 1 }, "free-shipping", true, 0],
    [{ clv: 12, pAlive: 0.2 }, "win-back", false, 15],
    [{ clv: 10.6, pAlive: 1 }, "standard", false, 0],
    [{ clv: 0, pAlive: RULES.winBackPAlive }, "standard", false, 0],
  ] as const)("%o gets %s", (value, kind, freeShipping, discountPercent) => {
    expect(decideOffer(value)).toMatchObject({ kind, freeShipping, discountPercent });
  });

  it("says why", () => {
    expect(decideOffer({ clv: 120.456, pAlive: 0.8 }).reason).toBe("CLV 120.46 >= 100");
    expect(decideOffer(undefined)).toEqual(defaultOffer("no score: a new customer"));
  });
});

// The degrade path against services that cannot answer: the checkout still answers, with the default offer.
describe("the checkout when the models service cannot answer", () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  async function listen(server: Server | HttpServer): Promise<number> {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as AddressInfo).port;
  }

  /** A port nothing listens on. */
  async function closedPort(): Promise<number> {
    const probe = createServer();
    const port = await listen(probe);
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    return port;
  }

  /** A service that takes connections and never answers. */
  async function silentService(): Promise<number> {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    const port = await listen(silent);
    closers.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    return port;
  }

  /** The checkout, on a free port, calling the models service at `modelsPort`; returns its URL and log. */
  async function checkout(modelsPort: number): Promise<{ url: string; log: string[] }> {
    const models = createClient<typeof customerValue>({ url: `http://127.0.0.1:${modelsPort}`, apiKey: "any", timeoutMs: 50 });
    const log: string[] = [];
    const server = createCheckoutServer(models, (line) => log.push(line));
    const port = await listen(server);
    closers.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { url: `http://127.0.0.1:${port}`, log };
  }

  it("gives the default offer when the models service is down", async () => {
    const { url, log } = await checkout(await closedPort());
    const response = await fetch(`${url}/offer?customer=00042`);
    expect(response.status).toBe(200);
    expect((await response.json()) as OfferAnswer).toEqual({
      customerId: "00042",
      offer: defaultOffer("models service: SERVICE_UNREACHABLE"),
      source: "default",
      degraded: "SERVICE_UNREACHABLE",
    });
    expect(log).toHaveLength(1);
    expect(JSON.parse(log[0]!)).toMatchObject({ level: "warn", code: "SERVICE_UNREACHABLE", customerId: "00042" });
  });

  it("gives the default offer when the models service is too slow", async () => {
    const { url } = await checkout(await silentService());
    const started = performance.now();
    const answer = (await (await fetch(`${url}/offer?customer=00042`)).json()) as OfferAnswer;
    expect(answer).toMatchObject({ source: "default", degraded: "CLIENT_TIMEOUT", offer: { kind: "standard" } });
    expect(performance.now() - started).toBeLessThan(1000); // 50 ms budget, not the service's silence
  });

  it("asks for a customer", async () => {
    const { url } = await checkout(await closedPort());
    expect((await fetch(`${url}/offer`)).status).toBe(400);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: "ok" });
  });

  it("offerFor degrades the same way without HTTP in front", async () => {
    const models = createClient<typeof customerValue>({ url: `http://127.0.0.1:${await closedPort()}`, apiKey: "any" });
    const answer = await offerFor(models, "00001", () => undefined);
    expect(answer).toMatchObject({ source: "default", degraded: "SERVICE_UNREACHABLE" });
  });
});
