import { pino } from "pino";
import { openProject } from "../../project/load-project.js";
import { startControlServer, type ControlServer } from "../../server/control-server.js";
import type { Workspace } from "../../runtime/workspace.js";
import { EXIT } from "../exit-codes.js";
import { untilStopped } from "../until-stopped.js";

export interface ServerOptions {
  project?: string;
  host: string;
  port: number;
}

/** Starts the control plane on an opened workspace and says what it watches. */
export async function startControlPlane(projectDir: string, workspace: Workspace, options: ServerOptions): Promise<ControlServer> {
  const log = pino({ level: "info", base: { service: "strata-control" } });
  const server = await startControlServer({ projectDir, workspace, host: options.host, port: options.port, log });
  const { schedules, triggers } = server.plane.describe();
  process.stderr.write(
    [
      `strata control plane on ${server.url}  (runs: ${server.url}/v1/runs, key scope: run)`,
      ...schedules.map(
        (s) =>
          `  schedule ${s.pipeline}: "${s.expression}" (${s.timezone}), next ${s.next === null ? "never" : new Date(s.next).toISOString()}`,
      ),
      ...triggers.map((t) => `  trigger ${t}`),
      schedules.length || triggers.length ? "" : "  no schedules or triggers: start runs with POST /v1/pipelines/<name>/runs",
    ].join("\n") + "\n",
  );
  return server;
}

/** `strata server`: the control plane until SIGINT/SIGTERM, then runs in flight get 10 s to finish. */
export async function serverCommand(options: ServerOptions): Promise<number> {
  const project = await openProject(options.project);
  const workspace = project.openWorkspace();
  let server: ControlServer;
  try {
    server = await startControlPlane(project.dir, workspace, options);
  } catch (error) {
    await workspace.close();
    throw error;
  }
  await untilStopped("stopping: no new triggers; runs in flight get 10 s to finish");
  await server.close();
  await workspace.close();
  return EXIT.OK;
}
