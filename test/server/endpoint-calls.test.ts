import { describe, expect, it } from "vitest";
import { serveFixtureEachTest } from "./serve-fixture.js";

const serve = serveFixtureEachTest();

describe("the models service: calls", () => {
  it("lists each endpoint type with its JSON schemas, implementations and routing", async () => {
    const { call } = await serve();
    const { status, body } = await call("GET", "/v1/endpoints");
    expect(status).toBe(200);
    const endpoints = body.endpoints as {
      name: string;
      implementations: { name: string }[];
      input: unknown;
      output: unknown;
      routing: unknown;
    }[];
    expect(endpoints.map((e) => [e.name, e.implementations.map((i) => i.name)])).toEqual([
      ["ab", ["a", "b"]],
      ["anywhere", ["read"]],
      ["flaky", ["backup", "primary"]],
      ["scores", ["broken", "lookup", "table", "wrong"]],
      ["shadowed", ["candidate", "current"]],
      ["tabled", ["query"]],
    ]);
    const scores = endpoints.find((e) => e.name === "scores")!;
    expect(scores.input).toMatchObject({
      type: "object",
      properties: { customerId: { type: "string", minLength: 1 }, detail: { enum: ["short", "full"], default: "short" } },
      required: ["customerId"],
    });
    expect(scores.routing).toEqual({ default: "lookup", timeoutMs: 200 });
    // The OpenAPI document: a routed, an explicit and a batch path per type and implementation, with
    // the type's own schemas and the bearer key it needs.
    const openapi = (await call("GET", "/v1/openapi.json")).body as {
      openapi: string;
      security: unknown;
      components: { securitySchemes: unknown };
      paths: Record<
        string,
        {
          post: {
            operationId: string;
            requestBody: { content: Record<string, { schema: unknown }> };
            responses: Record<string, { content: Record<string, { schema: unknown }> }>;
          };
        }
      >;
    };
    expect(openapi.openapi).toBe("3.1.0");
    expect(openapi.components.securitySchemes).toEqual({ apiKey: { type: "http", scheme: "bearer" } });
    expect(openapi.security).toEqual([{ apiKey: [] }]);
    const scorePaths = Object.keys(openapi.paths).filter((p) => p.startsWith("/v1/endpoints/scores"));
    expect(scorePaths.sort()).toEqual(
      ["", "/batch", ...["broken", "lookup", "table", "wrong"].flatMap((i) => [`/${i}`, `/${i}/batch`])]
        .map((p) => `/v1/endpoints/scores${p}`)
        .sort(),
    );
    const routed = openapi.paths["/v1/endpoints/scores"]!.post;
    expect(routed.operationId).toBe("scores");
    expect(routed.requestBody.content["application/json"]!.schema).toEqual(scores.input);
    expect(routed.responses["200"]!.content["application/json"]!.schema).toEqual(scores.output);
    expect(Object.keys(routed.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "403", "404", "500", "503", "504"]));
    const batchItems = (
      openapi.paths["/v1/endpoints/scores/lookup/batch"]!.post.requestBody.content["application/json"]!.schema as {
        properties: { inputs: { items: unknown } };
      }
    ).properties.inputs.items;
    expect(batchItems).toEqual(scores.input);
  });

  it("answers a routed call, an explicit one, and a batch; a parameterized table query reads the live version", async () => {
    const { call } = await serve();
    const routed = await call("POST", "/v1/endpoints/scores", { customerId: "c7" });
    expect(routed.status).toBe(200);
    expect(routed.body).toEqual({ customerId: "c7", clv: 11.5, batch: 1 });
    expect(routed.headers.get("strata-implementation")).toBe("lookup");
    const table = await call("POST", "/v1/endpoints/scores/table", { customerId: "c7" });
    expect([table.status, table.body, table.headers.get("strata-implementation")]).toEqual([
      200,
      { customerId: "c7", clv: 11.5, batch: 1 },
      "table",
    ]);
    // A value that looks like SQL is bound, never spliced.
    expect((await call("POST", "/v1/endpoints/scores/table", { customerId: "c7' or '1'='1" })).body.error!.code).toBe("KEY_NOT_FOUND");

    const batch = await call("POST", "/v1/endpoints/scores/batch", {
      inputs: [{ customerId: "c1" }, { customerId: "nobody" }, { customerId: "c2" }],
    });
    expect(batch.status).toBe(200);
    expect(batch.body.results).toEqual([
      { implementation: "lookup", output: { customerId: "c1", clv: 2.5, batch: 1 } },
      {
        error: {
          code: "KEY_NOT_FOUND",
          message: "no score for customer nobody",
          details: { endpoint: "scores", implementation: "lookup" },
        },
      },
      { implementation: "lookup", output: { customerId: "c2", clv: 4, batch: 1 } },
    ]);
  });

  it("refuses a bad input with 400 naming the field and the reason (in a batch, with the input's index)", async () => {
    const { call } = await serve();
    const wrongType = await call("POST", "/v1/endpoints/scores", { customerId: 3 });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error).toMatchObject({
      code: "INPUT_INVALID",
      details: { issues: [{ field: "customerId", message: "must be string" }] },
    });
    const missing = await call("POST", "/v1/endpoints/scores", { detail: "everything" });
    expect(missing.body.error!.details.issues).toEqual([
      { field: "customerId", message: "is required" },
      { field: "detail", message: 'must be one of "short", "full"' },
    ]);
    const inBatch = await call("POST", "/v1/endpoints/scores/batch", { inputs: [{ customerId: "c1" }, { customerId: "" }] });
    expect(inBatch.status).toBe(400);
    expect(inBatch.body.error!.message).toContain("inputs.1.customerId: must NOT have fewer than 1 characters");
    const notJson = await call("POST", "/v1/endpoints/scores", "{not json");
    expect([notJson.status, notJson.body.error!.code]).toEqual([400, "REQUEST_INVALID"]);
    const notBatch = await call("POST", "/v1/endpoints/scores/batch", [{ customerId: "c1" }]);
    expect([notBatch.status, notBatch.body.error!.code]).toEqual([400, "REQUEST_INVALID"]);
    const poisoned = await call("POST", "/v1/endpoints/scores", '{"customerId":"c1","__proto__":{"admin":true}}');
    expect([poisoned.status, poisoned.body.error!.code]).toEqual([400, "REQUEST_INVALID"]);
  });

  it("refuses a body that is not JSON by its type, or larger than the limit, before running anything", async () => {
    const { server, keys } = await serve();
    const post = (headers: Record<string, string>, body: string): Promise<Response> =>
      fetch(`${server.url}/v1/endpoints/scores`, { method: "POST", headers: { authorization: `Bearer ${keys.invoke}`, ...headers }, body });
    const text = await post({ "content-type": "text/plain" }, '{"customerId":"c1"}');
    expect([text.status, ((await text.json()) as { error: { code: string } }).error.code]).toEqual([400, "REQUEST_INVALID"]);
    const huge = await post({ "content-type": "application/json" }, `{"customerId":"${"x".repeat(17 * 1024 * 1024)}"}`);
    const hugeBody = (await huge.json()) as { error: { code: string; message: string } };
    expect([huge.status, hugeBody.error.code]).toEqual([400, "REQUEST_INVALID"]);
    expect(hugeBody.error.message).toContain("larger than the service's limit");
    // The connection is still usable after a refused body.
    expect((await post({ "content-type": "application/json" }, '{"customerId":"c1"}')).status).toBe(200);
  });

  it("answers an implementation's failure with 500 and a code, never a stack; unknown names with 404", async () => {
    const { call } = await serve();
    const broken = await call("POST", "/v1/endpoints/scores/broken", { customerId: "c1" });
    expect(broken.status).toBe(500);
    expect(broken.body.error).toEqual({
      code: "IMPLEMENTATION_FAILED",
      message: "scores/broken failed: the model file is corrupt",
      details: { endpoint: "scores", implementation: "broken" },
    });
    expect(JSON.stringify(broken.body)).not.toMatch(/\bat .*\.ts:\d+/);
    const wrong = await call("POST", "/v1/endpoints/scores/wrong", { customerId: "c1" });
    expect([wrong.status, wrong.body.error!.code, wrong.body.error!.details.issues]).toEqual([
      500,
      "OUTPUT_INVALID",
      [{ field: "clv", message: "must be number" }],
    ]);
    expect((await call("POST", "/v1/endpoints/nope", {})).body.error).toMatchObject({ code: "ENDPOINT_NOT_FOUND" });
    const noImpl = await call("POST", "/v1/endpoints/scores/nope", { customerId: "c1" });
    expect([noImpl.status, noImpl.body.error!.message]).toEqual([
      404,
      'endpoint "scores" has no implementation "nope" (it has: broken, lookup, table, wrong)',
    ]);
  });

  it("exposes latency histograms and error counts per type and implementation, and each dataset's freshness", async () => {
    const { call, keys } = await serve();
    for (const customerId of ["c1", "c2", "c7"]) expect((await call("POST", "/v1/endpoints/scores", { customerId })).status).toBe(200);
    expect((await call("POST", "/v1/endpoints/scores/broken", { customerId: "c1" })).status).toBe(500);
    expect((await call("POST", "/v1/endpoints/scores/lookup", { customerId: "nobody" })).status).toBe(404);
    expect((await call("GET", "/metrics")).status).toBe(403); // the invoke key lacks "manage"

    const metrics = await call("GET", "/metrics", undefined, keys.manage);
    expect(metrics.headers.get("content-type")).toContain("text/plain");
    const samples = parseMetrics(metrics.body.text as string);
    const ok = 'endpoint="scores",implementation="lookup",outcome="ok"';
    expect(samples.get(`strata_endpoint_duration_seconds_count{${ok}}`)).toBe(3);
    expect(samples.get(`strata_endpoint_duration_seconds_bucket{${ok},le="+Inf"}`)).toBe(3);
    // Cumulative buckets: none counts more than the next one up, and the sum is a time.
    const buckets = [...samples].filter(([name]) => name.startsWith(`strata_endpoint_duration_seconds_bucket{${ok},`)).map(([, v]) => v);
    expect(buckets.length).toBeGreaterThan(5);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(samples.get(`strata_endpoint_duration_seconds_sum{${ok}}`)).toBeGreaterThan(0);
    // A failure counts in the histogram as an error, and by its code.
    expect(samples.get('strata_endpoint_duration_seconds_count{endpoint="scores",implementation="broken",outcome="error"}')).toBe(1);
    expect(samples.get('strata_endpoint_errors_total{endpoint="scores",implementation="broken",code="IMPLEMENTATION_FAILED"}')).toBe(1);
    expect(samples.get('strata_endpoint_errors_total{endpoint="scores",implementation="lookup",code="KEY_NOT_FOUND"}')).toBe(1);
    // Each published dataset's age, in its storage: seconds since its version went live.
    const freshness = [...samples].filter(([name]) => name.startsWith("strata_storage_freshness_seconds{"));
    expect(freshness.map(([name]) => name).sort()).toEqual([
      'strata_storage_freshness_seconds{storage="kv",dataset="scores"}',
      'strata_storage_freshness_seconds{storage="warehouse",dataset="score_table"}',
    ]);
    for (const [, age] of freshness) expect(age).toBeGreaterThanOrEqual(0);
    for (const [, age] of freshness) expect(age).toBeLessThan(60);
  });

  it("falls back when the chosen implementation fails or runs out of time; an explicit call does not", async () => {
    const { call } = await serve();
    for (const mode of ["slow", "fail"]) {
      const answer = await call("POST", "/v1/endpoints/flaky", { mode });
      expect([answer.status, answer.body, answer.headers.get("strata-implementation"), answer.headers.get("strata-fallback-from")]).toEqual(
        [200, { by: "backup" }, "backup", "primary"],
      );
    }
    expect((await call("POST", "/v1/endpoints/flaky", { mode: "ok" })).body).toEqual({ by: "primary" });
    const timeout = await call("POST", "/v1/endpoints/flaky/primary", { mode: "slow" });
    expect([timeout.status, timeout.body.error!.code, timeout.body.error!.message]).toEqual([
      504,
      "IMPLEMENTATION_TIMEOUT",
      "flaky/primary did not answer within 50 ms",
    ]);
  });

  it("splits by weight, the same user always to the same implementation", async () => {
    const { call } = await serve();
    const variantOf = async (id: string): Promise<string> =>
      (await call("POST", "/v1/endpoints/ab", { user: { id } })).body.variant as string;
    const users = Array.from({ length: 400 }, (_, i) => `user-${i}`);
    const first = await Promise.all(users.map(variantOf));
    expect(await Promise.all(users.map(variantOf))).toEqual(first);
    const share = first.filter((v) => v === "a").length / users.length;
    expect(share).toBeGreaterThan(0.68); // weights 3:1, so about 0.75
    expect(share).toBeLessThan(0.82);
  });

  it("calls the shadow after answering, records how it compares, and never changes the answer", async () => {
    const { call, keys } = await serve();
    for (let x = -1; x < 20; x++) expect((await call("POST", "/v1/endpoints/shadowed", { x })).body).toEqual({ y: x * 2 });
    let summary: {
      counts: Record<string, number>;
      recent: { result: string; input: unknown; primaryOutput: string; shadowOutput?: string }[];
    };
    for (;;) {
      summary = (await call("GET", "/v1/endpoints/shadowed/shadow")).body as typeof summary;
      if (summary.counts.match! + summary.counts.mismatch! + summary.counts.error! === 21) break;
      await new Promise((done) => setTimeout(done, 20));
    }
    expect(summary.counts).toEqual({ match: 10, mismatch: 10, error: 1 });
    expect(summary.recent.find((c) => JSON.stringify(c.input) === '{"x":12}')).toMatchObject({
      result: "mismatch",
      primaryOutput: '{"y":24}',
      shadowOutput: '{"y":25}',
    });
    const metrics = await call("GET", "/metrics", undefined, keys.manage);
    expect(metrics.body.text).toMatch(
      /strata_endpoint_shadow_comparisons_total\{endpoint="shadowed",primary="current",shadow="candidate",result="mismatch"\} 10/,
    );
  });
});

/** Prometheus text format: each sample as `name{labels}` (labels as written, `le` moved last) to its value. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels = (match[2] ?? "").split(/,(?=[a-z_]+=")/).filter(Boolean);
    const le = labels.filter((l) => l.startsWith("le="));
    const name = labels.length ? `${match[1]}{${[...labels.filter((l) => !l.startsWith("le=")), ...le].join(",")}}` : match[1]!;
    samples.set(name, Number(match[3]));
  }
  return samples;
}
