import type { Health } from "../storage/adapter.js";
import type { StorageDefinition } from "../storage/storage-definition.js";
import { openProject } from "./load-project.js";

/**
 * Adds a named storage to a project: one call, no code change, no restart (running processes see
 * it at their next lookup). Returns its health; a storage whose server is down is still added.
 *
 * ```ts
 * await addStorage({ name: "serving", technology: "redis", format: "kv", options: { urlEnv: "REDIS_URL" } });
 * ```
 */
export async function addStorage(definition: StorageDefinition, options: { project?: string } = {}): Promise<Health> {
  const workspace = (await openProject(options.project)).openWorkspace();
  try {
    await workspace.storages.add(definition, Date.now());
    // Only the new storage is opened: a slow or down server elsewhere must not hold up the answer.
    return await workspace.storages
      .open(definition.name)
      .then((s) => s.health())
      .catch((error: unknown): Health => ({ ok: false, detail: (error as Error).message }));
  } finally {
    await workspace.close();
  }
}
