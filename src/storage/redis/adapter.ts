import { assertUsable } from "../definition-check.js";
import { basename } from "node:path";
import { StrataError } from "../../errors/strata-error.js";
import type { Health, StorageAdapter } from "../adapter.js";
import type { Format, StorageDefinition } from "../storage-definition.js";
import { RedisConnection } from "./connection.js";
import { RedisKvStore } from "./kv-store.js";
import { redisHostPort } from "./redis-url.js";

const OPTIONS = ["urlEnv", "prefix"] as const;
const FORMATS = ["kv"] as const satisfies readonly Format[];

function check(definition: StorageDefinition): string[] {
  const problems: string[] = [];
  const where = `redis storage "${definition.name}"`;
  for (const name of Object.keys(definition.options)) {
    if ((OPTIONS as readonly string[]).includes(name)) continue;
    problems.push(
      name === "url" || name === "password"
        ? `${where}: option "${name}" is not allowed: secrets never go in options; put the redis:// URL in an environment variable and name it with "urlEnv"`
        : `${where}: unknown option "${name}" (known: ${OPTIONS.join(", ")})`,
    );
  }
  const { urlEnv, prefix } = definition.options;
  if (urlEnv === undefined)
    problems.push(`${where}: option "urlEnv" is required: the name of the environment variable holding the redis:// URL`);
  else if (typeof urlEnv !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(urlEnv)) {
    problems.push(
      `${where}: option "urlEnv" must be the name of an environment variable (letters, digits and _), not ${JSON.stringify(urlEnv)}`,
    );
  }
  if (prefix !== undefined && (typeof prefix !== "string" || prefix === ""))
    problems.push(`${where}: option "prefix" must be a non-empty string`);
  return problems;
}

/** The server's host:port for messages; STORAGE_UNAVAILABLE naming the variable when it holds no redis:// URL. */
function endpointOf(storage: string, urlEnv: string, url: string): string {
  const endpoint = redisHostPort(url);
  if (endpoint) return endpoint;
  throw new StrataError(
    "STORAGE_UNAVAILABLE",
    `storage "${storage}" (redis): environment variable ${urlEnv} does not hold a redis:// or rediss:// URL`,
    {
      details: { storage, urlEnv },
    },
  );
}

/**
 * Redis: key-value storages for serving. The URL comes from the environment variable named by
 * `urlEnv`; keys start with `prefix` (default `strata:<project folder>:<storage name>`).
 */
export const redisAdapter: StorageAdapter = {
  technology: "redis",
  formats: FORMATS,
  check,

  // A server that is down does not fail open(): the storage is returned, its calls fail fast with
  // STORAGE_UNAVAILABLE and its health says why, and it recovers by itself when the server is back,
  // so a service that serves many storages starts and keeps serving the others meanwhile.
  // async so that every failure, even of the checks, is a rejection.
  async open(definition, context) {
    const storage = definition.name;
    assertUsable(redisAdapter, definition);
    const urlEnv = definition.options.urlEnv as string;
    // Projects sharing a server must not share keys: the default prefix names the project folder.
    const prefix =
      typeof definition.options.prefix === "string" ? definition.options.prefix : `strata:${basename(context.projectDir)}:${storage}`;
    const url = context.env[urlEnv];
    if (url === undefined || url === "") {
      throw new StrataError(
        "STORAGE_UNAVAILABLE",
        `storage "${storage}" (redis): environment variable ${urlEnv} is not set; it must hold the server's redis:// URL`,
        {
          details: { storage, urlEnv },
        },
      );
    }
    const endpoint = endpointOf(storage, urlEnv, url);
    const connection = RedisConnection.open(url, storage, endpoint);
    const kv = new RedisKvStore(connection, { prefix });
    return {
      definition,
      location: `${endpoint}, keys ${prefix}:*`,
      kv,
      async health(): Promise<Health> {
        try {
          const info = await connection.call("health check", (c) => c.info("server"));
          const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? "?";
          return { ok: true, detail: `redis ${version} at ${endpoint}, prefix ${prefix}` };
        } catch (error) {
          return { ok: false, detail: (error as Error).message };
        }
      },
      close: () => {
        kv.close();
        return connection.close();
      },
    };
  },
};
