/**
 * Hooks a pipeline runs when a run ends: the seeds' "global fallback". They are plain data
 * here; src/runtime/hook-runner.ts delivers them.
 */
export type Hook = WebhookHook | CommandHook | EmailHook;

/** How often a hook is tried before it counts as failed, and how long it waits in between. */
export interface HookRetry {
  /** Tries in all, the first included (1 = no retry). */
  readonly attempts: number;
  /** Wait before the second try. */
  readonly delayMs: number;
  /** Growth of the wait per try. */
  readonly factor: number;
}

/** Per-hook options every kind takes. */
export interface HookOptions {
  timeoutMs?: number;
  /** Default `{ attempts: 3, delayMs: 500, factor: 2 }`: an alert survives a blip, and the run's end is not held up long. */
  retry?: Partial<HookRetry>;
}

export interface WebhookHook {
  readonly kind: "webhook";
  /** The URL, or the name of an environment variable that holds it (keeps secrets out of code). */
  readonly url?: string;
  readonly urlEnv?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly retry: HookRetry;
}

export interface CommandHook {
  readonly kind: "command";
  /** A shell command. The run's summary comes as JSON on stdin and as STRATA_* variables. */
  readonly command: string;
  readonly timeoutMs: number;
  readonly retry: HookRetry;
}

export interface EmailHook {
  readonly kind: "email";
  readonly to: readonly string[];
  /** Default: the SMTP user when it is an address, else `strata@<this host>`. */
  readonly from?: string;
  /** Names the variable holding `smtp://user:pass@host:port` (or `smtps://`): credentials never sit in code. */
  readonly smtpUrlEnv: string;
  /** Replaces the default subject; `{pipeline}`, `{status}`, `{runId}`, `{failedStep}` and `{errorCode}` are filled in. */
  readonly subject?: string;
  readonly timeoutMs: number;
  readonly retry: HookRetry;
}

// A non-finite value would make the retry loop unbounded or its waits NaN: fall back to the default.
const finite = (value: number | undefined, fallback: number): number => (value !== undefined && Number.isFinite(value) ? value : fallback);

function hookRetry(retry: Partial<HookRetry> = {}): HookRetry {
  return {
    attempts: Math.max(1, Math.floor(finite(retry.attempts, 3))),
    delayMs: Math.max(0, finite(retry.delayMs, 500)),
    factor: Math.max(1, finite(retry.factor, 2)),
  };
}

/** POST the run's summary as JSON to a URL. */
function webhook(
  options: { url: string } | { urlEnv: string },
  extra: HookOptions & { headers?: Record<string, string> } = {},
): WebhookHook {
  return {
    kind: "webhook",
    ...options,
    ...(extra.headers ? { headers: extra.headers } : {}),
    timeoutMs: extra.timeoutMs ?? 10_000,
    retry: hookRetry(extra.retry),
  };
}

/** Run a shell command with the run's summary on stdin (JSON) and in STRATA_* variables. */
function command(cmd: string, options: HookOptions = {}): CommandHook {
  return { kind: "command", command: cmd, timeoutMs: options.timeoutMs ?? 30_000, retry: hookRetry(options.retry) };
}

/** Mail the run's summary over SMTP; the server's URL comes from the environment (`STRATA_SMTP_URL` by default). */
function email(options: HookOptions & { to: string | readonly string[]; from?: string; smtpUrlEnv?: string; subject?: string }): EmailHook {
  return {
    kind: "email",
    to: typeof options.to === "string" ? [options.to] : [...options.to],
    ...(options.from ? { from: options.from } : {}),
    smtpUrlEnv: options.smtpUrlEnv ?? "STRATA_SMTP_URL",
    ...(options.subject ? { subject: options.subject } : {}),
    timeoutMs: options.timeoutMs ?? 30_000,
    retry: hookRetry(options.retry),
  };
}

/**
 * Who to tell when a run ends: `onFailure: [notify.email({ to: "oncall@acme.io" }), notify.webhook({ urlEnv: "ALERT_URL" })]`.
 */
export const notify = { webhook, command, email };
