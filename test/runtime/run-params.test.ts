import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ParamError } from "../../src/errors/errors.js";
import { parseParamArgs } from "../../src/pipeline/params.js";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";
import { runPipeline } from "../../src/runtime/run-pipeline.js";
import { openWorkspace, type Workspace } from "../../src/runtime/workspace.js";

let workspace: Workspace | undefined;
const open = (): Workspace => (workspace = openWorkspace(":memory:"));
afterEach(async () => {
  await workspace?.close();
  workspace = undefined;
});

let calls = 0;
const daily = pipeline(
  "daily",
  { params: z.object({ n: z.number(), day: z.coerce.date(), tag: z.string().default("none") }) },
  ({ params }) => {
    step("use", { inputs: { n: params.n, day: params.day, tag: params.tag } }, (inputs, ctx) => {
      calls++;
      return { ...inputs, all: ctx.params };
    });
  },
);

async function paramError(promise: Promise<unknown>): Promise<ParamError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ParamError);
    return error as ParamError;
  }
  throw new Error("expected a ParamError");
}

describe("runPipeline params", () => {
  it.each([
    ["a missing param", {}, "PARAM_INVALID", 'param "n": missing'],
    ["a wrong type", { n: "x", day: "2026-01-01" }, "PARAM_INVALID", 'got "x"'],
    ["an unknown param", { n: 1, day: "2026-01-01", nn: 2 }, "PARAM_UNKNOWN", '"nn"'],
  ])("%s throws a ParamError before anything runs and records no run", async (_what, params, code, text) => {
    const workspace = open();
    calls = 0;
    const error = await paramError(runPipeline(daily, { workspace, params }));
    expect(error.code).toBe(code);
    expect(error.message).toContain(text);
    expect(calls).toBe(0);
    expect(await workspace.store.listRuns()).toEqual([]);
  });

  it("validated params reach the steps typed and with defaults, and are recorded", async () => {
    const workspace = open();
    const result = await runPipeline(daily, { workspace, params: parseParamArgs(["n=3", "day=2026-02-03"]) });
    const day = new Date("2026-02-03T00:00:00.000Z");
    expect(result.outputs.use).toEqual({ n: 3, day, tag: "none", all: { n: 3, day, tag: "none" } });
    expect(result.params).toEqual({ n: 3, day, tag: "none" });
    const [run] = await workspace.store.listRuns();
    expect(run!.params).toEqual({ n: 3, day: "2026-02-03T00:00:00.000Z", tag: "none" });
  });
});
