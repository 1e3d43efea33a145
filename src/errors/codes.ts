/**
 * Every error code Strata can raise, in one table. docs/errors.md documents each one
 * (test/errors/errors-doc.test.ts keeps the two in step), and the HTTP layer uses `status`.
 */
export const ERROR_CODES = {
  PARAM_INVALID: { status: 400, retryable: false },
  PARAM_UNKNOWN: { status: 400, retryable: false },
  PARAM_SYNTAX: { status: 400, retryable: false },
  DAG_CYCLE: { status: 400, retryable: false },
  DAG_MISSING_INPUT: { status: 400, retryable: false },
  DAG_DUPLICATE_OUTPUT: { status: 400, retryable: false },
  DAG_DUPLICATE_STEP: { status: 400, retryable: false },
  DAG_UNKNOWN_STEP: { status: 400, retryable: false },
  DAG_UNKNOWN_PARAM: { status: 400, retryable: false },
  DAG_INVALID_NAME: { status: 400, retryable: false },
  DSL_OUTSIDE_PIPELINE: { status: 500, retryable: false },
  DSL_INVALID_STEP: { status: 400, retryable: false },
  PROJECT_NOT_FOUND: { status: 404, retryable: false },
  PROJECT_LOAD_FAILED: { status: 500, retryable: false },
  PROJECT_DUPLICATE_PIPELINE: { status: 400, retryable: false },
  PIPELINE_NOT_FOUND: { status: 404, retryable: false },
  RUN_NOT_FOUND: { status: 404, retryable: false },
  RUN_AMBIGUOUS_ID: { status: 400, retryable: false },
  STEP_NOT_FOUND: { status: 404, retryable: false },
  RESUME_INVALID: { status: 409, retryable: false },
  STEP_FAILED: { status: 500, retryable: true },
  STEP_NON_RETRYABLE: { status: 500, retryable: false },
  STEP_TIMEOUT: { status: 504, retryable: true },
  STEP_SKIPPED: { status: 424, retryable: false },
  RUN_CANCELLED: { status: 499, retryable: false },
  RUN_ABANDONED: { status: 500, retryable: false },
  SQL_FAILED: { status: 500, retryable: false },
  SQL_INPUT_INVALID: { status: 400, retryable: false },
  HOOK_FAILED: { status: 502, retryable: true },
  STORE_FAILED: { status: 503, retryable: true },
  INIT_TARGET_EXISTS: { status: 409, retryable: false },
  INIT_INSTALL_FAILED: { status: 500, retryable: true },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;
