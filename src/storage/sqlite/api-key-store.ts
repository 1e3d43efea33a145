import { randomBytes } from "node:crypto";
import type Database from "better-sqlite3";
import { StrataError } from "../../errors/strata-error.js";
import { newId } from "../../runtime/ids.js";
import { API_SCOPES, hashApiKey, type ApiKeyRecord, type ApiKeyStore, type ApiScope } from "../api-key-store.js";
import { storeCall } from "./metadata-db.js";

interface ApiKeyRow {
  id: string;
  name: string;
  hash: string;
  scopes: string;
  hint: string;
  created_at: number;
  revoked_at: number | null;
}

const KEY_PREFIX = "strata_";
/** Characters of the key kept in clear to recognise it: the prefix and 5 random characters (30 of its 256 bits). */
const HINT_LENGTH = 12;

/** A new plain key: `strata_` + 32 random bytes in base64url (43 characters). */
function newApiKey(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
}

function invalid(message: string, details: Record<string, unknown>): StrataError {
  return new StrataError("API_KEY_INVALID", message, { details: { ...details, validScopes: [...API_SCOPES] } });
}

/** The scopes asked for, checked, without repeats, in the order of API_SCOPES. */
function checkScopes(scopes: readonly string[]): ApiScope[] {
  const valid = `valid scopes: ${API_SCOPES.join(", ")}`;
  if (!scopes.length) throw invalid(`an API key needs at least one scope (${valid})`, { scopes });
  const unknown = scopes.filter((s) => !(API_SCOPES as readonly string[]).includes(s));
  if (unknown.length)
    throw invalid(`unknown scope${unknown.length > 1 ? "s" : ""} ${unknown.map((s) => JSON.stringify(s)).join(", ")} (${valid})`, {
      scopes,
    });
  return API_SCOPES.filter((s) => scopes.includes(s));
}

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as ApiScope[],
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    hint: row.hint,
  };
}

/** API keys in the metadata SQLite file (table `api_keys`): only SHA-256 hashes of the keys are stored. */
export class SqliteApiKeyStore implements ApiKeyStore {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  #run<T>(what: string, fn: () => T): Promise<T> {
    return storeCall("API key store", what, fn);
  }

  create(name: string, scopes: readonly ApiScope[], at: number): Promise<{ key: string; record: ApiKeyRecord }> {
    return this.#run("create", () => {
      const trimmed = name.trim();
      if (!trimmed) throw invalid(`an API key needs a name (valid scopes: ${API_SCOPES.join(", ")})`, { name });
      const checked = checkScopes(scopes);
      const key = newApiKey();
      // immediate: takes the write lock before the name check, so two processes cannot both pass it
      return this.#db
        .transaction(() => {
          const taken = this.#db.prepare(`select id from api_keys where name = ? and revoked_at is null`).get(trimmed) as
            { id: string } | undefined;
          if (taken)
            throw invalid(`an API key named "${trimmed}" already exists (${taken.id}): revoke it first or choose another name`, {
              name: trimmed,
              id: taken.id,
            });
          const row: ApiKeyRow = {
            id: newId("k", at),
            name: trimmed,
            hash: hashApiKey(key),
            scopes: JSON.stringify(checked),
            hint: key.slice(0, HINT_LENGTH),
            created_at: at,
            revoked_at: null,
          };
          this.#db
            .prepare(
              `insert into api_keys (id, name, hash, scopes, hint, created_at, revoked_at) values (@id, @name, @hash, @scopes, @hint, @created_at, @revoked_at)`,
            )
            .run(row);
          return { key, record: toRecord(row) };
        })
        .immediate();
    });
  }

  list(): Promise<ApiKeyRecord[]> {
    return this.#run("list", () => (this.#db.prepare(`select * from api_keys order by created_at, id`).all() as ApiKeyRow[]).map(toRecord));
  }

  /**
   * By id first, then by name: the key of that name not revoked, else the last one revoked.
   * Revoking a revoked key changes nothing and returns it as it is.
   */
  revoke(idOrName: string, at: number): Promise<ApiKeyRecord> {
    return this.#run("revoke", () =>
      this.#db
        .transaction(() => {
          const row =
            (this.#db.prepare(`select * from api_keys where id = ?`).get(idOrName) as ApiKeyRow | undefined) ??
            (this.#db
              .prepare(`select * from api_keys where name = ? order by revoked_at is null desc, revoked_at desc, created_at desc limit 1`)
              .get(idOrName.trim()) as ApiKeyRow | undefined);
          if (!row)
            throw new StrataError("API_KEY_NOT_FOUND", `no API key has the id or name "${idOrName}" (see: strata keys list)`, {
              details: { idOrName },
            });
          if (row.revoked_at !== null) return toRecord(row);
          this.#db.prepare(`update api_keys set revoked_at = ? where id = ?`).run(at, row.id);
          return toRecord({ ...row, revoked_at: at });
        })
        .immediate(),
    );
  }

  activeByHash(): Promise<Map<string, ApiKeyRecord>> {
    return this.#run("list active keys", () => {
      const rows = this.#db.prepare(`select * from api_keys where revoked_at is null`).all() as ApiKeyRow[];
      return new Map(rows.map((r) => [r.hash, toRecord(r)]));
    });
  }
}
