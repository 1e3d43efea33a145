import type { StreamChoice } from "../storage/stream-stores.js";
import { checkSection, prefixProblems, redisUrlFrom, technologyProblems, type TechnologyOptions } from "./config-section.js";

/**
 * The `streams` field of strata.config.ts: where the control plane keeps the events posted to
 * named streams until the pipelines they trigger have taken them. SQLite in the state folder by
 * default; Redis Streams for a control plane whose machine keeps no files of its own (a
 * container). Like storages, it names the environment variable holding the URL, never the URL.
 */
export type StreamsConfig =
  | { readonly technology: "sqlite" }
  | {
      readonly technology: "redis";
      /** The environment variable holding the redis:// URL, e.g. "STRATA_STREAMS_URL" (it may be the queue's). */
      readonly urlEnv: string;
      /** Prefix of every key on the server. Default "strata". */
      readonly prefix?: string;
    };

const TECHNOLOGIES: Record<StreamsConfig["technology"], TechnologyOptions> = {
  sqlite: { known: ["technology"] },
  redis: { known: ["technology", "urlEnv", "prefix"], scheme: "redis://" },
};

function problemsOf(value: unknown): string[] {
  const example = `{ technology: "redis", urlEnv: "STRATA_STREAMS_URL" }`;
  const { problems, technology, fields } = technologyProblems("streams", value, TECHNOLOGIES, example);
  if (technology === "redis") problems.push(...prefixProblems("streams", fields!.prefix));
  return problems;
}

/** Checks the config's `streams` field when the project loads: PROJECT_LOAD_FAILED naming the file and each bad field. */
export function checkStreamsConfig(value: unknown, file: string): StreamsConfig | undefined {
  return checkSection<StreamsConfig>("streams", value, file, problemsOf);
}

/** What the control plane opens, with the URL read from the environment now; STORAGE_UNAVAILABLE naming the variable when it is unset. */
export function resolveStreams(config: StreamsConfig | undefined, env: Readonly<Record<string, string | undefined>>): StreamChoice {
  if (config === undefined || config.technology === "sqlite") return { technology: "sqlite" };
  const target = redisUrlFrom("stream store", "streams", config.urlEnv, env, "STORAGE_UNAVAILABLE");
  return { technology: "redis", ...target, prefix: config.prefix ?? "strata" };
}
