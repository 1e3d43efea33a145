import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import fastJson from "fast-json-stringify";
import { z } from "zod";

/** A JSON Schema document, as `GET /v1/endpoints` and the OpenAPI document show it. */
export type JsonSchema = Record<string, unknown>;

/** One field that failed, for a 400 answer: `field` is a dotted path (`items.2.id`), empty for the whole value. */
export interface FieldIssue {
  readonly field: string;
  readonly message: string;
}

/**
 * An endpoint type's schemas compiled once, when the endpoint loads, for the hot path: input and
 * output checks are ajv functions generated from the schemas (a generic validator walking a
 * schema per request costs several times more: bench/serving-validation.ts), and the output is
 * written by a serializer generated from the output schema.
 */
export interface CompiledSchemas {
  readonly inputSchema: JsonSchema;
  readonly outputSchema: JsonSchema;
  /** Checks the input in place (filling defaults); the issues when it fails. */
  checkInput(value: unknown): readonly FieldIssue[] | null;
  checkOutput(value: unknown): readonly FieldIssue[] | null;
  /** JSON text of a checked output. */
  serialize(value: unknown): string;
}

// One compiler for the process: ajv caches compiled functions per schema object. Formats are
// not checked by name: zod writes each format's pattern into the schema, and ajv checks that.
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, validateFormats: false });

/** The JSON Schema of one side of a zod schema; throws a message naming what cannot be expressed. */
export function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: "draft-7", io, unrepresentable: "throw" }) as JsonSchema;
  return rest;
}

function issuesOf(errors: readonly ErrorObject[] | null | undefined): FieldIssue[] {
  return (errors ?? []).map((e) => {
    const path = e.instancePath.split("/").slice(1).map(decodeURIComponent);
    const missing = (e.params as { missingProperty?: string }).missingProperty;
    if (missing !== undefined) return { field: [...path, missing].join("."), message: "is required" };
    const extra = (e.params as { additionalProperty?: string }).additionalProperty;
    if (extra !== undefined) return { field: [...path, extra].join("."), message: "is not a field of this schema" };
    const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
    const message = allowed ? `must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}` : (e.message ?? "is invalid");
    return { field: path.join("."), message };
  });
}

const check =
  (validate: ValidateFunction) =>
  (value: unknown): FieldIssue[] | null =>
    validate(value) ? null : issuesOf(validate.errors);

export function compileSchemas(input: z.ZodType, output: z.ZodType): CompiledSchemas {
  const inputSchema = jsonSchemaOf(input, "input");
  const outputSchema = jsonSchemaOf(output, "output");
  return {
    inputSchema,
    outputSchema,
    checkInput: check(ajv.compile(inputSchema)),
    checkOutput: check(ajv.compile(outputSchema)),
    serialize: fastJson(outputSchema as unknown as Parameters<typeof fastJson>[0]),
  };
}

/** "field: message; ..." for an error message. */
export function describeIssues(issues: readonly FieldIssue[], prefix = ""): string {
  return issues.map((i) => `${prefix}${i.field || "(the value)"}: ${i.message}`).join("; ");
}
