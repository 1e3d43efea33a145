import { ProjectError } from "../errors/errors.js";
import { StrataError } from "../errors/strata-error.js";
import { redisHostPort } from "../storage/redis/redis-url.js";

/**
 * The `queue` field of strata.config.ts: the Redis server that carries step jobs from the control
 * plane to `strata worker` processes. Without it, runs execute in the control plane's own process.
 * Like storages, it names the environment variable holding the URL, never the URL.
 */
export interface QueueConfig {
  /** The environment variable holding the redis:// URL, e.g. "STRATA_QUEUE_URL". */
  readonly urlEnv: string;
  /** Prefix of every key on the server, so projects can share one Redis. Default "strata". */
  readonly prefix?: string;
}

/** Where the queue is, resolved from the environment. */
export interface QueueTarget {
  readonly url: string;
  readonly prefix: string;
  /** host:port, for messages (the URL may hold a password). */
  readonly endpoint: string;
}

const KNOWN = ["urlEnv", "prefix"];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PREFIX = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function problemsOf(value: unknown): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return [`queue must be an object such as { urlEnv: "STRATA_QUEUE_URL" }`];
  const fields = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const name of Object.keys(fields)) {
    if (name === "url")
      problems.push(`queue.url is not allowed: a URL holds a password; put it in an environment variable named by queue.urlEnv`);
    else if (!KNOWN.includes(name)) problems.push(`queue.${name} is not an option of the queue (known: ${KNOWN.join(", ")})`);
  }
  const { urlEnv, prefix } = fields;
  if (urlEnv === undefined) problems.push(`queue.urlEnv is required: the name of the environment variable holding the redis:// URL`);
  else if (typeof urlEnv !== "string" || !ENV_NAME.test(urlEnv))
    problems.push(`queue.urlEnv must be the name of an environment variable (letters, digits and _), not the URL itself`);
  if (prefix !== undefined && (typeof prefix !== "string" || !PREFIX.test(prefix)))
    problems.push(`queue.prefix must be letters, digits, ".", "_" or "-" (at most 64), starting with a letter or digit`);
  return problems;
}

/** Checks the config's `queue` field when the project loads: PROJECT_LOAD_FAILED naming the file and each bad field. */
export function checkQueueConfig(value: unknown, file: string): QueueConfig | undefined {
  if (value === undefined) return undefined;
  const problems = problemsOf(value);
  if (problems.length)
    throw new ProjectError("PROJECT_LOAD_FAILED", `${file}: ${problems.join("; ")}`, { details: { file, field: "queue", problems } });
  return value as QueueConfig;
}

/** The queue's URL, read from the environment now; QUEUE_UNAVAILABLE naming the variable when it is unset or not redis://. */
export function resolveQueue(config: QueueConfig, env: Readonly<Record<string, string | undefined>>): QueueTarget {
  const url = env[config.urlEnv]?.trim();
  if (!url)
    throw new StrataError("QUEUE_UNAVAILABLE", `queue (redis): the environment variable ${config.urlEnv} is not set (queue.urlEnv)`, {
      details: { urlEnv: config.urlEnv },
    });
  const endpoint = redisHostPort(url);
  if (!endpoint)
    throw new StrataError("QUEUE_UNAVAILABLE", `queue (redis): ${config.urlEnv} must hold a redis:// or rediss:// URL`, {
      details: { urlEnv: config.urlEnv },
    });
  return { url, prefix: config.prefix ?? "strata", endpoint };
}
