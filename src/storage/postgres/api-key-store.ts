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
import type { PostgresMetadataDb } from "./metadata-db.js";

const LABEL = "API key store";

/** API keys in the Postgres metadata schema (table `api_keys`): only SHA-256 hashes of the keys are stored. */
export class PostgresApiKeyStore implements ApiKeyStore {
  readonly #db: PostgresMetadataDb;

  constructor(db: PostgresMetadataDb) {
    this.#db = db;
  }

  #query<R extends object>(what: string, sql: string, values: readonly unknown[] = []): Promise<R[]> {
    return this.#db.query<R & Record<string, unknown>>(LABEL, what, sql, values);
  }

  async create(name: string, scopes: readonly ApiScope[], at: number): Promise<{ key: string; record: ApiKeyRecord }> {
    const checked = checkNewApiKey(name, scopes);
    const { key, hash, hint } = newApiKey();
    const row: ApiKeyRow = {
      id: newId("k", at),
      name: checked.name,
      hash,
      scopes: JSON.stringify(checked.scopes),
      hint,
      created_at: at,
      revoked_at: null,
    };
    // The unique index on names not revoked decides between two processes creating the same name.
    // The holder named in the error may be revoked in between: then the name is free, so try again.
    for (;;) {
      const inserted = await this.#query(
        "create",
        `insert into api_keys (id, name, hash, scopes, hint, created_at, revoked_at) values ($1, $2, $3, $4, $5, $6, null)
         on conflict (name) where revoked_at is null do nothing returning id`,
        [row.id, row.name, row.hash, row.scopes, row.hint, row.created_at],
      );
      if (inserted.length) return { key, record: toApiKeyRecord(row) };
      const [taken] = await this.#query<{ id: string }>("create", `select id from api_keys where name = $1 and revoked_at is null`, [
        row.name,
      ]);
      if (taken) throw apiKeyNameTaken(row.name, taken.id);
    }
  }

  async list(): Promise<ApiKeyRecord[]> {
    return (await this.#query<ApiKeyRow>("list", `select * from api_keys order by created_at, id`)).map(toApiKeyRecord);
  }

  /**
   * By id first, then by name: the key of that name not revoked, else the last one revoked.
   * Revoking a revoked key changes nothing and returns it as it is.
   */
  revoke(idOrName: string, at: number): Promise<ApiKeyRecord> {
    return this.#db.transaction(LABEL, "revoke", async (query) => {
      // for update: a concurrent revoke of the same key waits, then sees it revoked and changes nothing.
      type Row = ApiKeyRow & Record<string, unknown>;
      const byId = await query<Row>(`select * from api_keys where id = $1 for update`, [idOrName]);
      const [row] = byId.length
        ? byId
        : await query<Row>(
            `select * from api_keys where name = $1 order by revoked_at is null desc, revoked_at desc, created_at desc limit 1 for update`,
            [idOrName.trim()],
          );
      if (!row) throw apiKeyNotFound(idOrName);
      if (row.revoked_at !== null) return toApiKeyRecord(row);
      await query(`update api_keys set revoked_at = $2 where id = $1`, [row.id, at]);
      return toApiKeyRecord({ ...row, revoked_at: at });
    });
  }

  async activeByHash(): Promise<Map<string, ApiKeyRecord>> {
    const rows = await this.#query<ApiKeyRow>("list active keys", `select * from api_keys where revoked_at is null`);
    return new Map(rows.map((r) => [r.hash, toApiKeyRecord(r)]));
  }
}
