import { ParamError } from "../errors/errors.js";
import type { AnyPipeline } from "./pipeline.js";

/**
 * Turns `--param k=v` strings into an object. Values that read as JSON (numbers, booleans,
 * arrays, objects, null) are parsed; anything else stays a string for the schema to coerce.
 */
export function parseParamArgs(args: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq <= 0) {
      throw new ParamError("PARAM_SYNTAX", `--param "${arg}" is not of the form name=value`, { details: { arg } });
    }
    const key = arg.slice(0, eq);
    const raw = arg.slice(eq + 1);
    out[key] = parseValue(raw);
  }
  return out;
}

function parseValue(raw: string): unknown {
  if (/^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null|\[.*\]|\{.*\})$/s.test(raw.trim())) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw;
    }
  }
  return raw;
}

interface ZodLikeIssue {
  path: PropertyKey[];
  message: string;
  code?: string;
  expected?: string;
}

/**
 * Validates raw params against the pipeline's schema. Throws a ParamError naming each bad param,
 * the value it got and what was expected; unknown names are errors too (a typo must not pass).
 */
export function validateParams(pipeline: AnyPipeline, raw: Record<string, unknown>): Record<string, unknown> {
  const schema = pipeline.params;
  const shape = (schema as { shape?: Record<string, unknown> } | undefined)?.shape;
  const known = schema ? (shape ? Object.keys(shape) : undefined) : [];
  if (known) {
    const unknown = Object.keys(raw).filter((k) => !known.includes(k));
    if (unknown.length) {
      throw new ParamError(
        "PARAM_UNKNOWN",
        `pipeline "${pipeline.name}" has no param ${unknown.map((k) => `"${k}"`).join(", ")} (its params: ${known.join(", ") || "none"})`,
        { details: { pipeline: pipeline.name, unknown, known } },
      );
    }
  }
  if (!schema) return {};
  const result = schema.safeParse(raw);
  if (result.success) return result.data as Record<string, unknown>;
  const issues = (result.error as { issues: ZodLikeIssue[] }).issues;
  const lines = issues.map((issue) => {
    const name = issue.path.map(String).join(".") || "(params)";
    const value = issue.path.length ? raw[String(issue.path[0])] : raw;
    const got = value === undefined ? "missing" : `got ${JSON.stringify(value)}`;
    const expected = issue.code === "invalid_type" && issue.expected ? `expected ${issue.expected}` : issue.message;
    return `param "${name}": ${got}; ${expected}`;
  });
  throw new ParamError("PARAM_INVALID", lines.join("\n"), {
    details: { pipeline: pipeline.name, issues: issues.map((i) => ({ param: i.path.map(String).join("."), message: i.message })) },
  });
}
