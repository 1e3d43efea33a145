import type Database from "better-sqlite3";
import { newId } from "../../runtime/ids.js";
import {
  apiKeyNameTaken,
  apiKeyNotFound,
  checkNewApiKey,
  newApiKey,
  type ApiKeyRecord,
  type ApiKeyStore,
  type ApiScope,
} from "../api-key-store.js";
import { toApiKeyRecord, type ApiKeyRow } from "../metadata-rows.js";
import { storeCall } from "./metadata-db.js";

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
      const checked = checkNewApiKey(name, scopes);
      const { key, hash, hint } = newApiKey();
      // immediate: takes the write lock before the name check, so two processes cannot both pass it
      return this.#db
        .transaction(() => {
          const taken = this.#db.prepare(`select id from api_keys where name = ? and revoked_at is null`).get(checked.name) as
            { id: string } | undefined;
          if (taken) throw apiKeyNameTaken(checked.name, taken.id);
          const row: ApiKeyRow = {
            id: newId("k", at),
            name: checked.name,
            hash,
            scopes: JSON.stringify(checked.scopes),
            hint,
            created_at: at,
            revoked_at: null,
          };
          this.#db
            .prepare(
              `insert into api_keys (id, name, hash, scopes, hint, created_at, revoked_at) values (@id, @name, @hash, @scopes, @hint, @created_at, @revoked_at)`,
            )
            .run(row);
          return { key, record: toApiKeyRecord(row) };
        })
        .immediate();
    });
  }

  list(): Promise<ApiKeyRecord[]> {
    return this.#run("list", () =>
      (this.#db.prepare(`select * from api_keys order by created_at, id`).all() as ApiKeyRow[]).map(toApiKeyRecord),
    );
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
          if (!row) throw apiKeyNotFound(idOrName);
          if (row.revoked_at !== null) return toApiKeyRecord(row);
          this.#db.prepare(`update api_keys set revoked_at = ? where id = ?`).run(at, row.id);
          return toApiKeyRecord({ ...row, revoked_at: at });
        })
        .immediate(),
    );
  }

  activeByHash(): Promise<Map<string, ApiKeyRecord>> {
    return this.#run("list active keys", () => {
      const rows = this.#db.prepare(`select * from api_keys where revoked_at is null`).all() as ApiKeyRow[];
      return new Map(rows.map((r) => [r.hash, toApiKeyRecord(r)]));
    });
  }
}
