import { createHash, randomBytes } from "node:crypto";
import { StrataError } from "../errors/strata-error.js";

/**
 * API keys of the models service and the control plane. Each key has a name (unique among keys
 * not revoked) and scopes: `invoke` to list and call endpoints, `manage` for the models service's
 * operator routes, `run` for the control plane (start, cancel and retry runs, read them and their
 * logs, post stream events). Only a hash of each key is kept; the plain key is shown once, when it
 * is created. Kept in the metadata store.
 */
export type ApiScope = "invoke" | "manage" | "run";

export const API_SCOPES: readonly ApiScope[] = ["invoke", "manage", "run"];

export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly ApiScope[];
  readonly createdAt: number;
  readonly revokedAt: number | null;
  /** first characters of the key, to recognise it in lists; never enough to use it */
  readonly hint: string;
}

export interface ApiKeyStore {
  /** Creates a key; the plain key is returned once and only its SHA-256 hash is stored. */
  create(name: string, scopes: readonly ApiScope[], at: number): Promise<{ key: string; record: ApiKeyRecord }>;
  list(): Promise<ApiKeyRecord[]>;
  /** Revokes by id or name; API_KEY_NOT_FOUND when neither matches. Returns the record. */
  revoke(idOrName: string, at: number): Promise<ApiKeyRecord>;
  /** Every key that is not revoked, by the hex SHA-256 of the key: what the server caches and checks each request against. */
  activeByHash(): Promise<Map<string, ApiKeyRecord>>;
}

/**
 * Hex SHA-256 of a plain key (node:crypto).
 *
 * A plain, unsalted SHA-256 is the right hash here, as for GitHub tokens: a key is 32 random bytes,
 * so there is nothing to guess or precompute, and a slow password hash (bcrypt, scrypt) would only
 * slow down every request. Unsalted, the hash is also the lookup key of `activeByHash`.
 */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

const KEY_PREFIX = "strata_";
/** Characters of the key kept in clear to recognise it: the prefix and 5 random characters (30 of its 256 bits). */
const HINT_LENGTH = 12;

/** A new plain key (`strata_` + 32 random bytes in base64url, 43 characters) with its hash and hint, which is all a store keeps. */
export function newApiKey(): { key: string; hash: string; hint: string } {
  const key = `${KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { key, hash: hashApiKey(key), hint: key.slice(0, HINT_LENGTH) };
}

export function apiKeyInvalid(message: string, details: Record<string, unknown>): StrataError {
  return new StrataError("API_KEY_INVALID", message, { details: { ...details, validScopes: [...API_SCOPES] } });
}

/** A new key's name, trimmed, and its scopes checked, without repeats, in the order of API_SCOPES: what `create` checks before storing. */
export function checkNewApiKey(name: string, scopes: readonly string[]): { name: string; scopes: ApiScope[] } {
  const valid = `valid scopes: ${API_SCOPES.join(", ")}`;
  const trimmed = name.trim();
  if (!trimmed) throw apiKeyInvalid(`an API key needs a name (${valid})`, { name });
  if (!scopes.length) throw apiKeyInvalid(`an API key needs at least one scope (${valid})`, { scopes });
  const unknown = scopes.filter((s) => !(API_SCOPES as readonly string[]).includes(s));
  if (unknown.length)
    throw apiKeyInvalid(`unknown scope${unknown.length > 1 ? "s" : ""} ${unknown.map((s) => JSON.stringify(s)).join(", ")} (${valid})`, {
      scopes,
    });
  return { name: trimmed, scopes: API_SCOPES.filter((s) => scopes.includes(s)) };
}

/** What `create` throws when a key not revoked already has the name. */
export function apiKeyNameTaken(name: string, id: string): StrataError {
  return apiKeyInvalid(`an API key named "${name}" already exists (${id}): revoke it first or choose another name`, { name, id });
}

/** What `revoke` throws when neither an id nor a name matches. */
export function apiKeyNotFound(idOrName: string): StrataError {
  return new StrataError("API_KEY_NOT_FOUND", `no API key has the id or name "${idOrName}" (see: strata keys list)`, {
    details: { idOrName },
  });
}
