import { CancelledError, StepTimeoutError } from "../errors/errors.js";

/**
 * Runs one attempt under a time budget and the run's cancel signal. When either fires, the
 * attempt's own signal aborts (so well-behaved steps stop) and the attempt rejects at once,
 * even if the step ignores its signal.
 */
export async function runAttempt<T>(
  step: string,
  timeoutMs: number | undefined,
  runSignal: AbortSignal,
  body: (signal: AbortSignal) => Promise<T> | T,
): Promise<T> {
  const controller = new AbortController();
  if (runSignal.aborted) throw new CancelledError();
  const onCancel = (): void => controller.abort(new CancelledError());
  runSignal.addEventListener("abort", onCancel, { once: true });
  let timer: NodeJS.Timeout | undefined;
  if (timeoutMs !== undefined) {
    timer = setTimeout(() => controller.abort(new StepTimeoutError(step, timeoutMs)), timeoutMs);
  }
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(controller.signal.reason as Error);
    controller.signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([Promise.resolve().then(() => body(controller.signal)), aborted]);
  } finally {
    clearTimeout(timer);
    runSignal.removeEventListener("abort", onCancel);
    if (onAbort) controller.signal.removeEventListener("abort", onAbort);
  }
}
