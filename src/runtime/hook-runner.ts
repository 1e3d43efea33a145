import { spawn } from "node:child_process";
import { HookError } from "../errors/errors.js";
import type { Hook } from "../pipeline/hooks.js";
import { describeEmail, sendEmail } from "./hook-email.js";
import type { HookPayload } from "./hook-payload.js";

export type { HookPayload } from "./hook-payload.js";

/** Where a webhook goes, without path or query (they may hold tokens). */
function safeHost(url: string | undefined): string {
  try {
    return url ? new URL(url).host : "";
  } catch {
    return "(not a URL)";
  }
}

export function describeHook(hook: Hook): string {
  if (hook.kind === "command") return `command "${hook.command}"`;
  if (hook.kind === "email") return describeEmail(hook);
  const url = hook.url ?? (hook.urlEnv ? process.env[hook.urlEnv] : undefined);
  return `webhook ${hook.urlEnv ? `$${hook.urlEnv}` : "url"}${url ? ` (${safeHost(url)})` : ""}`;
}

async function postWebhook(hook: Extract<Hook, { kind: "webhook" }>, payload: HookPayload): Promise<void> {
  const url = hook.url ?? (hook.urlEnv ? process.env[hook.urlEnv] : undefined);
  if (!url)
    throw new HookError("HOOK_FAILED", `webhook: environment variable ${hook.urlEnv ?? "(none)"} is not set`, {
      retryable: false,
      details: { env: hook.urlEnv },
    });
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...hook.headers },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(hook.timeoutMs),
    });
  } catch (cause) {
    // fetch says only "fetch failed"; the reason (refused, timed out, bad port) is its cause.
    const reason = (cause as { cause?: { message?: string; code?: string } }).cause;
    const detail = reason?.code ?? reason?.message ?? (cause as Error).message;
    throw new HookError("HOOK_FAILED", `webhook POST to ${safeHost(url)} failed: ${detail}`, { cause, details: { host: safeHost(url) } });
  }
  if (!response.ok)
    throw new HookError("HOOK_FAILED", `webhook answered ${response.status} ${response.statusText}`, {
      // A 4xx says the request itself is wrong (bad token, bad path): sending it again will not help.
      retryable: response.status >= 500 || response.status === 408 || response.status === 429,
      details: { status: response.status },
    });
}

function runCommand(hook: Extract<Hook, { kind: "command" }>, payload: HookPayload): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(hook.command, {
      shell: true,
      stdio: ["pipe", "ignore", "pipe"],
      timeout: hook.timeoutMs,
      env: {
        ...process.env,
        STRATA_RUN_ID: payload.runId,
        STRATA_PIPELINE: payload.pipeline,
        STRATA_STATUS: payload.status,
        STRATA_TRIGGER_KIND: payload.triggerKind,
        STRATA_TRIGGER_ID: payload.triggerId,
        STRATA_FAILED_STEP: payload.failedStep ?? "",
        STRATA_ERROR_CODE: payload.errorCode ?? "",
        STRATA_ERROR_MESSAGE: payload.message ?? "",
        STRATA_LOGS: payload.logs,
        STRATA_LOGS_URL: payload.logsUrl ?? "",
      },
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    child.on("error", (e) => reject(new HookError("HOOK_FAILED", `command hook could not start: ${e.message}`, { cause: e })));
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new HookError(
            "HOOK_FAILED",
            `command hook "${hook.command}" exited with ${signal ?? code}${stderr ? `: ${stderr.trim()}` : ""}`,
            { details: { exitCode: code } },
          ),
        );
    });
    child.stdin.on("error", () => undefined); // a command that does not read stdin is fine
    child.stdin.end(JSON.stringify(payload));
  });
}

/** Delivers one hook, one try (hook-retry.ts retries); throws HookError when it cannot. */
export function deliverHook(hook: Hook, payload: HookPayload): Promise<void> {
  switch (hook.kind) {
    case "webhook":
      return postWebhook(hook, payload);
    case "command":
      return runCommand(hook, payload);
    case "email":
      return sendEmail(hook, payload);
  }
}
