import { join } from "node:path";
import { afterEach } from "vitest";
import { loadProject } from "../../src/project/load-project.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { startModelsServer, type ModelsServer } from "../../src/server/models-server.js";
import { makeProject } from "../cli/helpers.js";

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: { code: string; message: string; details: Record<string, unknown> } };
}

export interface ServedFixture {
  dir: string;
  workspace: Workspace;
  server: ModelsServer;
  /** Keys with scope invoke, and with invoke and manage. */
  keys: { invoke: string; manage: string };
  publish(pipeline: string, params?: Record<string, unknown>): Promise<void>;
  /** A request with the invoke key (or `key`; null sends none); the body parsed. */
  call(method: "GET" | "POST", path: string, body?: unknown, key?: string | null): Promise<Answer>;
}

/**
 * A copy of test/fixtures/serving per test, its scores published (batch 1), two API keys, and
 * the models service on a free port; all of it closed after the test. `env` is the service's
 * environment beyond this process's (storage URLs).
 */
export function serveFixtureEachTest(): (env?: Record<string, string>) => Promise<ServedFixture> {
  const opened: { close(): Promise<void> }[] = [];
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    for (const resource of opened.splice(0).reverse()) await resource.close();
    for (const cleanup of cleanups.splice(0)) cleanup();
  });
  return async (env = {}) => {
    const project = makeProject("serving");
    cleanups.push(project.cleanup);
    const { dir } = project;
    const workspace = openWorkspace(join(dir, ".strata"), { projectDir: dir, env: { ...process.env, ...env } });
    opened.push(workspace);
    const loaded = await loadProject(dir);
    const publish = async (pipeline: string, params: Record<string, unknown> = {}): Promise<void> => {
      const result = await runPipeline(loaded.pipeline(pipeline), { workspace, params });
      if (result.status !== "succeeded") throw new Error(`publishing failed: ${JSON.stringify(result.error)}`);
    };
    await publish("publish", { batch: 1 });
    const keys = {
      invoke: (await workspace.apiKeys.create("app", ["invoke"], Date.now())).key,
      manage: (await workspace.apiKeys.create("ops", ["invoke", "manage"], Date.now())).key,
    };
    const server = await startModelsServer({ projectDir: dir, workspace, port: 0 });
    opened.push(server);
    const call = async (method: "GET" | "POST", path: string, body?: unknown, key: string | null = keys.invoke): Promise<Answer> => {
      const headers: Record<string, string> = {};
      if (key !== null) headers.authorization = `Bearer ${key}`;
      if (body !== undefined) headers["content-type"] = "application/json";
      const response = await fetch(server.url + path, {
        method,
        headers,
        ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
      });
      const text = await response.text();
      return {
        status: response.status,
        headers: response.headers,
        body: (text.startsWith("{") ? JSON.parse(text) : { text }) as Answer["body"],
      };
    };
    return { dir, workspace, server, keys, publish, call };
  };
}
