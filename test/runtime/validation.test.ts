import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { t } from "../../src/data/column-types.js";
import { dataset, type DatasetOptions, type DatasetRef } from "../../src/pipeline/dataset.js";
import { ingest } from "../../src/pipeline/ingest.js";
import { expect as expectOn, pipeline } from "../../src/pipeline/pipeline.js";
import { sql } from "../../src/pipeline/sql.js";
import { step } from "../../src/pipeline/step.js";
import { replayQuarantine } from "../../src/runtime/replay.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { validateDataset } from "../../src/runtime/validate-dataset.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { storage } from "../../src/storage/storage-definition.js";
import { notNull, range, rowCount, unique } from "../../src/validation/expectations.js";
import { rule } from "../../src/validation/record-rules.js";
import { closeEachTest, tempDirEachTest } from "../helpers/resources.js";

const tempDir = tempDirEachTest("strata-validation-");
const workspaces = closeEachTest<Workspace>();

function open(files: Record<string, string>): Workspace {
  const dir = tempDir();
  mkdirSync(join(dir, "data"), { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, "data", name), content);
  return workspaces.track(
    openWorkspace(join(dir, ".strata"), {
      projectDir: dir,
      storages: [storage("lake", { technology: "files", format: "files", options: { path: "data" } })],
    }),
  );
}

const columns = () => ({ customer_id: t.string(), date: t.date("%Y%m%d"), cds: t.int().min(0), amount: t.double().min(0) });
const raw = (options: Partial<Omit<DatasetOptions, "key" | "partitionBy">> = {}) =>
  dataset("raw_tx", { storage: "lake", path: "tx.csv", csv: { header: true }, schema: columns(), quarantine: true, ...options });
const clean = dataset("tx", { storage: "warehouse", schema: columns() });
const byName = (...list: DatasetRef<unknown>[]) => new Map(list.map((d) => [d.name, d]));

// Line 1 is the header; lines 3..7 each have a defect, line 5 two of them.
const TX = [
  "customer_id,date,cds,amount",
  "1,19970101,1,10.5",
  "2,19970102,2,twelve",
  ",19970103,1,-3",
  "4,1997/03/15,1,4",
  "5,19970105,1,5,x",
  "6,19970106,2.5,6",
  "7,19970107,3,7",
].join("\n");

const ingestPipeline = (from: DatasetRef<unknown>) => pipeline("ingest_tx", () => void ingest("ingest", { from, to: clean }));

