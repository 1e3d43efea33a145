import type { RunStore } from "../storage/run-store.js";
import { EXIT } from "./exit-codes.js";

/**
 * The SIGINT handler of a command running pipelines in its own process: the first Ctrl-C says
 * `message` and aborts `cancel` (steps stop, runs are recorded cancelled); a second quits at once,
 * recording the runs in flight as cancelled first (the embedded store writes synchronously).
 */
export function ctrlC(store: RunStore, inFlight: () => Iterable<string>, cancel: AbortController, message: string): () => void {
  let interrupts = 0;
  return () => {
    if (++interrupts > 1) {
      for (const runId of inFlight())
        void store.finishRun(runId, "cancelled", Date.now(), {
          code: "RUN_CANCELLED",
          message: "interrupted twice; quit without waiting for steps",
        });
      process.exit(EXIT.INTERRUPTED);
    }
    process.stderr.write(`\n${message} (Ctrl-C again to quit at once)...\n`);
    cancel.abort();
  };
}
