import { describe, expect, it } from "vitest";
import { thrown } from "../helpers/errors.js";
import type { StrataError } from "../../src/errors/strata-error.js";
import { checkMetadataConfig, resolveMetadata } from "../../src/project/metadata-config.js";

describe("metadata in strata.config.ts", () => {
  it("is optional, and takes sqlite or postgres with the name of a URL variable", () => {
    expect(checkMetadataConfig(undefined, "strata.config.ts")).toBeUndefined();
    expect(checkMetadataConfig({ technology: "sqlite" }, "strata.config.ts")).toEqual({ technology: "sqlite" });
    const pg = { technology: "postgres", urlEnv: "STRATA_METADATA_URL", schema: "acme_meta", poolSize: 4 };
    expect(checkMetadataConfig(pg, "strata.config.ts")).toEqual(pg);
  });

  it("names the file and every bad field", () => {
    const check = (value: unknown): StrataError => thrown(() => checkMetadataConfig(value, "strata.config.ts"));
    const wrongTechnology = check({ technology: "mysql" });
    expect(wrongTechnology.code).toBe("PROJECT_LOAD_FAILED");
    expect(wrongTechnology.message).toBe(`strata.config.ts: metadata.technology must be "sqlite" or "postgres" (got "mysql")`);
    expect(wrongTechnology.details).toMatchObject({ file: "strata.config.ts", field: "metadata" });
    expect(check("postgres").message).toContain("strata.config.ts: metadata must be an object");
    expect(check({}).message).toContain(`metadata.technology must be "sqlite" or "postgres" (got nothing)`);

    const many = check({ technology: "postgres", urlEnv: "postgres://u:pw@h/db", schema: "Acme", poolSize: 0, pool: 3 });
    expect(many.message).toBe(
      "strata.config.ts: metadata.pool is not an option of postgres metadata (known: technology, urlEnv, schema, poolSize); " +
        "metadata.urlEnv must be the name of an environment variable (letters, digits and _), not the URL itself; " +
        "metadata.schema must be a lower-case name (letters, digits and _, starting with a letter or _); " +
        "metadata.poolSize must be a whole number from 1 to 1000",
    );
    expect(check({ technology: "postgres" }).message).toContain("metadata.urlEnv is required");
    expect(check({ technology: "sqlite", urlEnv: "X" }).message).toContain("metadata.urlEnv is not an option of sqlite metadata");
  });

  it("refuses a URL written in the file, without repeating it", () => {
    const error = thrown(() =>
      checkMetadataConfig({ technology: "postgres", url: "postgres://u:s3cret@h/db", urlEnv: "X" }, "strata.config.ts"),
    );
    expect(error.message).toContain("metadata.url is not allowed: a URL holds a password");
    expect(error.message).not.toContain("s3cret");
  });

  it("reads the URL from the environment when the workspace opens, naming the variable, never its value", () => {
    const config = { technology: "postgres", urlEnv: "META_URL", schema: "acme" } as const;
    expect(resolveMetadata(undefined, {})).toBeUndefined();
    expect(resolveMetadata({ technology: "sqlite" }, {})).toEqual({ technology: "sqlite" });
    expect(resolveMetadata(config, { META_URL: "postgres://u:pw@db:5432/x" })).toEqual({
      technology: "postgres",
      url: "postgres://u:pw@db:5432/x",
      schema: "acme",
    });
    const unset = thrown(() => resolveMetadata(config, {}));
    expect(unset.code).toBe("STORAGE_UNAVAILABLE");
    expect(unset.message).toBe("metadata store (postgres): the environment variable META_URL is not set (metadata.urlEnv)");
    const notPostgres = thrown(() => resolveMetadata(config, { META_URL: "mysql://u:s3cret@db/x" }));
    expect(notPostgres.code).toBe("STORAGE_INVALID");
    expect(notPostgres.message).toBe("metadata store (postgres): META_URL must hold a postgres:// or postgresql:// URL");
  });
});
