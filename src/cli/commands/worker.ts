import { Worker } from "node:worker_threads";
import { StrataError } from "../../errors/strata-error.js";
import { EXIT } from "../exit-codes.js";
import { untilStopped } from "../until-stopped.js";
import type { WorkerFailure, WorkerOptions, WorkerThreadData } from "./worker-thread.js";

export type { WorkerOptions } from "./worker-thread.js";

/**
 * The young generation of the thread that runs the steps, in MiB (V8's default here: 32). A step
 * makes tens of KiB of objects that live a few milliseconds (records, log lines, statements,
 * promises). With the default, V8 collected them every few dozen steps and copied those of the
 * steps in flight each time: a quarter of a busy worker's CPU, a sixth more than with this. V8
 * sizes it only when a thread's heap is made, hence the thread.
 */
const YOUNG_GENERATION_MB = 96;

/**
 * `strata worker`: runs the worker (worker-thread.ts) in a thread of its own until SIGINT or
 * SIGTERM, which this thread hears and passes on. Killing the process kills both.
 */
export async function workerCommand(options: WorkerOptions): Promise<number> {
  const thread = new Worker(new URL("./worker-thread.js", import.meta.url), {
    workerData: { strataWorker: options } satisfies WorkerThreadData,
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
  });
  let failure: unknown;
  thread.on("message", (m: WorkerFailure) => (failure = new StrataError(m.code, m.message, { details: m.details })));
  thread.on("error", (error) => (failure ??= error)); // thrown in the thread and not caught
  void untilStopped("stopping: no new steps; waiting for the steps running here").then(() => thread.postMessage("stop"));
  const code = await new Promise<number>((resolve) => thread.once("exit", resolve));
  if (failure) throw failure;
  if (code === 0) return EXIT.OK;
  // A step's own process.exit ends the thread (with its code), not the process.
  process.stderr.write(`strata worker: its thread stopped with exit code ${code}\n`);
  return EXIT.FAILED;
}
