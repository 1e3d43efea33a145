import { CancelledError, StepTimeoutError } from "../errors/errors.js";

/**
 * Runs one attempt under a time budget and the run's cancel signal. When either fires, the
 * attempt's own signal aborts (so well-behaved steps stop) and the attempt rejects at once,
 * even if the step ignores its signal. With no time budget, the run's signal is the attempt's:
 * a signal costs more to make than a short step's own work.
 */
export async function runAttempt<T>(
  step: string,
  timeoutMs: number | undefined,
  runSignal: AbortSignal,
  body: (signal: AbortSignal) => Promise<T> | T,
): Promise<T> {
  if (runSignal.aborted) throw new CancelledError();
  const controller = timeoutMs === undefined ? undefined : new AbortController();
  const signal = controller?.signal ?? runSignal;
  let timer: NodeJS.Timeout | undefined;
  const onCancel = (): void => controller?.abort(new CancelledError());
  if (controller) {
    runSignal.addEventListener("abort", onCancel, { once: true });
    timer = setTimeout(() => controller.abort(new StepTimeoutError(step, timeoutMs!)), timeoutMs);
  }
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    // A cancel rejects as a cancel, whatever reason the run's signal was given.
    onAbort = () => reject(controller ? (signal.reason as Error) : new CancelledError());
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([Promise.resolve().then(() => body(signal)), aborted]);
  } finally {
    clearTimeout(timer);
    if (controller) runSignal.removeEventListener("abort", onCancel);
    signal.removeEventListener("abort", onAbort!);
  }
}
