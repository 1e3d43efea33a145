import type { EndpointSet, LoadedEndpoint } from "../serving/load-endpoints.js";

const ERROR_SCHEMA = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: { code: { type: "string" }, message: { type: "string" }, details: { type: "object" } },
      required: ["code", "message"],
    },
  },
  required: ["error"],
};

const errors = {
  "400": { description: "INPUT_INVALID or REQUEST_INVALID: the message names each field and what is wrong", content: json(ERROR_SCHEMA) },
  "401": { description: "AUTH_REQUIRED or AUTH_INVALID", content: json(ERROR_SCHEMA) },
  "403": { description: "AUTH_FORBIDDEN: the key lacks the invoke scope", content: json(ERROR_SCHEMA) },
  "404": { description: "KEY_NOT_FOUND, ENDPOINT_NOT_FOUND or IMPLEMENTATION_NOT_FOUND", content: json(ERROR_SCHEMA) },
  "500": { description: "IMPLEMENTATION_FAILED or OUTPUT_INVALID", content: json(ERROR_SCHEMA) },
  "503": { description: "STORAGE_UNAVAILABLE: a storage is down; retry", content: json(ERROR_SCHEMA) },
  "504": { description: "IMPLEMENTATION_TIMEOUT", content: json(ERROR_SCHEMA) },
};

function json(schema: unknown): Record<string, unknown> {
  return { "application/json": { schema } };
}

function batchOf(endpoint: LoadedEndpoint): { request: unknown; response: unknown } {
  return {
    request: { type: "object", properties: { inputs: { type: "array", items: endpoint.schemas.inputSchema } }, required: ["inputs"] },
    response: {
      type: "object",
      properties: {
        results: {
          type: "array",
          items: {
            oneOf: [
              {
                type: "object",
                properties: { implementation: { type: "string" }, output: endpoint.schemas.outputSchema },
                required: ["output"],
              },
              ERROR_SCHEMA,
            ],
          },
        },
      },
    },
  };
}

function operations(endpoint: LoadedEndpoint, implementation: string | undefined): Record<string, unknown> {
  const name = endpoint.type.name;
  const what = implementation === undefined ? "routed by the type's routing" : `answered by ${implementation}`;
  const batch = batchOf(endpoint);
  const base = `/v1/endpoints/${name}${implementation === undefined ? "" : `/${implementation}`}`;
  return {
    [base]: {
      post: {
        operationId: implementation === undefined ? name : `${name}.${implementation}`,
        summary: `${name}: one call, ${what}`,
        description: endpoint.type.description,
        tags: [name],
        requestBody: { required: true, content: json(endpoint.schemas.inputSchema) },
        responses: {
          "200": {
            description: "the output; the header strata-implementation names the implementation that answered",
            content: json(endpoint.schemas.outputSchema),
          },
          ...errors,
        },
      },
    },
    [`${base}/batch`]: {
      post: {
        operationId: `${implementation === undefined ? name : `${name}.${implementation}`}.batch`,
        summary: `${name}: many inputs in one request, ${what}; one result (output or error) per input, in order`,
        tags: [name],
        requestBody: { required: true, content: json(batch.request) },
        responses: { "200": { description: "one result per input", content: json(batch.response) }, ...errors },
      },
    },
  };
}

/** The OpenAPI 3.1 document of the endpoints loaded now (`GET /v1/openapi.json`). */
export function openApiDocument(set: EndpointSet, version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const endpoint of set.endpoints.values()) {
    Object.assign(paths, operations(endpoint, undefined));
    for (const implementation of endpoint.implementations.keys()) Object.assign(paths, operations(endpoint, implementation));
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Strata models service",
      version,
      description: "Endpoint types with discoverable implementations. Send Authorization: Bearer <key>.",
    },
    components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer" } } },
    security: [{ apiKey: [] }],
    paths,
  };
}
