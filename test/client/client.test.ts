import { createServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, StrataClientError, type EndpointContract } from "../../src/client/index.js";
import { loadProject } from "../../src/project/load-project.js";
import type { Workspace } from "../../src/runtime/workspace.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { startModelsServer, type ModelsServer } from "../../src/server/models-server.js";
import { makeProject } from "../cli/helpers.js";
import { freePort } from "../helpers/waiting.js";

// The fixture's endpoint types (test/fixtures/serving/endpoints/*/endpoint.ts), declared by hand.
type Scores = EndpointContract<
  "scores",
  { customerId: string; detail?: "short" | "full" },
  { customerId: string; clv: number; batch: number }
>;
type Flaky = EndpointContract<"flaky", { mode: "ok" | "slow" | "fail" }, { by: string }>;
type Endpoints = Scores | Flaky;

let project: ReturnType<typeof makeProject>;
let workspace: Workspace;
let server: ModelsServer;
let key: string;

beforeAll(async () => {
  project = makeProject("serving");
  const loaded = await loadProject(project.dir);
  workspace = loaded.openWorkspace();
  const run = await runPipeline(loaded.pipeline("publish"), { workspace, params: { batch: 1 }, logLevel: "silent" });
  expect(run.status).toBe("succeeded");
  key = (await workspace.apiKeys.create("client-test", ["invoke"], Date.now())).key;
  server = await startModelsServer({ projectDir: project.dir, workspace, port: 0 });
});

afterAll(async () => {
  await server?.close();
  await workspace?.close();
  project?.cleanup();
});

const models = (options: { timeoutMs?: number; retries?: number; apiKey?: string } = {}) =>
  createClient<Endpoints>({ url: server.url, apiKey: options.apiKey ?? key, ...options });

/** Rejects with a StrataClientError and returns it. */
async function failure(promise: Promise<unknown>): Promise<StrataClientError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(StrataClientError);
  return error as StrataClientError;
}

/** A TCP service that accepts connections and never answers. */
async function silentService(): Promise<{ url: string; close: () => void }> {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const address = silent.address();
  if (typeof address !== "object" || !address) throw new Error("no port");
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      silent.close();
    },
  };
}

