import type Database from "better-sqlite3";
import { openSqliteDb } from "./metadata-db.js";
import type { Trigger } from "../run-store.js";
import type { WaitingTrigger, WaitingTriggerStore } from "../waiting-trigger-store.js";

interface Row {
  seq: number;
  pipeline: string;
  params: string;
  trigger_kind: string;
  trigger_id: string;
  resume: string | null;
}

/** Waiting triggers in the control plane's own SQLite file (WAL), beside the metadata. */
export class SqliteWaitingTriggerStore implements WaitingTriggerStore {
  readonly #db: Database.Database;

  constructor(path: string) {
    this.#db = openSqliteDb(path, "the waiting trigger store", [
      `create table if not exists waiting_triggers (
        seq integer primary key autoincrement,
        pipeline text not null,
        params text not null,
        trigger_kind text not null,
        trigger_id text not null,
        resume text
      )`,
    ]);
  }

  add(waiting: Omit<WaitingTrigger, "seq">): Promise<number> {
    const { lastInsertRowid } = this.#db
      .prepare(`insert into waiting_triggers (pipeline, params, trigger_kind, trigger_id, resume) values (?, ?, ?, ?, ?)`)
      .run(waiting.pipeline, JSON.stringify(waiting.params), waiting.trigger.kind, waiting.trigger.id, waiting.resume);
    return Promise.resolve(Number(lastInsertRowid));
  }

  remove(seq: number): Promise<void> {
    this.#db.prepare(`delete from waiting_triggers where seq = ?`).run(seq);
    return Promise.resolve();
  }

  list(): Promise<WaitingTrigger[]> {
    const rows = this.#db.prepare<[], Row>(`select * from waiting_triggers order by seq`).all();
    return Promise.resolve(
      rows.map((r) => ({
        seq: r.seq,
        pipeline: r.pipeline,
        params: JSON.parse(r.params) as Record<string, unknown>,
        trigger: { kind: r.trigger_kind, id: r.trigger_id } as Trigger,
        resume: r.resume,
      })),
    );
  }

  close(): Promise<void> {
    this.#db.close();
    return Promise.resolve();
  }
}
