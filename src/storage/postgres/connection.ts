import { StrataError } from "../../errors/strata-error.js";

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "EAI_AGAIN",
]);

/** Whether an error means the server is out of reach (down, refusing, rejecting us) rather than the SQL is wrong. */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (CONNECTION_CODES.has(code)) return true;
    // 08: connection exception; 28: authorization; 57P01-3: shutdown, crash, starting up; 3D000: no such database; 53300: too many connections.
    if (/^(08...|28...|57P0[123]|3D000|53300)$/.test(code)) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|connection error|Client was closed/i.test(
    (error as Error).message ?? "",
  );
}

/**
 * host:port/database of a postgres:// URL, without user or password: what messages name. `what`
 * names the URL's owner in the error when it cannot be parsed (the URL itself is a secret).
 */
export function serverOf(url: string, what: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StrataError("STORAGE_INVALID", `${what}: the URL is not valid`);
  }
  return `${decodeURIComponent(parsed.hostname) || "localhost"}:${parsed.port || "5432"}${parsed.pathname.length > 1 ? parsed.pathname : ""}`;
}

/** A name for SQL: schema and table names are quoted, so any name given is taken as it is. */
export const quoteIdent = (ident: string): string => `"${ident.replace(/"/g, '""')}"`;

/** Lower-case letters, digits and _: a schema name that needs no quoting in a search_path. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
