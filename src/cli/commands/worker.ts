import { pino } from "pino";
import { StrataError } from "../../errors/strata-error.js";
import { loadProject } from "../../project/load-project.js";
import { startStepWorker } from "../../queue/step-worker.js";
import { EXIT } from "../exit-codes.js";
import { untilStopped } from "../until-stopped.js";

export interface WorkerOptions {
  project?: string;
  concurrency: number;
  lockMs?: number;
}

/**
 * `strata worker`: takes step jobs from the project's queue until SIGINT/SIGTERM, then stops
 * taking new ones and lets the steps running here end. Logs are JSON lines on stdout.
 */
export async function workerCommand(options: WorkerOptions): Promise<number> {
  const project = await loadProject(options.project);
  const target = project.queue();
  if (!target)
    throw new StrataError(
      "QUEUE_NOT_CONFIGURED",
      `strata.config.ts of ${project.dir} has no queue: add queue: { urlEnv: "STRATA_QUEUE_URL" } and set that variable to the redis:// URL`,
      { details: { project: project.dir } },
    );
  const workspace = project.openWorkspace();
  // Written off the step's path (a line per step taken): lines leave as soon as the loop is free.
  const out = pino.destination({ sync: false });
  const log = pino({ level: "info", base: { service: "strata-worker", pid: process.pid } }, out);
  try {
    const worker = await startStepWorker({
      pipelines: new Map([...project.pipelines].map(([name, p]) => [name, p.pipeline])),
      workspace,
      target,
      concurrency: options.concurrency,
      log,
      ...(options.lockMs ? { lockMs: options.lockMs } : {}),
      ...(project.config.interpreters ? { interpreters: project.config.interpreters } : {}),
    });
    process.stderr.write(
      `strata worker: taking steps from ${target.endpoint} (prefix ${target.prefix}), ${options.concurrency} at once; Ctrl-C stops after the steps running here\n`,
    );
    await untilStopped("stopping: no new steps; waiting for the steps running here");
    await worker.close();
  } finally {
    await workspace.close();
    out.flushSync();
  }
  return EXIT.OK;
}
