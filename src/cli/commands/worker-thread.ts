import { writeSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { pino } from "pino";
import type { ErrorCode } from "../../errors/codes.js";
import { isStrataError, StrataError } from "../../errors/strata-error.js";
import { loadProject } from "../../project/load-project.js";
import { oneProcessDatasets } from "../../queue/one-process-datasets.js";
import { startStepWorker } from "../../queue/step-worker.js";

/** How long a log line may wait in the worker's buffer. */
const FLUSH_MS = 200;

export interface WorkerOptions {
  project?: string;
  concurrency: number;
  lockMs?: number;
}

/** What the thread tells the command: why it could not go on, when it is Strata's own error. */
export interface WorkerFailure {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: Record<string, unknown>;
}

// Straight to the file descriptor: a thread's process.stderr reaches it through the main thread,
// and may not have before the process ends. A message for a person, never worth stopping for.
const say = (text: string): void => {
  try {
    writeSync(2, text);
  } catch {
    // stderr closed or full
  }
};

/**
 * The thread of `strata worker` (see worker.ts): takes step jobs from the project's queue until
 * told to stop, then stops taking new ones and lets the steps running here end. Logs are JSON
 * lines on stdout.
 */
async function runWorker(options: WorkerOptions, stop: Promise<void>): Promise<void> {
  const project = await loadProject(options.project);
  const target = project.queue();
  if (!target)
    throw new StrataError(
      "QUEUE_NOT_CONFIGURED",
      `strata.config.ts of ${project.dir} has no queue: add queue: { urlEnv: "STRATA_QUEUE_URL" } and set that variable to the redis:// URL`,
      { details: { project: project.dir } },
    );
  const workspace = project.openWorkspace();
  // Written off the step's path, a few KiB at a time: a write per line (a line per step taken) was
  // a twentieth of a busy worker's CPU. What waits is written at least every FLUSH_MS.
  const out = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const flusher = setInterval(() => out.flush(), FLUSH_MS);
  flusher.unref();
  const log = pino({ level: "info", base: { service: "strata-worker", pid: process.pid } }, out);
  try {
    const pipelines = new Map([...project.pipelines].map(([name, p]) => [name, p.pipeline]));
    const worker = await startStepWorker({
      pipelines,
      workspace,
      target,
      concurrency: options.concurrency,
      log,
      ...(options.lockMs ? { lockMs: options.lockMs } : {}),
      ...(project.config.interpreters ? { interpreters: project.config.interpreters } : {}),
    });
    out.flush(); // "worker ready", for whoever waits for it
    say(
      `strata worker: taking steps from ${target.endpoint} (prefix ${target.prefix}), ${options.concurrency} at once; Ctrl-C stops after the steps running here\n`,
    );
    const unshared = await oneProcessDatasets(pipelines.values(), workspace.storages);
    if (unshared.length) {
      const list = unshared.map((d) => `${d.dataset} (storage "${d.storage}")`).join(", ");
      log.warn({ datasets: unshared }, "datasets in an embedded DuckDB file, which one process at a time can open");
      say(
        `strata worker: warning: ${list} ${unshared.length === 1 ? "is" : "are"} in an embedded DuckDB file, which one process at a time can open: with more than one worker, their steps fail on its lock. Keep them in a shared storage (postgres tables) for a fleet.\n`,
      );
    }
    await stop;
    await worker.close();
  } finally {
    clearInterval(flusher);
    await workspace.close();
    out.flushSync();
  }
}

/** What the command gives the thread. */
export interface WorkerThreadData {
  readonly strataWorker: WorkerOptions;
}

const given = workerData as Partial<WorkerThreadData> | null;
if (parentPort && given?.strataWorker) {
  const port = parentPort;
  const stop = new Promise<void>((resolve) => port.once("message", () => resolve()));
  runWorker(given.strataWorker, stop).then(
    () => port.close(),
    (error: unknown) => {
      // Anything else is thrown on: the main thread hears it as the thread's error.
      if (!isStrataError(error)) throw error;
      const failure: WorkerFailure = { code: error.code, message: error.message, details: error.details };
      port.postMessage(failure);
      port.close();
    },
  );
}
