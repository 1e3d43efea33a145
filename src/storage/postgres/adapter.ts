import { assertUsable } from "../definition-check.js";
import { StrataError } from "../../errors/strata-error.js";
import type { Health, StorageAdapter } from "../adapter.js";
import type { Format, StorageDefinition } from "../storage-definition.js";
import { SCHEMA_NAME } from "./connection.js";
import { PostgresTableEngine } from "./table-engine.js";

const OPTIONS = ["urlEnv", "schema", "poolSize"] as const;
const FORMATS = ["table"] as const satisfies readonly Format[];

function check(definition: StorageDefinition): string[] {
  const problems: string[] = [];
  const at = `postgres storage "${definition.name}"`;
  const { urlEnv, schema, poolSize } = definition.options;
  for (const name of Object.keys(definition.options)) {
    if (!(OPTIONS as readonly string[]).includes(name)) problems.push(`${at}: unknown option "${name}" (known: ${OPTIONS.join(", ")})`);
  }
  if (urlEnv === undefined) {
    problems.push(`${at}: option "urlEnv" is required: the name of the environment variable that holds its postgres:// URL`);
  } else if (typeof urlEnv !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(urlEnv)) {
    problems.push(`${at}: option "urlEnv" must be the name of an environment variable (letters, digits and _), not the URL itself`);
  }
  if (schema !== undefined && (typeof schema !== "string" || !SCHEMA_NAME.test(schema))) {
    problems.push(`${at}: option "schema" must be a lower-case name (letters, digits and _, starting with a letter or _)`);
  }
  if (poolSize !== undefined && (typeof poolSize !== "number" || !Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000)) {
    problems.push(`${at}: option "poolSize" must be a whole number from 1 to 1000`);
  }
  return problems;
}

/** PostgreSQL: tables on a server, for production. The URL (with its password) comes from the environment. */
export const postgresAdapter: StorageAdapter = {
  technology: "postgres",
  formats: FORMATS,
  check,

  // async so that every failure, even of the checks, is a rejection.
  async open(definition, context) {
    assertUsable(postgresAdapter, definition);
    const urlEnv = definition.options.urlEnv as string;
    const url = context.env[urlEnv];
    if (url === undefined || url.trim() === "") {
      throw new StrataError(
        "STORAGE_UNAVAILABLE",
        `storage "${definition.name}" (postgres): the environment variable ${urlEnv} is not set`,
        {
          details: { storage: definition.name, urlEnv },
        },
      );
    }
    // The value is a secret: the message names the variable, never what it holds.
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new StrataError(
        "STORAGE_INVALID",
        `storage "${definition.name}" (postgres): ${urlEnv} must hold a postgres:// or postgresql:// URL`,
        {
          details: { storage: definition.name, urlEnv },
        },
      );
    }
    const tables = new PostgresTableEngine({
      url,
      storage: definition.name,
      ...(typeof definition.options.schema === "string" ? { schema: definition.options.schema } : {}),
      ...(typeof definition.options.poolSize === "number" ? { poolSize: definition.options.poolSize } : {}),
    });
    return {
      definition,
      location: `${tables.server}, schema ${tables.schema}`,
      tables,
      async health(): Promise<Health> {
        try {
          return { ok: true, detail: `postgres ${await tables.serverVersion()} at ${tables.server}, schema ${tables.schema}` };
        } catch (error) {
          return { ok: false, detail: (error as Error).message };
        }
      },
      close: () => tables.close(),
    };
  },
};
