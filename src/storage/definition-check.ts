import { StrataError } from "../errors/strata-error.js";
import type { StorageAdapter } from "./adapter.js";
import type { StorageDefinition } from "./storage-definition.js";

type Checks = Pick<StorageAdapter, "technology" | "formats" | "check">;

/** Every problem with a definition for this adapter: an unserved format first, then its options. */
export function definitionProblems(adapter: Checks, definition: StorageDefinition): string[] {
  const problems = adapter.check(definition);
  if (!adapter.formats.includes(definition.format)) {
    problems.unshift(`${adapter.technology} does not serve the format "${definition.format}" (it serves: ${adapter.formats.join(", ")})`);
  }
  return problems;
}

/** Throws STORAGE_FORMAT_UNSUPPORTED or STORAGE_INVALID naming the storage; every adapter's open() starts with it. */
export function assertUsable(adapter: Checks, definition: StorageDefinition): void {
  const problems = definitionProblems(adapter, definition);
  if (!problems.length) return;
  const unsupported = !adapter.formats.includes(definition.format);
  throw new StrataError(
    unsupported ? "STORAGE_FORMAT_UNSUPPORTED" : "STORAGE_INVALID",
    `storage "${definition.name}": ${problems.join("; ")}`,
    {
      details: { storage: definition.name, problems, ...(unsupported ? { format: definition.format } : {}) },
    },
  );
}
