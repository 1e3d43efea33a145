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

const PREFIX = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** The problems of a `prefix` of keys on a Redis server (the queue's, the streams'). */
export function prefixProblems(section: string, prefix: unknown): string[] {
  return prefix === undefined || (typeof prefix === "string" && PREFIX.test(prefix))
    ? []
    : [`${section}.prefix must be letters, digits, ".", "_" or "-" (at most 64), starting with a letter or digit`];
}

/** What a technology of a section takes: its options and, when it needs a server, its URL's scheme. */
export interface TechnologyOptions {
  readonly known: readonly string[];
  readonly scheme?: string;
}

/**
 * The checks every section chosen by its `technology` (`metadata`, `streams`) shares: an object,
 * a technology among `technologies`, only that technology's options, and its URL's variable. The
 * technology and the fields come back for the section's own checks once the value is an object
 * with a known technology.
 */
export function technologyProblems<T extends string>(
  section: string,
  value: unknown,
  technologies: Readonly<Record<T, TechnologyOptions>>,
  example: string,
): { problems: string[]; technology?: T; fields?: Record<string, unknown> } {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { problems: [`${section} must be an object such as ${example}`] };
  const fields = value as Record<string, unknown>;
  const names = Object.keys(technologies) as T[];
  const technology = names.find((name) => name === fields.technology);
  if (technology === undefined) {
    const got = JSON.stringify(fields.technology) ?? "nothing";
    return { problems: [`${section}.technology must be ${names.map((n) => `"${n}"`).join(" or ")} (got ${got})`] };
  }
  const { known, scheme } = technologies[technology];
  const problems: string[] = [];
  for (const name of Object.keys(fields))
    if (name !== "url" && !known.includes(name))
      problems.push(`${section}.${name} is not an option of ${technology} ${section} (known: ${known.join(", ")})`);
  problems.push(...urlEnvProblems(section, fields, scheme));
  return { problems, technology, fields };
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
