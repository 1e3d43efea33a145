import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";
import { runRecord as run } from "../helpers/run-records.js";
import { isStrataError } from "../../src/errors/strata-error.js";
import { SqliteRunStore } from "../../src/storage/sqlite/run-store.js";

const tempDir = tempDirEachTest("strata-store-");
const stores = closeEachTest<SqliteRunStore>();
const openStore = (path = ":memory:"): SqliteRunStore => stores.track(new SqliteRunStore(path));

describe("SqliteRunStore", () => {
  // The RunStore contract itself (steps, attempts, prefixes, listing, logs, reports) is
  // test/conformance/metadata-store.suite.ts, run on SQLite and Postgres; these are the file's own.
  it("keeps everything across a reopen of the file", async () => {
    const path = join(tempDir(), "nested", "metadata.sqlite");
    const first = new SqliteRunStore(path);
    await first.createRun(run("r1", { resumedFrom: "r0", params: { day: "2026-01-01", list: [1, 2] } }), ["a"]);
    await first.saveStep({
      runId: "r1",
      step: "a",
      status: "reused",
      attempts: 0,
      startedAt: null,
      endedAt: null,
      error: null,
      output: { kind: "table", table: "r0.a", rows: 3 },
      reusedFrom: "r0",
    });
    await first.appendLogs([{ runId: "r1", step: "a", attempt: 1, time: 1, level: 30, line: "{}" }]);
    await first.finishRun("r1", "succeeded", 99, null);
    await first.close();

    const second = openStore(path);
    expect(await second.getRun("r1")).toMatchObject({
      status: "succeeded",
      endedAt: 99,
      resumedFrom: "r0",
      params: { day: "2026-01-01", list: [1, 2] },
    });
    expect(await second.getSteps("r1")).toMatchObject([
      { step: "a", status: "reused", output: { kind: "table", table: "r0.a", rows: 3 }, reusedFrom: "r0" },
    ]);
    expect(await second.getLogs("r1")).toHaveLength(1);
    await second.createRun(run("r2"), []);
    expect((await second.listRuns()).map((r) => r.id)).toEqual(["r2", "r1"]);
  });

  it("a path that cannot be opened is STORE_FAILED naming the path", () => {
    const path = join(tempDir(), "file-not-dir");
    stores.track(new SqliteRunStore(path));
    let thrown: unknown;
    try {
      new SqliteRunStore(join(path, "metadata.sqlite"));
    } catch (error) {
      thrown = error;
    }
    expect(isStrataError(thrown) && thrown.code).toBe("STORE_FAILED");
    expect((thrown as Error).message).toContain(path);
  });
});
