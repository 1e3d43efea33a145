import { z } from "zod";
import type { ParamsSchema } from "./pipeline.js";

export interface ParamDoc {
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  readonly default?: unknown;
  readonly description?: string;
}

interface JsonSchemaProp {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  anyOf?: JsonSchemaProp[];
}

function typeName(p: JsonSchemaProp): string {
  if (p.enum) return p.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (p.anyOf) return p.anyOf.map(typeName).join(" | ");
  const t = Array.isArray(p.type) ? p.type.join(" | ") : (p.type ?? "any");
  return p.format ? `${t} (${p.format})` : t;
}

/** What `strata pipelines` and the API show of a pipeline's params, read from its zod schema. */
export function describeParams(schema: ParamsSchema | undefined): ParamDoc[] {
  if (!schema) return [];
  // Dates and other values JSON Schema cannot express become "any" rather than an error.
  const json = z.toJSONSchema(schema as z.ZodType, { unrepresentable: "any", io: "input" }) as {
    properties?: Record<string, JsonSchemaProp>;
    required?: string[];
  };
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties ?? {}).map(([name, prop]) => ({
    name,
    type: typeName(prop) === "any" && schemaIsDate(schema, name) ? "date" : typeName(prop),
    required: required.has(name) && prop.default === undefined,
    ...(prop.default !== undefined ? { default: prop.default } : {}),
    ...(prop.description ? { description: prop.description } : {}),
  }));
}

interface ZodDefLike {
  def?: { type?: string; innerType?: ZodDefLike };
}

function schemaIsDate(schema: ParamsSchema, name: string): boolean {
  let field = (schema as { shape?: Record<string, ZodDefLike> }).shape?.[name];
  // Look through .default() and .optional() wrappers.
  while (field?.def?.innerType) field = field.def.innerType;
  return field?.def?.type === "date";
}
