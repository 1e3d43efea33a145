import type { StepDefinition } from "../pipeline/step.js";
import { adoptVersion, discardVersion } from "../runtime/dataset-io.js";
import { encodeOutput } from "../runtime/output-codec.js";
import type { RunLogger } from "../runtime/run-logger.js";
import type { RunScope } from "../runtime/step-executor.js";
import type { StepRecord } from "../storage/run-store.js";

/** How often a step lost by a dead worker may be taken again before it is failed (WORKER_LOST). */
export const MAX_LOST = 2;

/**
 * The step's earlier attempt was lost with its worker. Its half-written dataset versions are
 * discarded; a version it already made live is kept and the step recorded as succeeded with it,
 * so a dataset never gets the same step's output twice. True when the step is thereby done.
 */
export async function recoverLostAttempt(scope: RunScope, step: StepDefinition, mine: StepRecord, logger: RunLogger): Promise<boolean> {
  const lost = { code: "WORKER_LOST", message: `the worker running attempt ${mine.attempts} stopped before the step ended` };
  const now = scope.clock.now();
  logger.forAttempt(step.name, mine.attempts).warn({ code: lost.code }, lost.message);
  await scope.store.saveAttempt(
    {
      runId: scope.runId,
      step: step.name,
      attempt: mine.attempts,
      status: "failed",
      startedAt: mine.startedAt ?? now,
      endedAt: now,
      error: { ...lost, retryable: true },
    },
    { ...mine, status: "retrying", error: lost, endedAt: null },
  );
  if (mine.attempts > MAX_LOST) {
    await scope.store.saveStep({
      ...mine,
      status: "failed",
      endedAt: now,
      error: { ...lost, message: `${lost.message}, ${mine.attempts} times: given up` },
    });
    return true;
  }
  const versions = (await scope.catalog.versionsOfRun(scope.runId)).filter((v) => v.step === step.name);
  for (const version of versions.filter((v) => v.status === "writing"))
    await discardVersion(scope, version, `discarded: ${lost.message}`, now);
  const live = versions.find((v) => v.status === "ready" && v.live);
  if (!live || !step.dataset) return false;
  await adoptVersion(scope, step.dataset, live, "write");
  await scope.catalog.recordLineage([
    { runId: scope.runId, step: step.name, dataset: live.dataset, version: live.version, direction: "write", at: now },
  ]);
  await scope.store.saveStep({
    ...mine,
    status: "succeeded",
    endedAt: now,
    error: null,
    output: encodeOutput(scope.outputs.get(live.dataset)),
  });
  logger
    .forAttempt(step.name, mine.attempts)
    .info({ dataset: live.dataset, version: live.version }, "the lost attempt had made its version live: kept, not written again");
  return true;
}
