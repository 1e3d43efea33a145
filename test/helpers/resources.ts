import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";

/** A fresh temp dir for each test, removed after it. Call at the top of a test file. */
export function tempDirEachTest(prefix: string): () => string {
  let dir: string | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => dir!;
}

/**
 * Tracks what a test opens and closes it after the test. Register it after `tempDirEachTest`:
 * after-hooks run in reverse, so resources close before their folder is removed.
 */
export function closeEachTest<T extends { close(): unknown }>(): { track: (resource: T) => T; closeAll: () => Promise<void> } {
  const open: T[] = [];
  const closeAll = async (): Promise<void> => {
    for (const resource of open.splice(0)) await resource.close();
  };
  afterEach(closeAll);
  return { track: (resource) => (open.push(resource), resource), closeAll };
}
