import { loadProject, type LoadedProject } from "../project/load-project.js";
import type { Workspace } from "../runtime/workspace.js";

/** Loads the project (`--project`, or the nearest folder with strata.config.ts), opens its workspace for `fn`, and closes it after. */
export async function withProject<T>(
  options: { readonly project?: string | undefined },
  fn: (project: LoadedProject, workspace: Workspace) => Promise<T>,
): Promise<T> {
  const project = await loadProject(options.project);
  const workspace = project.openWorkspace();
  try {
    return await fn(project, workspace);
  } finally {
    await workspace.close();
  }
}
