import { z } from "zod";

export const TECHNOLOGIES = ["duckdb", "sqlite", "postgres", "redis", "files"] as const;
export type Technology = (typeof TECHNOLOGIES)[number];

export const FORMATS = ["table", "kv", "files"] as const;
export type Format = (typeof FORMATS)[number];

/**
 * A named storage: technology + format + name, and options for the technology. Secrets never
 * appear here: an option ending in `Env` names the environment variable that holds the value.
 */
export interface StorageDefinition {
  readonly name: string;
  readonly technology: Technology;
  readonly format: Format;
  readonly options: Readonly<Record<string, string | number | boolean>>;
}

export const storageDefinitionSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_-]*$/, "lower case letters, digits, _ and -, starting with a letter"),
  technology: z.enum(TECHNOLOGIES),
  format: z.enum(FORMATS),
  options: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});

/** Declares a storage in strata.config.ts: `storage("lake", { technology: "files", format: "files", options: { path: "data/raw" } })`. */
export function storage(
  name: string,
  definition: Omit<StorageDefinition, "name" | "options"> & { options?: StorageDefinition["options"] },
): StorageDefinition {
  return { name, technology: definition.technology, format: definition.format, options: definition.options ?? {} };
}
