import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

// `strata/client` runs inside live services: at run time it may load only its own files and the
// error-code table, never zod, the server or a storage driver (type-only imports are erased).
const CLIENT = resolve(import.meta.dirname, "..", "..", "src", "client");
const ALLOWED = new Set(["../errors/codes.js"]);

/** Modules a file loads at run time: its imports and re-exports that are not `import type` / `export type`. */
function runtimeImports(source: string): string[] {
  const statements = source.matchAll(/^(import|export)\s+(type\s+)?([^;]*?)\s+from\s+"([^"]+)"/gms);
  return [...statements].filter((m) => m[2] === undefined).map((m) => m[4]!);
}

describe("strata/client", () => {
  const files = readdirSync(CLIENT).filter((f) => f.endsWith(".ts"));

  it.each(files)("%s loads only the client and the error codes at run time", (file) => {
    const imports = runtimeImports(readFileSync(join(CLIENT, file), "utf8"));
    const outside = imports.filter((spec) => !spec.startsWith("./") && !ALLOWED.has(spec));
    expect(outside).toEqual([]);
  });

  it("the error-code table itself imports nothing", () => {
    const source = readFileSync(join(CLIENT, "..", "errors", "codes.ts"), "utf8");
    expect(runtimeImports(source)).toEqual([]);
  });
});
