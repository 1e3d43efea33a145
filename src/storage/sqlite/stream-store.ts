import type Database from "better-sqlite3";
import type { StreamEvent, StreamStore } from "../stream-store.js";
import { openSqliteDb, storeCall } from "./metadata-db.js";

const SCHEMA = `
  create table if not exists stream_events (
    stream text not null,
    seq integer not null,
    id text not null,
    at integer not null,
    payload text not null,
    primary key (stream, seq),
    unique (stream, id)
  );
  create table if not exists stream_offsets (
    stream text not null,
    consumer text not null,
    seq integer not null,
    primary key (stream, consumer)
  );`;

interface EventRow {
  stream: string;
  seq: number;
  id: string;
  at: number;
  payload: string;
}

const toEvent = (row: EventRow): StreamEvent => ({ ...row, payload: JSON.parse(row.payload) as unknown });

/** Streams in their own SQLite file (WAL), beside the metadata: appends are one transaction each. */
export class SqliteStreamStore implements StreamStore {
  readonly #db: Database.Database;
  readonly #q;

  readonly location: string;

  constructor(path: string) {
    this.location = path;
    this.#db = openSqliteDb(path, "the stream store", [SCHEMA]);
    const db = this.#db;
    this.#q = {
      byId: db.prepare<[string, string], EventRow>(`select * from stream_events where stream = ? and id = ?`),
      last: db.prepare<[string], number>(`select coalesce(max(seq), 0) from stream_events where stream = ?`).pluck(),
      insert: db.prepare(`insert into stream_events (stream, seq, id, at, payload) values (?, ?, ?, ?, ?)`),
      read: db.prepare<[string, number, number], EventRow>(`select * from stream_events where stream = ? and seq > ? order by seq limit ?`),
      offset: db.prepare<[string, string], number>(`select seq from stream_offsets where stream = ? and consumer = ?`).pluck(),
      commit: db.prepare(
        `insert into stream_offsets (stream, consumer, seq) values (?, ?, ?)
         on conflict (stream, consumer) do update set seq = max(seq, excluded.seq)`,
      ),
    };
  }

  append(stream: string, id: string, payload: unknown, at: number): Promise<{ event: StreamEvent; duplicate: boolean }> {
    return storeCall("stream store", `append to "${stream}"`, () =>
      this.#db
        .transaction(() => {
          const existing = this.#q.byId.get(stream, id);
          if (existing) return { event: toEvent(existing), duplicate: true };
          const event: StreamEvent = { stream, seq: (this.#q.last.get(stream) ?? 0) + 1, id, at, payload };
          this.#q.insert.run(stream, event.seq, id, at, JSON.stringify(payload));
          return { event, duplicate: false };
        })
        .immediate(),
    );
  }

  read(stream: string, afterSeq: number, limit: number): Promise<StreamEvent[]> {
    return storeCall("stream store", `read "${stream}"`, () => this.#q.read.all(stream, afterSeq, limit).map(toEvent));
  }

  offset(stream: string, consumer: string): Promise<number> {
    return storeCall("stream store", `read the offset of ${consumer} on "${stream}"`, () => this.#q.offset.get(stream, consumer) ?? 0);
  }

  commit(stream: string, consumer: string, seq: number): Promise<void> {
    return storeCall("stream store", `commit ${consumer} on "${stream}"`, () => void this.#q.commit.run(stream, consumer, seq));
  }

  /** Each append is a transaction on a WAL file: once accepted, an event survives a crash. */
  durabilityWarning(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  close(): Promise<void> {
    if (this.#db.open) this.#db.close();
    return Promise.resolve();
  }
}
