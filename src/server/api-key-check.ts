import { StrataError } from "../errors/strata-error.js";
import { hashApiKey, type ApiKeyRecord, type ApiKeyStore, type ApiScope } from "../storage/api-key-store.js";

/** How often the active keys are read again (a revoked key stops working within this). */
const REFRESH_MS = 2000;

/**
 * Checks the API key of each request against the stored hashes, kept in memory: the hot path
 * hashes the key (SHA-256, about a microsecond) and looks it up in a Map.
 */
export class ApiKeyCheck {
  readonly #store: ApiKeyStore;
  readonly #now: () => number;
  #keys = new Map<string, ApiKeyRecord>();
  /** Hashes of keys seen lately: a service sees the same few keys over and over. */
  readonly #hashes = new Map<string, string>();
  #readAt = -Infinity;
  #reading: Promise<void> | undefined;

  constructor(store: ApiKeyStore, now: () => number) {
    this.#store = store;
    this.#now = now;
  }

  #refresh(): Promise<void> {
    this.#reading ??= this.#store
      .activeByHash()
      .then((keys) => {
        this.#keys = keys;
        this.#readAt = this.#now();
      })
      .finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  /**
   * The key's record if it is valid and has `scope`; throws AUTH_REQUIRED, AUTH_INVALID or
   * AUTH_FORBIDDEN. Answers without awaiting when the kept keys are fresh and know this one (the
   * hot path); otherwise reads them again first.
   */
  check(key: string | undefined, scope: ApiScope): ApiKeyRecord | Promise<ApiKeyRecord> {
    if (!key)
      throw new StrataError(
        "AUTH_REQUIRED",
        "this route needs an API key: send Authorization: Bearer <key> (create one: strata keys create <name>)",
      );
    const hash = this.#hashOf(key);
    const kept = this.#now() - this.#readAt <= REFRESH_MS ? this.#keys.get(hash) : undefined;
    if (kept) return allows(kept, scope);
    // Stale, or a key not kept that may be new: read again (one indexed read; concurrent misses share it).
    return this.#refresh().then(() => {
      const record = this.#keys.get(hash);
      if (!record) throw new StrataError("AUTH_INVALID", "the API key is not valid (unknown or revoked; see strata keys list)");
      return allows(record, scope);
    });
  }

  #hashOf(key: string): string {
    let hash = this.#hashes.get(key);
    if (hash === undefined) {
      hash = hashApiKey(key);
      if (this.#hashes.size >= 1000) this.#hashes.clear();
      this.#hashes.set(key, hash);
    }
    return hash;
  }
}

function allows(record: ApiKeyRecord, scope: ApiScope): ApiKeyRecord {
  if (!record.scopes.includes(scope))
    throw new StrataError("AUTH_FORBIDDEN", `the API key "${record.name}" lacks the scope "${scope}" this route needs`, {
      details: { key: record.name, scopes: record.scopes, needs: scope },
    });
  return record;
}

/** The key of a request: `Authorization: Bearer <key>`, or `x-api-key: <key>`. */
export function keyOf(headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === "string" && auth.startsWith("Bearer ")) return auth.slice(7).trim();
  const key = headers["x-api-key"];
  return typeof key === "string" ? key : undefined;
}