describe("record checks and quarantine at ingestion", () => {
  it("keeps every rejected record with its source, reasons, checker version and run; counts reconcile", async () => {
    const workspace = open({ "tx.csv": TX });
    const result = await runPipeline(ingestPipeline(raw()), { workspace });
    expect(result.status).toBe("succeeded");
    const [report] = result.validations;
    expect(report).toMatchObject({
      kind: "records",
      dataset: "raw_tx",
      step: "ingest",
      counts: { read: 7, clean: 2, quarantined: 5 },
      passed: true,
    });
    expect(report!.counts!.read).toBe(report!.counts!.clean + report!.counts!.quarantined);
    expect((await workspace.catalog.liveVersion("tx"))?.rows).toBe(2);

    const records = await (await workspace.quarantine()).list("raw_tx");
    expect(records.map((r) => [r.line, r.reasons.map((x) => `${x.code}:${x.column ?? ""}`)])).toEqual([
      [3, ["TYPE_MISMATCH:amount"]],
      [4, ["MISSING_VALUE:customer_id", "OUT_OF_RANGE:amount"]],
      [5, ["TYPE_MISMATCH:date"]],
      [6, ["TOO_MANY_VALUES:"]],
      [7, ["TYPE_MISMATCH:cds"]],
    ]);
    expect(records[0]).toMatchObject({
      file: "tx.csv",
      target: "tx",
      runId: result.id,
      step: "ingest",
      status: "new",
      values: { customer_id: "2", date: "19970102", cds: "2", amount: "twelve" },
    });
    expect(records[0]!.checkerVersion).toMatch(/^[0-9a-f]{12}$/);
    expect(records[3]).toMatchObject({ raw: "5,19970105,1,5,x", values: null });
    expect(records[0]!.reasons[0]!.message).toBe('column "amount": "twelve" is not a double');
  });

  it("without quarantine, the first bad record fails the step, named by file, line and rule", async () => {
    const workspace = open({ "tx.csv": "customer_id,date,cds,amount\n1,19970101,1,10\n2,19970102,1,-4\n" });
    const result = await runPipeline(ingestPipeline(raw({ quarantine: false })), { workspace });
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("INGEST_RECORD_INVALID");
    expect(result.error?.message).toContain('tx.csv line 3, column "amount": -4.0 is below the minimum 0');
    expect(await workspace.catalog.liveVersion("tx")).toBeNull();
  });

  it("fails past maxRate, after keeping every reject", async () => {
    const workspace = open({ "tx.csv": TX });
    const result = await runPipeline(ingestPipeline(raw({ quarantine: { maxRate: 0.5 } })), { workspace });
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("QUARANTINE_RATE_EXCEEDED");
    expect(result.error?.message).toContain("5 of 7 records rejected");
    expect(await (await workspace.quarantine()).count("raw_tx")).toBe(5);
    expect(await workspace.catalog.liveVersion("tx")).toBeNull();
  });

  it("checks cross-field rules in SQL and TypeScript", async () => {
    const workspace = open({ "tx.csv": "customer_id,date,cds,amount\n1,19970101,0,10\n2,19970102,1,0\n3,19970103,1,5\n" });
    const checked = raw({
      rules: [
        rule.sql("paid_if_bought", "cds = 0 or amount > 0"),
        rule.ts("no_free_cds", (r) => !(r.cds === 0 && (r.amount as number) > 0)),
      ],
    });
    const result = await runPipeline(ingestPipeline(checked), { workspace });
    expect(result.validations[0]?.counts).toEqual({ read: 3, clean: 1, quarantined: 2, newlyQuarantined: 2, restored: 0 });
    const records = await (await workspace.quarantine()).list("raw_tx");
    expect(records.map((r) => r.reasons.map((x) => x.rule))).toEqual([["paid_if_bought"], ["no_free_cds"]]);
    expect(records[0]!.line).toBe(3);
  });

  it("reads nested JSON by path, and keeps unknown fields in _extra when asked", async () => {
    const workspace = open({
      "ev.jsonl": [
        '{"customer": {"id": "a"}, "amount": 1, "channel": "web"}',
        '{"customer": {}, "amount": 2}',
        '{"customer": {"id": "c"}, "amount": 3}',
      ].join("\n"),
    });
    const events = dataset("events_raw", {
      storage: "lake",
      path: "ev.jsonl",
      schema: { customer_id: t.string().path("customer.id"), amount: t.double() },
      unknownFields: "keep",
      quarantine: true,
    });
    const out = dataset("events", {
      storage: "warehouse",
      schema: { customer_id: t.string(), amount: t.double(), _extra: t.json().nullable() },
    });
    const result = await runPipeline(
      pipeline("events", () => void ingest("ingest", { from: events, to: out })),
      { workspace },
    );
    expect(result.status).toBe("succeeded");
    const rows = await (await workspace.storages.open("warehouse")).tables!.readRows({ schema: "datasets", table: "events" });
    expect(rows).toEqual([
      { customer_id: "a", amount: 1, _extra: { channel: "web" } },
      { customer_id: "c", amount: 3, _extra: null },
    ]);
    const [reject] = await (await workspace.quarantine()).list("events_raw");
    expect(reject).toMatchObject({
      line: 2,
      raw: '{"customer": {}, "amount": 2}',
      reasons: [{ code: "MISSING_VALUE", column: "customer_id" }],
    });
  });
});

