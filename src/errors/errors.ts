import { StrataError, type StrataErrorOptions } from "./strata-error.js";

/** A run parameter is missing, malformed or not what the pipeline's schema expects. */
export class ParamError extends StrataError {}
/** The pipeline's graph is wrong: a cycle, a missing input, a duplicate output... */
export class DagError extends StrataError {}
/** The project folder, its config or a pipeline file cannot be found or loaded. */
export class ProjectError extends StrataError {}
/** A run, pipeline or other named thing does not exist. */
export class NotFoundError extends StrataError {}
/** A SQL step failed inside its engine. */
export class SqlError extends StrataError {}
/** The metadata store cannot be read or written. */
export class StoreError extends StrataError {}
/** A failure or success hook could not be delivered. */
export class HookError extends StrataError {}

/**
 * Throw this from a step to stop retrying at once: the input is wrong and trying again will not help.
 *
 * ```ts
 * if (!rows.length) throw new NonRetryableError("no transactions in the window");
 * ```
 */
export class NonRetryableError extends StrataError {
  constructor(message: string, options: Omit<StrataErrorOptions, "retryable"> = {}) {
    super("STEP_NON_RETRYABLE", message, { ...options, retryable: false });
  }
}

/** The step ran out of its time budget; its AbortSignal has fired. */
export class StepTimeoutError extends StrataError {
  constructor(step: string, timeoutMs: number) {
    super("STEP_TIMEOUT", `step "${step}" timed out after ${timeoutMs} ms`, { details: { step, timeoutMs } });
  }
}

/** The run was cancelled (Ctrl-C, or a cancel request) while the step was running. */
export class CancelledError extends StrataError {
  constructor(reason = "the run was cancelled") {
    super("RUN_CANCELLED", reason);
  }
}
/** Records or tables that break their checks: rejects beyond what quarantine allows, failed expectations. */
export class ValidationError extends StrataError {}
