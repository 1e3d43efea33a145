import { ParamError } from "../errors/errors.js";
import type { AnyPipeline, ParamsSchema } from "./pipeline.js";

interface ZodDefLike {
  def?: { type?: string; innerType?: ZodDefLike; in?: ZodDefLike };
}

// Params whose schema takes text keep the raw string: `--param id=12345` is the string "12345"
// for a z.string(), and "20260101" must reach z.coerce.date() as written, not as a number.
const TEXT_TYPES = new Set(["string", "enum", "date", "literal", "template_literal"]);

function baseType(field: ZodDefLike | undefined): string | undefined {
  let current = field;
  // Look through .default(), .optional(), .nullable() and pipes to the type that reads the input.
  while (current?.def?.innerType || current?.def?.in) current = current.def.innerType ?? current.def.in;
  return current?.def?.type;
}

/**
 * Turns `--param k=v` strings into an object. With the pipeline's params schema, a param whose
 * type takes text stays a string; any other value that reads as JSON (numbers, booleans, arrays,
 * objects, null) is parsed, and the rest stays a string for the schema to coerce.
 */
export function parseParamArgs(args: readonly string[], schema?: ParamsSchema): Record<string, unknown> {
  const shape = (schema as { shape?: Record<string, ZodDefLike> } | undefined)?.shape;
  const out: Record<string, unknown> = {};
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq <= 0) {
      throw new ParamError("PARAM_SYNTAX", `--param "${arg}" is not of the form name=value`, { details: { arg } });
    }
    const key = arg.slice(0, eq);
    const raw = arg.slice(eq + 1);
    const type = baseType(shape?.[key]);
    out[key] = type !== undefined && TEXT_TYPES.has(type) ? raw : parseValue(raw);
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
