import { modelNotFound, type ModelRegistry, type ModelVersion, type NewModelVersion } from "../model-registry.js";
import { MODEL_INSERT_COLUMNS, modelRowValues, toModelVersion, type ModelRow } from "../metadata-rows.js";
import { nextVersion, type PostgresMetadataDb } from "./metadata-db.js";

/** A model's row with its aliases, alphabetically (a text[] the query adds). */
type ModelRowWithAliases = ModelRow & { aliases: string[] };
const toVersion = (row: ModelRowWithAliases): ModelVersion => toModelVersion(row, row.aliases);

/** A model's rows with their aliases, in one query. */
const MODEL_COLUMNS = `m.*, array(select a.alias from model_aliases a where a.name = m.name and a.version = m.version order by a.alias) as aliases`;

const LABEL = "model registry";

const isVersionNumber = (n: number): boolean => Number.isInteger(n) && Math.abs(n) <= 2_147_483_647;

/** The model registry in the Postgres metadata schema (tables `models`, `model_aliases`). */
export class PostgresModelRegistry implements ModelRegistry {
  readonly #db: PostgresMetadataDb;

  constructor(db: PostgresMetadataDb) {
    this.#db = db;
  }

  #query<R extends object>(what: string, sql: string, values: readonly unknown[] = []): Promise<R[]> {
    return this.#db.query<R & Record<string, unknown>>(LABEL, what, sql, values);
  }

  register(entry: NewModelVersion): Promise<ModelVersion> {
    return this.#db.transaction(LABEL, "register", async (query) => {
      const version = await nextVersion(query, "model", entry.name);
      const [row] = await query<ModelRowWithAliases & Record<string, unknown>>(
        `insert into models (${MODEL_INSERT_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *, array[]::text[] as aliases`,
        modelRowValues(entry, version),
      );
      return toVersion(row!);
    });
  }

  async versions(name: string): Promise<ModelVersion[]> {
    const rows = await this.#query<ModelRowWithAliases>(
      "list versions",
      `select ${MODEL_COLUMNS} from models m where m.name = $1 order by m.version`,
      [name],
    );
    return rows.map(toVersion);
  }

  async #find(name: string, versionOrAlias: number | string): Promise<ModelRowWithAliases | undefined> {
    if (typeof versionOrAlias === "string") {
      const sql = `select ${MODEL_COLUMNS} from models m join model_aliases x on x.name = m.name and x.version = m.version where m.name = $1 and x.alias = $2`;
      return (await this.#query<ModelRowWithAliases>("get", sql, [name, versionOrAlias]))[0];
    }
    // Not an integer the server takes: no version has that number.
    if (!isVersionNumber(versionOrAlias)) return undefined;
    return (
      await this.#query<ModelRowWithAliases>("get", `select ${MODEL_COLUMNS} from models m where m.name = $1 and m.version = $2`, [
        name,
        versionOrAlias,
      ])
    )[0];
  }

  async get(name: string, versionOrAlias: number | string): Promise<ModelVersion> {
    const row = await this.#find(name, versionOrAlias);
    if (row) return toVersion(row);
    const known = await this.#query<{ version: number }>("get", `select version from models where name = $1 order by version`, [name]);
    throw modelNotFound(
      name,
      versionOrAlias,
      known.map((r) => r.version),
    );
  }

  async setAlias(name: string, alias: string, version: number, at: number): Promise<void> {
    await this.get(name, version);
    await this.#query(
      "set alias",
      `insert into model_aliases (name, alias, version, changed_at) values ($1, $2, $3, $4)
       on conflict (name, alias) do update set version = excluded.version, changed_at = excluded.changed_at`,
      [name, alias, version, at],
    );
  }

  async names(): Promise<string[]> {
    return (await this.#query<{ name: string }>("list names", `select distinct name from models order by name`)).map((r) => r.name);
  }
}
