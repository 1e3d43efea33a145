import { StrataError } from "../errors/strata-error.js";
import type { MetadataChoice } from "../storage/metadata-stores.js";
import { SCHEMA_NAME } from "../storage/postgres/connection.js";
import { checkSection, technologyProblems, type TechnologyOptions } from "./config-section.js";

/**
 * The `metadata` field of strata.config.ts: where runs, the catalog, models and API keys are
 * kept. SQLite in the state folder by default; Postgres when several processes share them. Like
 * storages, it names the environment variable holding the URL, never the URL.
 */
export type MetadataConfig =
  | { readonly technology: "sqlite" }
  | {
      readonly technology: "postgres";
      /** The environment variable holding the postgres:// URL, e.g. "STRATA_METADATA_URL". */
      readonly urlEnv: string;
      /** The schema of the metadata tables (plain names: runs, logs...), created when missing; give it one of its own. Default "strata". */
      readonly schema?: string;
      /** Connections at most, per process. Default 10. */
      readonly poolSize?: number;
    };

const TECHNOLOGIES: Record<MetadataConfig["technology"], TechnologyOptions> = {
  sqlite: { known: ["technology"] },
  postgres: { known: ["technology", "urlEnv", "schema", "poolSize"], scheme: "postgres://" },
};

/** Each problem of a `metadata` value, naming its field. */
function problemsOf(value: unknown): string[] {
  const example = `{ technology: "postgres", urlEnv: "STRATA_METADATA_URL" }`;
  const { problems, technology, fields } = technologyProblems("metadata", value, TECHNOLOGIES, example);
  if (technology === "postgres") {
    const { schema, poolSize } = fields!;
    if (schema !== undefined && (typeof schema !== "string" || !SCHEMA_NAME.test(schema)))
      problems.push(`metadata.schema must be a lower-case name (letters, digits and _, starting with a letter or _)`);
    if (poolSize !== undefined && (typeof poolSize !== "number" || !Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000))
      problems.push(`metadata.poolSize must be a whole number from 1 to 1000`);
  }
  return problems;
}

/** Checks the config's `metadata` field when the project loads: PROJECT_LOAD_FAILED naming the file and each bad field. */
export function checkMetadataConfig(value: unknown, file: string): MetadataConfig | undefined {
  return checkSection<MetadataConfig>("metadata", value, file, problemsOf);
}

/** What the workspace opens, with the URL read from the environment now (when the workspace opens, not when the config loads). */
export function resolveMetadata(
  config: MetadataConfig | undefined,
  env: Readonly<Record<string, string | undefined>>,
): MetadataChoice | undefined {
  if (config === undefined || config.technology === "sqlite") return config;
  const url = env[config.urlEnv];
  // The value is a secret: messages name the variable, never what it holds.
  if (url === undefined || url.trim() === "") {
    throw new StrataError(
      "STORAGE_UNAVAILABLE",
      `metadata store (postgres): the environment variable ${config.urlEnv} is not set (metadata.urlEnv)`,
      {
        details: { urlEnv: config.urlEnv },
      },
    );
  }
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new StrataError("STORAGE_INVALID", `metadata store (postgres): ${config.urlEnv} must hold a postgres:// or postgresql:// URL`, {
      details: { urlEnv: config.urlEnv },
    });
  }
  return {
    technology: "postgres",
    url,
    ...(config.schema === undefined ? {} : { schema: config.schema }),
    ...(config.poolSize === undefined ? {} : { poolSize: config.poolSize }),
  };
}
