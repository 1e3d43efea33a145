import { ERROR_CODES, type ErrorCode } from "./codes.js";

// A registry symbol rather than `instanceof`: a project's pipelines import Strata through their
// own module path, so two copies of these classes can meet in one process.
const BRAND = Symbol.for("strata.error");

export interface StrataErrorOptions {
  cause?: unknown;
  /** Structured facts for machines (param name, step, file...). Never secrets. */
  details?: Record<string, unknown>;
  /** Overrides the code's default, e.g. a step error that the user marked non-retryable. */
  retryable?: boolean;
}

/** Base class of every error Strata raises: a stable code, a retryable flag and an HTTP status. */
export class StrataError extends Error {
  readonly [BRAND] = true;
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly status: number;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: StrataErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.details = options.details ?? {};
  }

  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isStrataError(value: unknown): value is StrataError {
  return typeof value === "object" && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

/** Stable code and message of anything thrown, for records and hooks. */
export function describeError(error: unknown): { code: string; message: string; retryable: boolean } {
  if (isStrataError(error)) return { code: error.code, message: error.message, retryable: error.retryable };
  if (error instanceof Error) {
    const retryable = (error as { retryable?: unknown }).retryable;
    return { code: "STEP_FAILED", message: error.message, retryable: retryable !== false };
  }
  return { code: "STEP_FAILED", message: String(error), retryable: true };
}
