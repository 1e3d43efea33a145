import { describe, expect, it } from "vitest";
import { thrown } from "../helpers/errors.js";
import { checkStreamsConfig, resolveStreams } from "../../src/project/streams-config.js";
import type { StrataError } from "../../src/errors/strata-error.js";

describe("the streams field of strata.config.ts", () => {
  it("takes sqlite (the default) or redis with the variable holding its URL", () => {
    expect(checkStreamsConfig(undefined, "strata.config.ts")).toBeUndefined();
    expect(resolveStreams(undefined, {})).toEqual({ technology: "sqlite" });
    const redis = { technology: "redis", urlEnv: "EVENTS_URL", prefix: "acme" } as const;
    expect(checkStreamsConfig(redis, "strata.config.ts")).toEqual(redis);
    expect(resolveStreams(redis, { EVENTS_URL: "redis://:pw@cache:6380/2" })).toEqual({
      technology: "redis",
      url: "redis://:pw@cache:6380/2",
      endpoint: "cache:6380",
      prefix: "acme",
    });
    expect(resolveStreams({ technology: "redis", urlEnv: "EVENTS_URL" }, { EVENTS_URL: "redis://h" })).toMatchObject({ prefix: "strata" });
  });

  it("names the file and every bad field, and never repeats a URL written in it", () => {
    const check = (value: unknown): StrataError => thrown(() => checkStreamsConfig(value, "strata.config.ts"));
    const wrong = check({ technology: "kafka" });
    expect([wrong.code, wrong.message]).toEqual([
      "PROJECT_LOAD_FAILED",
      `strata.config.ts: streams.technology must be "sqlite" or "redis" (got "kafka")`,
    ]);
    expect(wrong.details).toMatchObject({ file: "strata.config.ts", field: "streams" });
    const many = check({ technology: "redis", url: "redis://:s3cret@h", urlEnv: "redis://h", prefix: "a b", group: 1 });
    expect(many.message).toBe(
      "strata.config.ts: streams.group is not an option of redis streams (known: technology, urlEnv, prefix); " +
        "streams.url is not allowed: a URL holds a password; put it in an environment variable named by streams.urlEnv; " +
        "streams.urlEnv must be the name of an environment variable (letters, digits and _), not the URL itself; " +
        'streams.prefix must be letters, digits, ".", "_" or "-" (at most 64), starting with a letter or digit',
    );
    expect(many.message).not.toContain("s3cret");
    expect(check({ technology: "redis" }).message).toContain("streams.urlEnv is required");
    expect(check({ technology: "sqlite", urlEnv: "X" }).message).toContain("streams.urlEnv is not an option of sqlite streams");
  });

  it("says which variable is missing when the server opens it, not what it should hold", () => {
    const unset = thrown(() => resolveStreams({ technology: "redis", urlEnv: "EVENTS_URL" }, {}));
    expect([unset.code, unset.message]).toEqual([
      "STORAGE_UNAVAILABLE",
      "stream store (redis): the environment variable EVENTS_URL is not set (streams.urlEnv)",
    ]);
    const notRedis = thrown(() => resolveStreams({ technology: "redis", urlEnv: "EVENTS_URL" }, { EVENTS_URL: "postgres://u:pw@h/db" }));
    expect(notRedis.message).toBe("stream store (redis): EVENTS_URL must hold a redis:// or rediss:// URL");
  });
});
