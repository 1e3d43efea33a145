import { mkdirSync, watch } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { openProject } from "../../project/load-project.js";
import { startModelsServer } from "../../server/models-server.js";
import type { EndpointSet } from "../../serving/load-endpoints.js";
import { EXIT } from "../exit-codes.js";
import { untilStopped } from "../until-stopped.js";
import { startControlPlane } from "./server.js";

export interface ServeOptions {
  project?: string;
  host: string;
  port: number;
  /** Memory for key-value documents kept between calls, in MiB (0: none). */
  kvCacheMb: number;
  /** `strata dev` only: the control plane runs in the same process, on this port. */
  controlPort?: number;
}

function describeSet(set: EndpointSet): string {
  if (!set.endpoints.size) return "no endpoints yet: add endpoints/<type>/endpoint.ts and an implementation beside it";
  return [...set.endpoints.values()].map((e) => `  ${e.type.name}: ${[...e.implementations.keys()].join(", ")}`).join("\n");
}

/**
 * `strata serve` (production: SIGHUP reloads the implementations) and `strata dev` (the same, and
 * every change under endpoints/ reloads them). Both stop on SIGINT/SIGTERM once calls in flight end.
 */
export async function serveCommand(options: ServeOptions & { watch?: boolean }): Promise<number> {
  const project = await openProject(options.project);
  const workspace = project.openWorkspace();
  const log = pino({ level: "info", base: { service: "strata-models", project: project.name } });
  let server;
  let control;
  try {
    server = await startModelsServer({
      projectDir: project.dir,
      workspace,
      host: options.host,
      port: options.port,
      log,
      kvCacheBytes: options.kvCacheMb * 1024 * 1024,
    });
    // `strata dev` is the whole platform on the embedded defaults: the control plane runs here too.
    control =
      options.controlPort === undefined
        ? undefined
        : await startControlPlane(project.dir, workspace, { host: options.host, port: options.controlPort });
  } catch (error) {
    await server?.close();
    await workspace.close();
    throw error;
  }
  const started = server;

  const reload = (): void => {
    started.reload().then(
      (set) => process.stderr.write(`reloaded:\n${describeSet(set)}\n`),
      (error: Error) => process.stderr.write(`reload failed, still serving what was loaded before: ${error.message}\n`),
    );
  };
  process.on("SIGHUP", reload);
  let timer: NodeJS.Timeout | undefined;
  if (options.watch) mkdirSync(join(project.dir, "endpoints"), { recursive: true });
  const watcher = options.watch
    ? watch(join(project.dir, "endpoints"), { recursive: true }, () => {
        // Editors write a file in several steps: reload once they are done.
        clearTimeout(timer);
        timer = setTimeout(reload, 100);
      })
    : undefined;

  // Said last, once everything it promises (the watcher included) is in place.
  const keys = (await workspace.apiKeys.list()).filter((k) => k.revokedAt === null);
  process.stderr.write(
    [
      `strata models service on ${started.url}  (docs: ${started.url}/docs, OpenAPI: ${started.url}/v1/openapi.json)`,
      describeSet(started.endpoints()),
      keys.length ? `${keys.length} API key(s) accepted` : "no API key exists yet: create one with `strata keys create <name>`",
      options.watch ? "watching endpoints/ for changes" : `reload implementations: kill -HUP ${process.pid}, or POST /v1/reload`,
      "",
    ].join("\n"),
  );

  await untilStopped("stopping: finishing calls in flight");
  watcher?.close();
  clearTimeout(timer);
  process.off("SIGHUP", reload);
  await control?.close();
  await started.close();
  await workspace.close();
  return EXIT.OK;
}
