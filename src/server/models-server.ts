import { createServer } from "node:http";
import { fastify as Fastify, type FastifyInstance, type FastifyRequest } from "fastify";
import { pino, type Logger } from "pino";
import { StrataError } from "../errors/strata-error.js";
import { openProject } from "../project/load-project.js";
import type { Workspace } from "../runtime/workspace.js";
import { EndpointCaller } from "../serving/endpoint-call.js";
import { loadEndpoints, type EndpointSet, type LoadedEndpoint } from "../serving/load-endpoints.js";
import { ServingData } from "../serving/serving-data.js";
import { ServingMetrics } from "../serving/serving-metrics.js";
import type { ApiScope } from "../storage/api-key-store.js";
import type { StorageDefinition } from "../storage/storage-definition.js";
import { ApiKeyCheck, keyOf } from "./api-key-check.js";
import { callRoutes, endpointIn } from "./call-routes.js";
import { answerErrors } from "./error-replies.js";
import { DOCS_PAGE } from "./docs-page.js";
import { openApiDocument } from "./openapi.js";

export interface ModelsServerOptions {
  /** The project folder: endpoints are discovered in its `endpoints/`. */
  readonly projectDir: string;
  /** The project's workspace; when left out, the service opens it (storages from strata.config.ts) and closes it on close(). */
  readonly workspace?: Workspace;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Service log (JSON lines); silent when left out. */
  readonly log?: Logger;
  readonly now?: () => number;
  /** Memory for key-value documents kept between calls (0: none); 64 MiB when left out. */
  readonly kvCacheBytes?: number;
}

export interface ModelsServer {
  /** `http://host:port` */
  readonly url: string;
  /** The endpoints served now. */
  endpoints(): EndpointSet;
  /** Loads the endpoints again and swaps them in whole; calls in flight finish on what they started with. */
  reload(): Promise<EndpointSet>;
  /** Stops taking requests, lets those in flight finish, and closes. */
  close(): Promise<void>;
}

type Params = { type: string; impl?: string };

const BODY_LIMIT = 16 * 1024 * 1024;
/** Fastify's own default: longer than the usual load balancer's idle timeout, so it closes first. */
const KEEP_ALIVE_MS = 72_000;

/**
 * The models service (Fastify): endpoint types with routed and explicit calls, batches,
 * discovery, storages, health, metrics, an OpenAPI document and a docs page. Every route but
 * the health checks and the (data-free) docs page needs an API key.
 */
export async function startModelsServer(options: ModelsServerOptions): Promise<ModelsServer> {
  const { projectDir } = options;
  const workspace = options.workspace ?? (await openProject(projectDir)).openWorkspace();
  const now = options.now ?? Date.now;
  const log = options.log ?? pino({ level: "silent" });
  const data = new ServingData(workspace, options.kvCacheBytes);
  const metrics = new ServingMetrics(workspace.catalog, now);
  const caller = new EndpointCaller(data, metrics, now);
  const keys = new ApiKeyCheck(workspace.apiKeys, now);
  let current = await loadEndpoints(projectDir, log, now());
  metrics.reload("ok");
  let closing = false;

  const reload = async (): Promise<EndpointSet> => {
    try {
      const next = await loadEndpoints(projectDir, log, now());
      data.forget();
      current = next; // one assignment: a request sees the old set or the new one, whole
      metrics.reload("ok");
      log.info({ endpoints: [...next.endpoints.keys()] }, "endpoints reloaded");
      return next;
    } catch (error) {
      metrics.reload("failed");
      log.error({ err: error }, "reload failed; still serving the endpoints loaded before");
      throw error;
    }
  };

  // The endpoint calls go to their own node:http handler (call-routes.ts); the rest to Fastify.
  const calls = callRoutes({ caller, keys, endpoints: () => current, closing: () => closing, log, bodyLimit: BODY_LIMIT });
  const app: FastifyInstance = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    return503OnClosing: true,
    serverFactory: (fastifyHandler) => {
      const server = createServer((request, response) => {
        if (!calls(request, response)) fastifyHandler(request, response);
      });
      server.keepAliveTimeout = KEEP_ALIVE_MS;
      return server;
    },
  });

  answerErrors(app, {
    log,
    unexpected: { code: "IMPLEMENTATION_FAILED", message: "the service failed to answer; see its log" },
    routesHint: "see GET /v1/openapi.json",
  });

  const guard =
    (scope: ApiScope) =>
    async (request: FastifyRequest): Promise<void> => {
      if (closing) throw new StrataError("SERVER_STOPPING", "the service is shutting down");
      await keys.check(keyOf(request.headers), scope);
    };
  const invoke = { onRequest: guard("invoke") };
  const manage = { onRequest: guard("manage") };

  const endpointOf = (name: string): LoadedEndpoint => endpointIn(current, name);

  const describe = (e: LoadedEndpoint): Record<string, unknown> => ({
    name: e.type.name,
    description: e.type.description ?? null,
    input: e.schemas.inputSchema,
    output: e.schemas.outputSchema,
    implementations: [...e.implementations.values()].map((i) => ({ name: i.name })),
    routing: e.type.routing,
  });

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) =>
    closing
      ? reply.code(503).send({ status: "stopping" })
      : { status: "ready", endpoints: current.endpoints.size, loadedAt: new Date(current.loadedAt).toISOString() },
  );
  app.get("/docs", async (_request, reply) => reply.type("text/html; charset=utf-8").send(DOCS_PAGE));
  app.get("/metrics", manage, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()));
  app.get("/v1/openapi.json", invoke, async () => openApiDocument(current, "1"));

  app.get("/v1/endpoints", invoke, async () => ({ endpoints: [...current.endpoints.values()].map(describe) }));
  app.get<{ Params: Params }>("/v1/endpoints/:type", invoke, async (request) => describe(endpointOf(request.params.type)));
  app.get<{ Params: Params }>("/v1/endpoints/:type/shadow", invoke, async (request) =>
    caller.shadows.summary(endpointOf(request.params.type).type.name),
  );

  app.get("/v1/storages", manage, async () => ({
    storages: (await workspace.storages.status()).map((s) => ({
      name: s.definition.name,
      technology: s.definition.technology,
      format: s.definition.format,
      options: s.definition.options,
      origin: s.origin,
      location: s.location,
      health: s.health,
    })),
  }));
  // A storage added here is kept in the catalog: implementations can use it at once, and every
  // other process sees it at its next lookup.
  app.post("/v1/storages", manage, async (request, reply) => {
    const body = request.body as Partial<StorageDefinition> | null;
    const definition = { name: body?.name, technology: body?.technology, format: body?.format, options: body?.options ?? {} };
    await workspace.storages.add(definition as StorageDefinition, now());
    const status = (await workspace.storages.status()).find((s) => s.definition.name === definition.name)!;
    return reply.code(201).send({ name: status.definition.name, location: status.location, health: status.health });
  });
  app.post("/v1/reload", manage, async () => {
    const set = await reload();
    return { endpoints: [...set.endpoints.keys()], loadedAt: new Date(set.loadedAt).toISOString() };
  });

  await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 8080 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : (options.port ?? 8080);
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    endpoints: () => current,
    reload,
    async close() {
      closing = true;
      // Calls in flight finish; a connection that never sent a request would keep close()
      // waiting forever (Node 20), so whatever is still open after a grace period is cut.
      const grace = setTimeout(() => app.server.closeAllConnections(), 5000);
      await app.close();
      clearTimeout(grace);
      if (!options.workspace) await workspace.close();
    },
  };
}
