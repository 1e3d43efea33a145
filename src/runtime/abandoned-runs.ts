import { isAlive, thisHost } from "../storage/process-liveness.js";
import type { RunRecord } from "../storage/run-store.js";
import { discardVersion } from "./dataset-io.js";
import type { Workspace } from "./workspace.js";

/** `host:pid` of this process, recorded on the runs it starts. */
export const thisProcess = `${thisHost()}:${process.pid}`;

/**
 * A run left "running" by a process of this machine that has ended (killed, crashed, a second
 * Ctrl-C) is recorded as failed, so it can be resumed and is not shown as running forever, and
 * the dataset versions it was writing are discarded (the live versions were never touched).
 * Runs of other machines are left alone: their liveness is the server's business.
 */
export async function settleAbandoned(
  workspace: Pick<Workspace, "store" | "catalog" | "storages">,
  run: RunRecord,
  now: number,
): Promise<RunRecord> {
  if (run.status !== "running" || !run.owner) return run;
  const colon = run.owner.lastIndexOf(":");
  const host = run.owner.slice(0, colon);
  const pid = Number(run.owner.slice(colon + 1));
  if (host !== thisHost() || !Number.isInteger(pid) || isAlive(pid)) return run;
  const error = { code: "RUN_ABANDONED", message: `the process that ran it (pid ${pid} on ${host}) ended before the run finished` };
  // Settled at the same time by someone else: theirs is the record, and the cleanup. Its failure
  // hooks are due at once: a control plane's sweep delivers them (schedule/overdue-hooks.ts).
  if (!(await workspace.store.finishRun(run.id, "failed", now, error, { hooksDueAt: now }))) return workspace.store.getRun(run.id);
  for (const version of await workspace.catalog.versionsOfRun(run.id)) {
    if (version.status === "writing") await discardVersion(workspace, version, `abandoned: ${error.message}`, now);
  }
  return { ...run, status: "failed", endedAt: now, error };
}