describe("expectations after a step", () => {
  const scores = dataset("scores", { storage: "warehouse", schema: { id: t.string(), score: t.double().nullable() } });
  const writer = (query: ReturnType<typeof sql>, expectations: Parameters<typeof expectOn>[1]) =>
    pipeline("scores", () => {
      const written = step("scores", { output: scores }, query);
      expectOn(written, expectations);
    });

  it("a failed `fail` expectation keeps the new version from going live", async () => {
    const workspace = open({});
    const good = await runPipeline(writer(sql`select 'a' as id, 1.0 as score union all select 'b', 2.0`, [unique("id")]), { workspace });
    expect(good.status).toBe("succeeded");
    const bad = await runPipeline(
      writer(sql`select 'a' as id, 1.0 as score union all select 'a', 2.0`, [unique("id"), rowCount({ min: 1 })]),
      {
        workspace,
      },
    );
    expect(bad.status).toBe("failed");
    expect(bad.error?.code).toBe("EXPECTATION_FAILED");
    expect(bad.error?.message).toContain("unique:id");
    expect((await workspace.catalog.liveVersion("scores"))?.version).toBe(1);
    const report = bad.validations.find((v) => v.kind === "expectations")!;
    expect(report.passed).toBe(false);
    expect(report.results.map((r) => [r.id, r.passed])).toEqual([
      ["unique:id", false],
      ["rowCount", true],
    ]);
  });

  it("`drop` moves failing rows to the quarantine and publishes the rest; `warn` only reports", async () => {
    const workspace = open({});
    const result = await runPipeline(
      writer(sql`select 'a' as id, 1.0 as score union all select 'b', -2.0 union all select 'c', null`, [
        range("score", { min: 0 }, { severity: "drop" }),
        notNull("score", { severity: "warn" }),
      ]),
      { workspace },
    );
    expect(result.status).toBe("succeeded");
    expect((await workspace.catalog.liveVersion("scores"))?.rows).toBe(2);
    const [dropped] = await (await workspace.quarantine()).list("scores");
    expect(dropped).toMatchObject({ values: { id: "b", score: -2 }, reasons: [{ code: "EXPECTATION_FAILED", rule: "range:score" }] });
    const results = result.validations[0]!.results;
    expect(results.map((r) => [r.id, r.severity, r.passed])).toEqual([
      ["range:score", "drop", false],
      ["notNull:score", "warn", false],
    ]);
  });

  it("checks the output of a step that writes no dataset", async () => {
    const workspace = open({});
    const p = pipeline("plain", () => {
      const s = step("numbers", sql`select range as n from range(3)`);
      expectOn(s, [rowCount({ min: 5 })]);
    });
    const result = await runPipeline(p, { workspace });
    expect(result.status).toBe("failed");
    expect(result.error?.message).toContain("rowCount: 3 rows");
  });
});

