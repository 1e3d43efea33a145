import { pathToFileURL } from "node:url";

let registered: Promise<void> | undefined;

/**
 * Imports a project's TypeScript file. tsx's loader is registered once, on first use, so that
 * commands that load no project (`--help`) never pay for it.
 */
export async function importTs(file: string): Promise<Record<string, unknown>> {
  registered ??= import("tsx/esm/api").then(({ register }) => {
    register();
  });
  await registered;
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}
