import type { Logger } from "pino";
import { describeError } from "../errors/strata-error.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import { settleAbandoned } from "../runtime/abandoned-runs.js";
import type { Workspace } from "../runtime/workspace.js";
import { runningRuns } from "../storage/running-runs.js";
import type { Executor } from "./executor.js";

/** Triggers of a control plane; runs of `strata run` or `strata backfill` are only failed. */
const RESUMED: ReadonlySet<string> = new Set(["api", "cron", "event"]);

/**
 * At start-up, the runs a control plane of this machine left running when it died: each is
 * recorded failed (RUN_ABANDONED, naming the process) and resumed once, as a new run that reuses
 * what the lost one finished. A recovery that is itself abandoned is only failed (as are runs of the CLI), so a run that
 * brings its process down cannot loop. Runs on the queue are the workers' and are left alone.
 */
export async function recoverAbandonedRuns(
  pipelines: ReadonlyMap<string, AnyPipeline>,
  workspace: Workspace,
  executor: Executor,
  now: number,
  log: Logger,
): Promise<string[]> {
  const resumed: string[] = [];
  for await (const running of runningRuns(workspace.store)) {
    const run = await settleAbandoned(workspace, running, now);
    if (run.status === "running") continue;
    log.warn({ runId: run.id, pipeline: run.pipeline, error: run.error }, "run abandoned by a stopped process: marked failed");
    const pipeline = pipelines.get(run.pipeline);
    if (!pipeline || !RESUMED.has(run.trigger.kind)) continue;
    try {
      const launch = await executor.launch({
        pipeline,
        params: {},
        resume: run.id,
        trigger: { kind: "recovery", id: `recover:${run.id}` },
      });
      if (launch.status === "started") resumed.push(launch.runId);
      log.info({ runId: run.id, launch }, `abandoned run resumed (${launch.status})`);
    } catch (error) {
      log.error({ runId: run.id, ...describeError(error) }, "abandoned run could not be resumed");
    }
  }
  return resumed;
}
