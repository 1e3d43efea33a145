import { checkSection, prefixProblems, redisUrlFrom, urlEnvProblems } from "./config-section.js";

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

function problemsOf(value: unknown): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return [`queue must be an object such as { urlEnv: "STRATA_QUEUE_URL" }`];
  const fields = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const name of Object.keys(fields))
    if (name !== "url" && !KNOWN.includes(name)) problems.push(`queue.${name} is not an option of the queue (known: ${KNOWN.join(", ")})`);
  problems.push(...urlEnvProblems("queue", fields, "redis://"), ...prefixProblems("queue", fields.prefix));
  return problems;
}

/** Checks the config's `queue` field when the project loads: PROJECT_LOAD_FAILED naming the file and each bad field. */
export function checkQueueConfig(value: unknown, file: string): QueueConfig | undefined {
  return checkSection<QueueConfig>("queue", value, file, problemsOf);
}

/** The queue's URL, read from the environment now; QUEUE_UNAVAILABLE naming the variable when it is unset or not redis://. */
export function resolveQueue(config: QueueConfig, env: Readonly<Record<string, string | undefined>>): QueueTarget {
  return { ...redisUrlFrom("queue", "queue", config.urlEnv, env, "QUEUE_UNAVAILABLE"), prefix: config.prefix ?? "strata" };
}
