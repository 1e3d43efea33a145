import type { ErrorInfo, RunRecord } from "../storage/run-store.js";

/** What a run reports as it goes; the CLI's progress views and the server's streams read these. */
export type RunEvent =
  | { readonly type: "run-started"; readonly run: RunRecord; readonly steps: readonly string[] }
  | { readonly type: "step-started"; readonly step: string; readonly attempt: number; readonly at: number }
  | { readonly type: "step-retry"; readonly step: string; readonly attempt: number; readonly delayMs: number; readonly error: ErrorInfo }
  | { readonly type: "step-succeeded"; readonly step: string; readonly attempt: number; readonly durationMs: number }
  | { readonly type: "step-failed"; readonly step: string; readonly attempt: number; readonly error: ErrorInfo }
  | { readonly type: "step-skipped"; readonly step: string; readonly reason: string }
  | { readonly type: "step-reused"; readonly step: string; readonly from: string }
  | { readonly type: "hook-failed"; readonly hook: string; readonly error: ErrorInfo }
  | { readonly type: "run-finished"; readonly run: RunRecord };

export type RunEventListener = (event: RunEvent) => void;
