import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/errors/codes.js";

// docs/errors.md and src/errors/codes.ts must list the same codes, with the same status and
// retryable flag: people read the doc, code reads the table.
const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "errors.md"), "utf8");
const sections = new Map(
  [...doc.matchAll(/^## ([A-Z_]+)\n(status (\d+) · retryable (yes|no))\n\n([\s\S]*?)(?=^## |(?![\s\S]))/gm)].map((m) => [
    m[1]!,
    { status: Number(m[3]), retryable: m[4] === "yes", body: m[5]! },
  ]),
);

describe("docs/errors.md", () => {
  it("documents exactly the codes in ERROR_CODES", () => {
    expect([...sections.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it.each(Object.entries(ERROR_CODES))("%s: same status and retryable flag, and says how to fix it", (code, spec) => {
    const section = sections.get(code);
    expect(section, `no section for ${code}`).toBeDefined();
    expect(section!.status).toBe(spec.status);
    expect(section!.retryable).toBe(spec.retryable);
    expect(section!.body).toMatch(/Fix: \S/);
  });
});
