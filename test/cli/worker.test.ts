import { describe, expect, it } from "vitest";
import { projectEachTest, strata } from "./helpers.js";
import { freePort } from "../helpers/waiting.js";

describe("strata worker", () => {
  const control = projectEachTest("control");

  it("refuses to start in a project without a queue, saying what to add", async () => {
    const result = await control.cli("worker");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("QUEUE_NOT_CONFIGURED");
    expect(result.stderr).toContain('queue: { urlEnv: "STRATA_QUEUE_URL" }');
  });

  describe("with a queue configured", () => {
    const fleet = projectEachTest("fleet");
    const env = { FLEET_METADATA_URL: "postgres://nobody@127.0.0.1:1/none" };

    it("names the unset variable", async () => {
      const result = await strata(["worker", "--project", fleet.dir()], { env: { ...env, FLEET_QUEUE_URL: "" } });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain("QUEUE_UNAVAILABLE");
      expect(result.stderr).toContain("FLEET_QUEUE_URL is not set");
    });

    it("says which server is out of reach, without the URL's password", async () => {
      const port = await freePort();
      const result = await strata(["worker", "--project", fleet.dir()], {
        env: { ...env, FLEET_QUEUE_URL: `redis://:s3cret@127.0.0.1:${port}` },
      });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`QUEUE_UNAVAILABLE`);
      expect(result.stderr).toContain(`127.0.0.1:${port}`);
      expect(result.stderr).not.toContain("s3cret");
      const server = await strata(["server", "--port", "0", "--project", fleet.dir()], {
        env: { ...env, FLEET_QUEUE_URL: `redis://:s3cret@127.0.0.1:${port}` },
      });
      expect(server.code).not.toBe(0);
      expect(server.stderr).toContain(`queue (redis at 127.0.0.1:${port}) is out of reach`);
    });

    it("explains itself in --help", async () => {
      const result = await strata(["worker", "--help"]);
      expect(result.stdout).toContain("--concurrency <n>");
      expect(result.stdout).toContain("--lock-ms <ms>");
      expect(result.stdout).toContain("discarded");
    });
  });
});
