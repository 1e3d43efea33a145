import { Redis } from "ioredis";
import { StrataError, isStrataError } from "../../errors/strata-error.js";

/** How long a connection attempt may take before a call fails with STORAGE_UNAVAILABLE. */
const CONNECT_TIMEOUT_MS = 2000;
/** A server that accepts the connection but stops answering must not hang a caller either. */
const COMMAND_TIMEOUT_MS = 10_000;

/**
 * A Redis client that fails fast: the client is created with `lazyConnect` and without an offline
 * queue, and keeps reconnecting in the background (its `retryStrategy`). A call made while the
 * server is away is refused at once with STORAGE_UNAVAILABLE instead of waiting in a queue, and
 * the first call after the server is back works again.
 */
export class RedisConnection {
  #connecting: Promise<void> | undefined;
  #lastError: string | undefined;
  #closed = false;

  /**
   * A client for `url` that fails fast, connecting from now on in the background: a server that is
   * down does not fail this, its calls fail fast and it recovers by itself when the server is back.
   * @param storage the storage's name (`label`, its name in messages, when it is not a storage) and
   * `endpoint` its host:port, for messages (never the password)
   */
  static open(url: string, storage: string, endpoint: string, label = `storage "${storage}"`): RedisConnection {
    const client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
      // Commands issued in the same tick (many requests at once) go out in one write.
      enableAutoPipelining: true,
      // No queue while disconnected and one retry at most: callers get an answer now, not a hang.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Keep trying in the background (100 ms, doubling, at most 1 s apart) so that a later call works once the server is back.
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times - 1, 4), 1000),
      connectionName: `strata:${storage}`,
    });
    const connection = new RedisConnection(client, storage, endpoint, CONNECT_TIMEOUT_MS, label);
    // The first connection starts now, so the first call does not pay for it; its failure is reported by calls.
    connection.ready().catch(() => undefined);
    return connection;
  }

  /**
   * @param client created with `lazyConnect: true` and `enableOfflineQueue: false`
   * @param storage the storage's name and `endpoint` its host:port, for messages (never the password)
   * @param label what messages call it
   */
  constructor(
    readonly client: Redis,
    readonly storage: string,
    readonly endpoint: string,
    readonly connectTimeoutMs = CONNECT_TIMEOUT_MS,
    readonly label = `storage "${storage}"`,
  ) {
    // Without a listener ioredis prints every failed reconnection; the last one is kept for messages.
    client.on("error", (error: Error) => {
      this.#lastError = error.message;
    });
    client.on("ready", () => {
      this.#lastError = undefined;
    });
  }

  /** Resolves once the client is ready; rejects at once while the server is known to be away. */
  async ready(): Promise<Redis> {
    const client = this.client;
    if (client.status === "ready") return client;
    if (this.#closed) throw new Error("the storage is closed");
    switch (client.status) {
      case "wait":
      case "end":
        // connect() refuses a second concurrent call, so callers share one attempt.
        this.#connecting ??= client.connect().finally(() => (this.#connecting = undefined));
        await this.#connecting;
        return client;
      case "reconnecting":
        throw new Error(this.#lastError ?? "reconnecting");
      default:
        await this.#whenReady();
        return client;
    }
  }

  #whenReady(): Promise<void> {
    const client = this.client;
    return new Promise((resolve, reject) => {
      const settle = (error?: Error): void => {
        clearTimeout(timer);
        client.off("ready", onReady).off("error", onError).off("end", onEnd);
        if (error) reject(error);
        else resolve();
      };
      const onReady = (): void => settle();
      const onError = (error: Error): void => settle(error);
      const onEnd = (): void => settle(new Error("connection closed"));
      const timer = setTimeout(() => settle(new Error(`no connection after ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
      client.once("ready", onReady).once("error", onError).once("end", onEnd);
    });
  }

  /** Why a call failed, as the error Strata raises: the storage and host, never the password. */
  unavailable(what: string, cause: unknown): StrataError {
    if (isStrataError(cause)) return cause;
    let reason = cause instanceof Error ? cause.message : String(cause);
    // ioredis says "Stream isn't writeable..." or "Connection is closed." when the server is away; the socket error says why.
    if (this.client.status !== "ready" && this.#lastError !== undefined && !this.#closed)
      reason = `cannot reach the server (${this.#lastError})`;
    return new StrataError("STORAGE_UNAVAILABLE", `${this.label} (redis ${this.endpoint}) is unavailable: ${what} failed: ${reason}`, {
      cause,
      details: { storage: this.storage, host: this.endpoint },
    });
  }

  /**
   * Runs `fn` on a ready client; any failure becomes STORAGE_UNAVAILABLE (StrataErrors pass through).
   * `Scripts`: the commands the caller defined on the client (`defineCommand`).
   */
  async call<T, Scripts = object>(what: string, fn: (client: Redis & Scripts) => Promise<T>): Promise<T> {
    try {
      return await fn((await this.ready()) as Redis & Scripts);
    } catch (cause) {
      throw this.unavailable(what, cause);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.client.status === "ready") {
      try {
        await this.client.quit();
        return;
      } catch {
        // Falls through to a hard disconnect.
      }
    }
    this.client.disconnect();
  }
}