describe("quarantine replay", () => {
  it("annotated rejects that now pass go into the clean dataset as a new version; history is kept", async () => {
    const workspace = open({ "tx.csv": TX });
    await runPipeline(ingestPipeline(raw()), { workspace });
    const store = await workspace.quarantine();
    const [twelve] = await store.list("raw_tx", { reason: "TYPE_MISMATCH" });
    expect(twelve?.values?.amount).toBe("twelve");
    await store.annotate([twelve!.id], { note: "twelve dollars", fixes: { amount: "12" }, at: Date.now() });

    const datasets = byName(raw(), clean);
    const dry = await replayQuarantine(workspace, raw(), datasets, { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, candidates: 5, passed: 1, stillFailing: 4, version: null });
    expect((await store.get([twelve!.id]))[0]?.status).toBe("annotated");

    const done = await replayQuarantine(workspace, raw(), datasets);
    expect(done).toMatchObject({ candidates: 1, passed: 1, version: 2 });
    const live = await workspace.catalog.liveVersion("tx");
    expect(live).toMatchObject({ version: 2, rows: 3, runId: done.runId });
    const [after] = await store.get([twelve!.id]);
    expect(after).toMatchObject({ status: "replayed", replayedRun: done.runId, replayedVersion: 2, note: "twelve dollars" });
    expect((await workspace.store.getRun(done.runId!)).pipeline).toBe("quarantine-replay");
    // Nothing left to replay: a second replay changes nothing.
    expect((await replayQuarantine(workspace, raw(), datasets)).candidates).toBe(0);
  });

  it("reading the same file again neither duplicates rejects nor loses replayed records", async () => {
    const workspace = open({ "tx.csv": TX });
    const first = await runPipeline(ingestPipeline(raw()), { workspace });
    expect(first.validations[0]?.counts).toMatchObject({ quarantined: 5, newlyQuarantined: 5 });
    const again = await runPipeline(ingestPipeline(raw()), { workspace });
    expect(again.validations[0]?.counts).toEqual({ read: 7, clean: 2, quarantined: 5, newlyQuarantined: 0, restored: 0 });
    const store = await workspace.quarantine();
    expect(await store.count("raw_tx")).toBe(5);

    const [twelve] = await store.list("raw_tx", { reason: "TYPE_MISMATCH" });
    await store.annotate([twelve!.id], { note: null, fixes: { amount: "12" }, at: Date.now() });
    await replayQuarantine(workspace, raw(), byName(raw(), clean));
    // The next ingest of the same file keeps the replayed record, as it was replayed.
    const third = await runPipeline(ingestPipeline(raw()), { workspace });
    expect(third.validations[0]?.counts).toEqual({ read: 7, clean: 3, quarantined: 4, newlyQuarantined: 0, restored: 1 });
    const live = await workspace.catalog.liveVersion("tx");
    expect(live).toMatchObject({ rows: 3, runId: third.id });
    const rows = await (await workspace.storages.open("warehouse")).tables!.readRows({ schema: "datasets", table: "tx" });
    expect(rows.find((r) => r.customer_id === "2")).toMatchObject({ amount: 12, cds: 2 });
    expect(await store.count("raw_tx")).toBe(5);
  });

  it("a dry run tries a changed checker against all past rejects", async () => {
    const workspace = open({ "tx.csv": TX });
    await runPipeline(ingestPipeline(raw()), { workspace });
    // The new checker accepts negative amounts and takes cds as a double.
    const relaxed = raw({ schema: { ...columns(), amount: t.double(), cds: t.double().min(0) } });
    const dry = await replayQuarantine(workspace, relaxed, byName(relaxed, clean), { dryRun: true });
    expect(dry.checkerVersion).not.toBe((await (await workspace.quarantine()).list("raw_tx"))[0]!.checkerVersion);
    expect(dry.passed).toBe(1); // line 7: cds 2.5
    expect(dry.byReason.find((r) => r.code === "TYPE_MISMATCH" && r.column === "cds")).toMatchObject({ count: 1, nowPassing: 1 });
    expect(dry.newReasons.map((r) => r.code).sort()).toEqual(["MISSING_VALUE", "TOO_MANY_VALUES", "TYPE_MISMATCH", "TYPE_MISMATCH"]);
  });

  it("refuses to replay rejects made by a plain read, with no clean dataset to go to", async () => {
    const workspace = open({ "tx.csv": TX });
    await runPipeline(
      pipeline("read", () => void step("count", { inputs: { tx: raw() } }, async ({ tx }) => tx.count())),
      { workspace },
    );
    const store = await workspace.quarantine();
    const [first] = await store.list("raw_tx");
    await store.annotate([first!.id], { note: null, fixes: { amount: "12" }, at: Date.now() });
    await expect(replayQuarantine(workspace, raw(), byName(raw()))).rejects.toMatchObject({ code: "QUARANTINE_NO_TARGET" });
  });
});

describe("validate a dataset ad hoc", () => {
  it("checks raw records without writing anything, and a table's expectations on its live version", async () => {
    const workspace = open({ "tx.csv": TX });
    const checked = await validateDataset(workspace, raw(), byName(raw()));
    expect(checked.passed).toBe(false);
    expect(checked.reports[0]?.counts).toEqual({ read: 7, clean: 2, quarantined: 5 });
    expect(checked.examples[0]).toMatchObject({ line: 3 });
    expect(await (await workspace.quarantine()).count("raw_tx")).toBe(0);

    const withRules = dataset("tx", { storage: "warehouse", schema: columns(), expectations: [rowCount({ min: 3 })] });
    await runPipeline(ingestPipeline(raw()), { workspace });
    const table = await validateDataset(workspace, withRules, byName(withRules));
    expect(table.passed).toBe(false);
    expect(table.reports[0]?.results[0]?.message).toContain("2 rows");
  });
});
