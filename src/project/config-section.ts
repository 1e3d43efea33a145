import { ProjectError } from "../errors/errors.js";
import { StrataError } from "../errors/strata-error.js";
import type { ErrorCode } from "../errors/codes.js";
import { redisHostPort } from "../storage/redis/redis-url.js";

/**
 * A section of strata.config.ts (`queue`, `metadata`, `streams`) once checked: undefined when it
 * is left out, and PROJECT_LOAD_FAILED naming the file and each problem `problemsOf` finds.
 */
export function checkSection<T>(section: string, value: unknown, file: string, problemsOf: (value: unknown) => string[]): T | undefined {
  if (value === undefined) return undefined;
  const problems = problemsOf(value);
  if (problems.length)
    throw new ProjectError("PROJECT_LOAD_FAILED", `${file}: ${problems.join("; ")}`, { details: { file, field: section, problems } });
  return value as T;
}

/** The name of an environment variable: letters, digits and _, not starting with a digit. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The problems of the fields of a config section (`queue`, `metadata`, `streams`) that name the
 * environment variable holding a server's URL, never the URL itself (it holds a password):
 * `url` is refused and, when `scheme` is given (the section needs a server), `urlEnv` is required
 * and must be a variable's name.
 */
export function urlEnvProblems(section: string, fields: Record<string, unknown>, scheme?: string): string[] {
  const problems: string[] = [];
  if ("url" in fields)
    problems.push(`${section}.url is not allowed: a URL holds a password; put it in an environment variable named by ${section}.urlEnv`);
  if (scheme === undefined) return problems;
  const { urlEnv } = fields;
  if (urlEnv === undefined) problems.push(`${section}.urlEnv is required: the name of the environment variable holding the ${scheme} URL`);
  else if (typeof urlEnv !== "string" || !ENV_NAME.test(urlEnv))
    problems.push(`${section}.urlEnv must be the name of an environment variable (letters, digits and _), not the URL itself`);
  return problems;
}

/**
 * The redis:// URL in the variable `section.urlEnv` names, read now, and its host:port for
 * messages; `code` naming the variable (never its value) when it is unset or not such a URL.
 */
export function redisUrlFrom(
  what: string,
  section: string,
  urlEnv: string,
  env: Readonly<Record<string, string | undefined>>,
  code: ErrorCode,
): { url: string; endpoint: string } {
  const url = env[urlEnv]?.trim();
  if (!url)
    throw new StrataError(code, `${what} (redis): the environment variable ${urlEnv} is not set (${section}.urlEnv)`, {
      details: { urlEnv },
    });
  const endpoint = redisHostPort(url);
  if (!endpoint) throw new StrataError(code, `${what} (redis): ${urlEnv} must hold a redis:// or rediss:// URL`, { details: { urlEnv } });
  return { url, endpoint };
}