describe("createClient against the models service", () => {
  it("calls an endpoint through its routing", async () => {
    expect(await models().call("scores", { customerId: "c3" })).toEqual({ customerId: "c3", clv: 5.5, batch: 1 });
    expect(await models().invoke("scores", { customerId: "c3" })).toEqual({
      output: { customerId: "c3", clv: 5.5, batch: 1 },
      implementation: "lookup",
    });
  });

  it("calls an implementation by name", async () => {
    const answer = await models().invoke("scores", { customerId: "c4", detail: "full" }, { implementation: "table" });
    expect(answer).toEqual({ output: { customerId: "c4", clv: 7, batch: 1 }, implementation: "table" });
  });

  it("says when the fallback answered", async () => {
    expect(await models().invoke("flaky", { mode: "fail" })).toEqual({
      output: { by: "backup" },
      implementation: "backup",
      fallbackFrom: "primary",
    });
  });

  it("runs a batch: one result per input, in order, a missing key failing alone", async () => {
    const results = await models().batch("scores", [{ customerId: "c1" }, { customerId: "nobody" }, { customerId: "c2" }]);
    expect(results).toHaveLength(3);
    expect(results[0]).toEqual({ ok: true, output: { customerId: "c1", clv: 2.5, batch: 1 }, implementation: "lookup" });
    expect(results[2]).toEqual({ ok: true, output: { customerId: "c2", clv: 4, batch: 1 }, implementation: "lookup" });
    const missing = results[1];
    if (missing?.ok !== false) throw new Error("the second input should fail");
    expect(missing.error).toBeInstanceOf(StrataClientError);
    expect(missing.error).toMatchObject({ code: "KEY_NOT_FOUND", status: 404, retryable: false });
    expect(missing.error.message).toContain("nobody");
    expect(await models().batch("scores", [])).toEqual([]);
  });

  it("runs a batch on one implementation", async () => {
    const results = await models().batch("scores", [{ customerId: "c5" }], { implementation: "table" });
    expect(results).toEqual([{ ok: true, output: { customerId: "c5", clv: 8.5, batch: 1 }, implementation: "table" }]);
  });

  it("lists the endpoint types", async () => {
    const endpoints = await models().endpoints();
    expect(endpoints.map((e) => e.name)).toEqual(expect.arrayContaining(["ab", "flaky", "scores", "shadowed"]));
    const scores = endpoints.find((e) => e.name === "scores")!;
    expect(scores.description).toBe("the published score of one customer");
    expect(scores.implementations.map((i) => i.name).sort()).toEqual(["broken", "lookup", "table", "wrong"]);
    expect(scores.routing).toMatchObject({ default: "lookup" });
    expect(scores.input).toMatchObject({ type: "object", properties: { customerId: { type: "string" } } });
  });

  it("turns an invalid input into INPUT_INVALID with the service's details", async () => {
    const error = await failure(models().call("scores", { customerId: "" }));
    expect(error).toMatchObject({ code: "INPUT_INVALID", status: 400, retryable: false, attempts: 1 });
    expect(error.details["issues"]).toEqual([expect.objectContaining({ field: "customerId" })]);
    expect(error.message).toContain("customerId");
  });

  it("turns a batch with an invalid input into INPUT_INVALID naming the input", async () => {
    const error = await failure(models().batch("scores", [{ customerId: "c1" }, { customerId: "" }]));
    expect(error).toMatchObject({ code: "INPUT_INVALID", status: 400 });
    expect(error.details["issues"]).toEqual([expect.objectContaining({ field: "inputs.1.customerId" })]);
  });

  it("says which endpoint or implementation does not exist", async () => {
    const untyped = createClient({ url: server.url, apiKey: key });
    expect(await failure(untyped.call("nope", {}))).toMatchObject({ code: "ENDPOINT_NOT_FOUND", status: 404 });
    expect(await failure(models().call("flaky", { mode: "ok" }, { implementation: "nope" }))).toMatchObject({
      code: "IMPLEMENTATION_NOT_FOUND",
      status: 404,
      details: { implementations: expect.arrayContaining(["primary", "backup"]) },
    });
  });

  it("turns a wrong key into AUTH_INVALID", async () => {
    const error = await failure(models({ apiKey: "not-a-key" }).call("scores", { customerId: "c1" }));
    expect(error).toMatchObject({ code: "AUTH_INVALID", status: 401, retryable: false });
    expect(await failure(models({ apiKey: "not-a-key" }).endpoints())).toMatchObject({ code: "AUTH_INVALID" });
  });

  it("passes on the service's timeout (504, retryable) and retries it when asked", async () => {
    // Called on "primary" itself, the slow mode outlives the type's 50 ms budget and no fallback runs.
    const once = await failure(models().call("flaky", { mode: "slow" }, { implementation: "primary" }));
    expect(once).toMatchObject({ code: "IMPLEMENTATION_TIMEOUT", status: 504, retryable: true, attempts: 1 });
    const twice = await failure(models({ retries: 1 }).call("flaky", { mode: "slow" }, { implementation: "primary" }));
    expect(twice).toMatchObject({ code: "IMPLEMENTATION_TIMEOUT", status: 504, attempts: 2 });
    expect(twice.message).toMatch(/after 2 attempts/);
  });

  it("gives up at its own time budget with CLIENT_TIMEOUT", async () => {
    // A service that takes connections and never answers. (Not the models service: a call given up on
    // there leaves the test's fetch pool a spare connection that the service's close() waits for.)
    const { url, close } = await silentService();
    try {
      const error = await failure(createClient<Endpoints>({ url, apiKey: key, timeoutMs: 20 }).call("scores", { customerId: "c1" }));
      expect(error).toMatchObject({ code: "CLIENT_TIMEOUT", status: 0, retryable: true, details: { timeoutMs: 20 } });
      const perCall = createClient<Endpoints>({ url, apiKey: key, retries: 1, retryDelayMs: 1 });
      expect(await failure(perCall.call("scores", { customerId: "c1" }, { timeoutMs: 10 }))).toMatchObject({
        code: "CLIENT_TIMEOUT",
        attempts: 2,
      });
    } finally {
      close();
    }
  });

  it("turns a closed port into SERVICE_UNREACHABLE, retried when asked", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const error = await failure(createClient<Endpoints>({ url, apiKey: key }).call("scores", { customerId: "c1" }));
    expect(error).toMatchObject({ code: "SERVICE_UNREACHABLE", status: 0, retryable: true, attempts: 1 });
    expect(error.details).toMatchObject({ reason: "ECONNREFUSED" });
    const retried = await failure(createClient<Endpoints>({ url, apiKey: key, retries: 2, retryDelayMs: 1 }).endpoints());
    expect(retried).toMatchObject({ code: "SERVICE_UNREACHABLE", attempts: 3 });
  });

  it("refuses settings that cannot work", () => {
    expect(() => createClient({ url: "127.0.0.1:8080", apiKey: key })).toThrow(/http/);
    expect(() => createClient({ url: server.url, apiKey: key, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => createClient({ url: server.url, apiKey: key, retries: -1 })).toThrow(/retries/);
  });
});
