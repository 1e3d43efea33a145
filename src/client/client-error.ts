import { ERROR_CODES, type ErrorCode } from "../errors/codes.js";

/**
 * Codes the client raises itself, when no answer of the models service says what went wrong:
 * - `SERVICE_UNREACHABLE` (retryable): no answer at all: connection refused or reset, DNS failure.
 * - `CLIENT_TIMEOUT` (retryable): no full answer within the client's `timeoutMs`.
 * - `RESPONSE_INVALID`: an answer that is not the models service's JSON, e.g. an HTML page from a
 *   proxy; retryable when its status is 502, 503 or 504.
 */
export type ClientErrorCode = "SERVICE_UNREACHABLE" | "CLIENT_TIMEOUT" | "RESPONSE_INVALID";

const RETRYABLE_STATUS = new Set([502, 503, 504]);

/** Whether a failure with this code and status may succeed if tried again (503 and 504 may). */
export function isRetryable(code: string, status: number): boolean {
  if (code === "SERVICE_UNREACHABLE" || code === "CLIENT_TIMEOUT") return true;
  const known = (ERROR_CODES as Partial<Record<string, { retryable: boolean }>>)[code];
  return known?.retryable ?? RETRYABLE_STATUS.has(status);
}

/** The HTTP status the service gives a code (for the errors of batch items, which carry none). */
export function statusOf(code: string): number {
  return (ERROR_CODES as Partial<Record<string, { status: number }>>)[code]?.status ?? 500;
}

/**
 * A failed call. `code` is the service's stable code (docs/errors.md: `INPUT_INVALID`,
 * `KEY_NOT_FOUND`, `IMPLEMENTATION_TIMEOUT`...) or one of the client's own ({@link ClientErrorCode}).
 * `status` is the HTTP status (0 when no answer came); `details` the service's facts for machines
 * (e.g. `details.issues` of INPUT_INVALID); `attempts` how many requests were made.
 */
export class StrataClientError extends Error {
  readonly code: ErrorCode | ClientErrorCode;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>>;
  readonly retryable: boolean;
  readonly attempts: number;

  constructor(
    code: ErrorCode | ClientErrorCode,
    message: string,
    options: { status: number; details?: Readonly<Record<string, unknown>>; attempts?: number; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "StrataClientError";
    this.code = code;
    this.status = options.status;
    this.details = options.details ?? {};
    this.retryable = isRetryable(code, options.status);
    this.attempts = options.attempts ?? 1;
  }
}
