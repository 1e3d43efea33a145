import type Database from "better-sqlite3";
import { modelNotFound, type ModelRegistry, type ModelVersion, type NewModelVersion } from "../model-registry.js";
import { MODEL_INSERT_COLUMNS, modelRowValues, toModelVersion, type ModelRow } from "../metadata-rows.js";
import { storeCall } from "./metadata-db.js";

const toVersionWithAliases = (row: ModelRow, aliases: Map<number, string[]>): ModelVersion =>
  toModelVersion(row, aliases.get(row.version) ?? []);

/** The model registry in the metadata SQLite file (tables `models`, `model_aliases`). */
export class SqliteModelRegistry implements ModelRegistry {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  #run<T>(what: string, fn: () => T): Promise<T> {
    return storeCall("model registry", what, fn);
  }

  #aliases(name: string): Map<number, string[]> {
    const rows = this.#db.prepare(`select alias, version from model_aliases where name = ? order by alias`).all(name) as {
      alias: string;
      version: number;
    }[];
    const byVersion = new Map<number, string[]>();
    for (const r of rows) byVersion.set(r.version, [...(byVersion.get(r.version) ?? []), r.alias]);
    return byVersion;
  }

  register(entry: NewModelVersion): Promise<ModelVersion> {
    // immediate: takes the write lock before reading the last version. A deferred transaction that
    // reads then writes cannot wait for another process' write lock: SQLite fails it at once (busy).
    return this.#run("register", () =>
      this.#db
        .transaction(() => {
          const { v } = this.#db.prepare(`select coalesce(max(version), 0) + 1 as v from models where name = ?`).get(entry.name) as {
            v: number;
          };
          this.#db
            .prepare(`insert into models (${MODEL_INSERT_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
            .run(...modelRowValues(entry, v));
          const row = this.#db.prepare(`select * from models where name = ? and version = ?`).get(entry.name, v) as ModelRow;
          return toVersionWithAliases(row, new Map());
        })
        .immediate(),
    );
  }

  versions(name: string): Promise<ModelVersion[]> {
    return this.#run("list versions", () => {
      const aliases = this.#aliases(name);
      return (this.#db.prepare(`select * from models where name = ? order by version`).all(name) as ModelRow[]).map((r) =>
        toVersionWithAliases(r, aliases),
      );
    });
  }

  get(name: string, versionOrAlias: number | string): Promise<ModelVersion> {
    return this.#run("get", () => {
      const version =
        typeof versionOrAlias === "number"
          ? versionOrAlias
          : (
              this.#db.prepare(`select version from model_aliases where name = ? and alias = ?`).get(name, versionOrAlias) as
                { version: number } | undefined
            )?.version;
      const row =
        version === undefined
          ? undefined
          : (this.#db.prepare(`select * from models where name = ? and version = ?`).get(name, version) as ModelRow | undefined);
      if (!row) {
        const known = (
          this.#db.prepare(`select version from models where name = ? order by version`).all(name) as { version: number }[]
        ).map((r) => r.version);
        throw modelNotFound(name, versionOrAlias, known);
      }
      return toVersionWithAliases(row, this.#aliases(name));
    });
  }

  async setAlias(name: string, alias: string, version: number, at: number): Promise<void> {
    await this.get(name, version);
    return this.#run("set alias", () => {
      this.#db
        .prepare(
          `insert into model_aliases (name, alias, version, changed_at) values (?, ?, ?, ?) on conflict (name, alias) do update set version = excluded.version, changed_at = excluded.changed_at`,
        )
        .run(name, alias, version, at);
    });
  }

  names(): Promise<string[]> {
    return this.#run("list names", () =>
      (this.#db.prepare(`select distinct name from models order by name`).all() as { name: string }[]).map((r) => r.name),
    );
  }
}
