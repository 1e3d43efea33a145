/**
 * The host:port of a redis:// or rediss:// URL, for messages (the URL may hold a password, so it is
 * never shown); undefined when it is not such a URL.
 */
export function redisHostPort(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") return undefined;
  return `${parsed.hostname || "127.0.0.1"}:${parsed.port || "6379"}`;
}
