/**
 * Hooks a pipeline runs when a run ends: the seeds' "global fallback". They are plain data
 * here; src/runtime/hook-runner.ts delivers them.
 */
export type Hook = WebhookHook | CommandHook;

export interface WebhookHook {
  readonly kind: "webhook";
  /** The URL, or the name of an environment variable that holds it (keeps secrets out of code). */
  readonly url?: string;
  readonly urlEnv?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

export interface CommandHook {
  readonly kind: "command";
  /** A shell command. The run's summary comes as JSON on stdin and as STRATA_* variables. */
  readonly command: string;
  readonly timeoutMs: number;
}

/** POST the run's summary as JSON to a URL. */
function webhook(
  options: { url: string } | { urlEnv: string },
  extra: { headers?: Record<string, string>; timeoutMs?: number } = {},
): WebhookHook {
  return { kind: "webhook", ...options, ...(extra.headers ? { headers: extra.headers } : {}), timeoutMs: extra.timeoutMs ?? 10_000 };
}

/** Run a shell command with the run's summary on stdin (JSON) and in STRATA_* variables. */
function command(cmd: string, options: { timeoutMs?: number } = {}): CommandHook {
  return { kind: "command", command: cmd, timeoutMs: options.timeoutMs ?? 30_000 };
}

/**
 * Who to tell when a run ends: `onFailure: [notify.webhook({ urlEnv: "ALERT_URL" }), notify.command("./page.sh")]`.
 */
export const notify = { webhook, command };
