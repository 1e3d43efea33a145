import { createHash } from "node:crypto";

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
