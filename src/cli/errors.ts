import { describeError, isStrataError } from "../errors/strata-error.js";
import { EXIT } from "./exit-codes.js";

// Errors about the input (params, project, DAG, names): the user must change something; exit 2.
const USAGE_PREFIXES = [
  "PARAM_",
  "DAG_",
  "DSL_",
  "PROJECT_",
  "PIPELINE_NOT_FOUND",
  "RUN_NOT_FOUND",
  "STEP_NOT_FOUND",
  "RUN_AMBIGUOUS_ID",
  "RESUME_INVALID",
  "INIT_TARGET_EXISTS",
  "STORAGE_INVALID",
  "STORAGE_EXISTS",
  "STORAGE_NOT_FOUND",
  "STORAGE_FORMAT_UNSUPPORTED",
  "DATASET_NOT_FOUND",
  "DATASET_VERSION_NOT_FOUND",
  "DATASET_INVALID",
  "MODEL_INPUT_INVALID",
  "MODEL_NOT_FOUND",
  "API_KEY_",
  "BACKFILL_INVALID",
  "QUEUE_NOT_CONFIGURED",
];

export function exitCodeFor(error: unknown): number {
  return isStrataError(error) && USAGE_PREFIXES.some((p) => error.code.startsWith(p)) ? EXIT.USAGE : EXIT.FAILED;
}

/** Prints an error for a person (code and message, no stack) or, with --json, for a machine. */
export function reportError(error: unknown, json: boolean): number {
  const { code, message } = describeError(error);
  const details = isStrataError(error) ? error.details : {};
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: isStrataError(error) ? code : "INTERNAL", message, details } })}\n`);
  else if (isStrataError(error)) process.stderr.write(`error ${code}: ${message}\n`);
  else process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? message) : message}\n`);
  return exitCodeFor(error);
}
