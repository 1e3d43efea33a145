import type { ColumnKind, ColumnSpec } from "./column-types.js";

// Engines name types differently (VARCHAR, text, character varying...); a family is what a
// declared column kind accepts. This is type-name normalization, not a branch on the engine.
const FAMILIES: readonly [RegExp, string][] = [
  [/json/i, "json"],
  [/timestamp|datetime/i, "timestamp"],
  [/^date$/i, "date"],
  [/bool/i, "bool"],
  [/^(u?(tiny|small|big|huge)?int(eger)?\d*|(small|big)?serial\d*)$/i, "integer"],
  [/double|float|real|numeric|decimal/i, "number"],
  [/char|text|string|uuid|enum/i, "string"],
];

const ACCEPTS: Record<ColumnKind, readonly string[]> = {
  string: ["string"],
  int: ["integer"],
  bigint: ["integer"],
  double: ["number", "integer"],
  decimal: ["number", "integer"],
  bool: ["bool"],
  date: ["date"],
  timestamp: ["timestamp"],
  json: ["json", "string"],
};

function family(engineType: string): string {
  return FAMILIES.find(([pattern]) => pattern.test(engineType))?.[1] ?? engineType.toLowerCase();
}

/**
 * Differences between a table's actual columns and a declared schema, one message each:
 * missing columns, extra columns, and columns whose type the declared kind does not accept.
 */
export function schemaDifferences(
  actual: readonly { name: string; type: string }[],
  declared: Readonly<Record<string, ColumnSpec>>,
): string[] {
  const problems: string[] = [];
  const have = new Map(actual.map((c) => [c.name, c.type]));
  for (const [name, spec] of Object.entries(declared)) {
    const type = have.get(name);
    if (type === undefined) problems.push(`column "${name}" is missing`);
    else if (!ACCEPTS[spec.kind].includes(family(type))) problems.push(`column "${name}" is ${type}, the schema says ${spec.kind}`);
  }
  for (const { name } of actual) if (!(name in declared)) problems.push(`column "${name}" is not in the schema`);
  return problems;
}
