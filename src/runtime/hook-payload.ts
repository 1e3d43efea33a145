import type { RunRecord } from "../storage/run-store.js";

/** What every hook receives: enough to page someone and point them at the logs. */
export interface HookPayload {
  readonly runId: string;
  readonly pipeline: string;
  readonly status: string;
  readonly triggerKind: string;
  readonly triggerId: string;
  readonly failedStep: string | null;
  readonly errorCode: string | null;
  readonly message: string | null;
  readonly startedAt: string;
  readonly endedAt: string;
  /** How to read this run's logs from a shell: always there. */
  readonly logs: string;
  /** The control plane's page of this run's logs; null unless STRATA_PUBLIC_URL says where it is served. */
  readonly logsUrl: string | null;
}

/** `${STRATA_PUBLIC_URL}/v1/runs/<id>/logs`, or null when the control plane's address is not known. */
export function logsUrl(runId: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const base = env.STRATA_PUBLIC_URL?.trim().replace(/\/+$/, "");
  return base ? `${base}/v1/runs/${encodeURIComponent(runId)}/logs` : null;
}

export function hookPayload(run: RunRecord, failedStep: string | null, env: NodeJS.ProcessEnv = process.env): HookPayload {
  return {
    runId: run.id,
    pipeline: run.pipeline,
    status: run.status,
    triggerKind: run.trigger.kind,
    triggerId: run.trigger.id,
    failedStep,
    errorCode: run.error?.code ?? null,
    message: run.error?.message ?? null,
    startedAt: new Date(run.startedAt).toISOString(),
    endedAt: new Date(run.endedAt ?? run.startedAt).toISOString(),
    logs: `strata runs logs ${run.id}`,
    logsUrl: logsUrl(run.id, env),
  };
}
