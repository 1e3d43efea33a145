import assert from "node:assert/strict";
import { test } from "node:test";
import { runPipeline } from "strata";
import orders from "../pipelines/orders.js";

// runPipeline runs the pipeline in memory: no .strata/ folder, nothing left behind.
test("orders: revenue per customer above a minimum amount", async () => {
  const result = await runPipeline(orders, { params: { minAmount: 10 } });
  try {
    assert.equal(result.status, "succeeded");
    assert.deepEqual(result.outputs.summary, { customers: 3, total: 309.85, top: "ada" });
  } finally {
    await result.close();
  }
});

test("orders: a bad param is refused before anything runs", async () => {
  await assert.rejects(runPipeline(orders, { params: { minAmount: -1 } }), { code: "PARAM_INVALID" });
});
