import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ParamError } from "../../src/errors/errors.js";
import { parseParamArgs, validateParams } from "../../src/pipeline/params.js";
import { pipeline } from "../../src/pipeline/pipeline.js";
import { step } from "../../src/pipeline/step.js";

function paramError(fn: () => unknown): ParamError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ParamError);
    return error as ParamError;
  }
  throw new Error("expected a ParamError");
}

const daily = pipeline(
  "daily",
  { params: z.object({ n: z.number(), day: z.coerce.date(), region: z.string().default("eu"), dry: z.boolean().optional() }) },
  ({ params }) => {
    step("a", { inputs: { n: params.n } }, ({ n }) => n);
  },
);

describe("parseParamArgs", () => {
  it("parses JSON-looking values and keeps the rest as strings", () => {
    expect(parseParamArgs(["n=3", "d=2026-01-01", "f=-1.5e2", "ok=true", "no=null", "list=[1,2]", 'obj={"a":1}', "s=hello"])).toEqual({
      n: 3,
      d: "2026-01-01",
      f: -150,
      ok: true,
      no: null,
      list: [1, 2],
      obj: { a: 1 },
      s: "hello",
    });
  });

  it("keeps text after the first '=' as the value, and an empty value as an empty string", () => {
    expect(parseParamArgs(["q=a=b", "e="])).toEqual({ q: "a=b", e: "" });
  });

  it("keeps a value that only looks like JSON as a string", () => {
    expect(parseParamArgs(["x=[not json"])).toEqual({ x: "[not json" });
    expect(parseParamArgs(["x={oops}"])).toEqual({ x: "{oops}" });
  });

  it("rejects an argument without '=' or without a name with PARAM_SYNTAX", () => {
    const error = paramError(() => parseParamArgs(["x"]));
    expect(error.code).toBe("PARAM_SYNTAX");
    expect(error.message).toContain('"x"');
    expect(error.message).toContain("name=value");
    expect(paramError(() => parseParamArgs(["=3"])).code).toBe("PARAM_SYNTAX");
  });
});

describe("validateParams", () => {
  it("applies defaults and coerces dates", () => {
    const params = validateParams(daily, { n: 3, day: "2026-01-01" });
    expect(params).toEqual({ n: 3, day: new Date("2026-01-01T00:00:00.000Z"), region: "eu" });
    expect(params.day).toBeInstanceOf(Date);
  });

  it("a missing required param is named, said to be missing, with the expected type", () => {
    const error = paramError(() => validateParams(daily, { day: "2026-01-01" }));
    expect(error.code).toBe("PARAM_INVALID");
    expect(error.message).toContain('param "n"');
    expect(error.message).toContain("missing");
    expect(error.message).toContain("expected number");
    expect(error.details).toMatchObject({ pipeline: "daily", issues: [{ param: "n" }] });
  });

  it("a param of the wrong type names the value it got", () => {
    const error = paramError(() => validateParams(daily, { n: "three", day: "2026-01-01" }));
    expect(error.code).toBe("PARAM_INVALID");
    expect(error.message).toContain('param "n"');
    expect(error.message).toContain('got "three"');
    expect(error.message).toContain("expected number");
  });

  it("a date that cannot be coerced names the value", () => {
    const error = paramError(() => validateParams(daily, { n: 1, day: "someday" }));
    expect(error.message).toContain('param "day"');
    expect(error.message).toContain('got "someday"');
  });

  it("reports every bad param, one per line", () => {
    const error = paramError(() => validateParams(daily, { n: "x", dry: "yes" }));
    const lines = error.message.split("\n");
    expect(lines).toHaveLength(3);
    expect(error.message).toContain('param "n"');
    expect(error.message).toContain('param "day": missing');
    expect(error.message).toContain('param "dry": got "yes"');
  });

  it("an unknown param is PARAM_UNKNOWN and lists the known params", () => {
    const error = paramError(() => validateParams(daily, { n: 1, day: "2026-01-01", regoin: "us" }));
    expect(error.code).toBe("PARAM_UNKNOWN");
    expect(error.message).toContain('"regoin"');
    expect(error.message).toContain("its params: n, day, region, dry");
    expect(error.details).toMatchObject({ unknown: ["regoin"], known: ["n", "day", "region", "dry"] });
  });

  it("a pipeline without params accepts none and rejects any", () => {
    const plain = pipeline("plain", () => {
      step("a", () => 1);
    });
    expect(validateParams(plain, {})).toEqual({});
    const error = paramError(() => validateParams(plain, { n: 1 }));
    expect(error.code).toBe("PARAM_UNKNOWN");
    expect(error.message).toContain("its params: none");
  });

  it("parseParamArgs then validateParams: CLI strings become typed values", () => {
    const raw = parseParamArgs(["n=7", "day=2026-03-04", "dry=false"]);
    expect(validateParams(daily, raw)).toEqual({ n: 7, day: new Date("2026-03-04T00:00:00.000Z"), region: "eu", dry: false });
  });
});

describe("parseParamArgs with the pipeline's schema", () => {
  const schema = z.object({
    id: z.string(),
    day: z.coerce.date(),
    kind: z.enum(["a", "1"]).default("a"),
    n: z.number(),
    flag: z.boolean(),
  });

  it("keeps text for params whose type takes text, and parses the rest", () => {
    expect(parseParamArgs(["id=12345", "day=2026-01-01", "kind=1", "n=3", "flag=true"], schema)).toEqual({
      id: "12345",
      day: "2026-01-01",
      kind: "1",
      n: 3,
      flag: true,
    });
  });

  it("does not turn a compact date into a number (which would coerce to 1970)", () => {
    const p = pipeline("compact", { params: schema }, () => undefined);
    expect(() => validateParams(p, parseParamArgs(["id=x", "day=20260101", "n=1", "flag=false"], schema))).toThrow(
      /param "day": got "20260101"/,
    );
  });
});
