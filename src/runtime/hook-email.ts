import { hostname } from "node:os";
import { HookError } from "../errors/errors.js";
import type { EmailHook } from "../pipeline/hooks.js";
import { emailMessage } from "./email-message.js";
import type { HookPayload } from "./hook-payload.js";

/** Where the mail goes, read from the hook's variable. `where` (host:port) is what messages may show. */
interface SmtpServer {
  readonly host: string;
  readonly port: number;
  /** smtps:// is TLS from the first byte; smtp:// upgrades with STARTTLS when the server offers it. */
  readonly secure: boolean;
  readonly user: string;
  readonly pass: string;
  readonly where: string;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** Errors here are about configuration: trying again will not help, so they are not retryable. */
function configError(message: string, env: string): HookError {
  return new HookError("HOOK_FAILED", message, { retryable: false, details: { env } });
}

function smtpServer(hook: EmailHook, env: NodeJS.ProcessEnv): SmtpServer {
  const name = hook.smtpUrlEnv;
  const raw = env[name];
  if (!raw) throw configError(`email: environment variable ${name} is not set (smtp://user:pass@host:port)`, name);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The value is not echoed: it may hold a password.
    throw configError(`email: $${name} is not a URL (smtp://user:pass@host:port)`, name);
  }
  if (url.protocol !== "smtp:" && url.protocol !== "smtps:")
    throw configError(`email: $${name} must start with smtp:// or smtps:// (got ${url.protocol}//)`, name);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw configError(`email: $${name} names no host`, name);
  const secure = url.protocol === "smtps:";
  const port = url.port ? Number(url.port) : secure ? 465 : 587;
  return { host, port, secure, user: decode(url.username), pass: decode(url.password), where: `${url.hostname}:${port}` };
}

/** `email to a@x.io via $STRATA_SMTP_URL (smtp.x.io:587)`: never the user or password. */
export function describeEmail(hook: EmailHook, env: NodeJS.ProcessEnv = process.env): string {
  let where = "";
  try {
    where = ` (${smtpServer(hook, env).where})`;
  } catch {
    // unset or malformed: delivery reports why
  }
  return `email to ${hook.to.join(", ")} via $${hook.smtpUrlEnv}${where}`;
}

/** What a nodemailer error carries besides its message. */
interface SmtpFailure {
  readonly message?: string;
  readonly code?: string;
  readonly originalCode?: string;
  readonly responseCode?: number;
  readonly permanent?: boolean;
}

// Failures nodemailer raises before talking to the server, or a login it could not make: all fixed by
// changing the configuration, not by waiting.
const PERMANENT_CODES = new Set(["EENVELOPE", "EMESSAGE", "ECONFIG", "EAUTH"]);

function deliveryError(thrown: unknown, server: SmtpServer): HookError {
  const failure = (typeof thrown === "object" && thrown !== null ? thrown : { message: String(thrown) }) as SmtpFailure;
  let detail = failure.message ?? "unknown error";
  // A server's reply or a socket error could in principle echo credentials; take them out.
  for (const secret of [server.pass, encodeURIComponent(server.pass)]) if (secret) detail = detail.split(secret).join("***");
  const code = failure.originalCode ?? failure.code;
  if (code && !detail.includes(code)) detail += ` (${code})`;
  const retryable = failure.permanent === undefined ? !PERMANENT_CODES.has(failure.code ?? "") : !failure.permanent;
  // No `cause`: the warning logs the error whole, and nodemailer's carries more than was checked above.
  return new HookError("HOOK_FAILED", `email via ${server.where} failed: ${detail}`, {
    retryable,
    details: {
      host: server.where,
      ...(code ? { smtpCode: code } : {}),
      ...(failure.responseCode ? { responseCode: failure.responseCode } : {}),
    },
  });
}

/** Sends the alert over SMTP, one connection per alert (alerts are rare; a pool would outlive the run). */
export async function sendEmail(hook: EmailHook, payload: HookPayload, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const server = smtpServer(hook, env);
  if (!hook.to.length) throw configError("email: the hook names no recipient", hook.smtpUrlEnv);
  // Loaded on first mail: nodemailer costs ~70 ms to import, and most runs send none.
  const { createTransport } = await import("nodemailer");
  const transport = createTransport({
    host: server.host,
    port: server.port,
    secure: server.secure,
    ...(server.user ? { auth: { user: server.user, pass: server.pass } } : {}),
    connectionTimeout: hook.timeoutMs,
    greetingTimeout: hook.timeoutMs,
    socketTimeout: hook.timeoutMs,
  });
  const message = emailMessage(payload, hook.subject);
  let rejected: string[];
  try {
    const info = await transport.sendMail({
      from: hook.from ?? (server.user.includes("@") ? server.user : `strata@${hostname()}`),
      to: [...hook.to],
      ...message,
      signal: AbortSignal.timeout(hook.timeoutMs),
    });
    rejected = info.rejected;
  } catch (thrown) {
    throw deliveryError(thrown, server);
  } finally {
    transport.close();
  }
  // The others got it: sending again would page them twice, so this is not retried.
  if (rejected.length)
    throw new HookError("HOOK_FAILED", `email via ${server.where}: the server refused ${rejected.join(", ")}`, {
      retryable: false,
      details: { host: server.where, rejected },
    });
}
