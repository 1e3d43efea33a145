import { StrataError } from "../../errors/strata-error.js";
import type { NewReject, QuarantineFilter, QuarantineStamp, QuarantineStore, QuarantinedRecord, ReasonGroup } from "../quarantine-store.js";
import type { ResolvedQuery, TableEngine, TableName } from "../table-engine.js";
import type { SqlLiteral } from "../../pipeline/sql.js";
import type { RejectReason } from "../../validation/reason-codes.js";

const SCHEMA = "quarantine";
const TABLE = `${SCHEMA}.records`;

// Times are epoch milliseconds, as in the metadata store. `codes` repeats the reasons' codes as a
// list, so filtering by reason needs no JSON parsing.
const DDL = `create schema if not exists ${SCHEMA};
  create sequence if not exists ${SCHEMA}.record_ids start 1;
  create table if not exists ${TABLE} (
    id bigint not null default nextval('${SCHEMA}.record_ids'),
    dataset varchar not null, target varchar, run_id varchar, step varchar, quarantined_at bigint not null, checker_version varchar,
    source_file varchar, source_line bigint, source_offset bigint, source_record bigint,
    raw varchar, record varchar, reasons varchar not null, codes varchar[] not null,
    status varchar not null default 'new', note varchar, fixes varchar, annotated_at bigint,
    replayed_run varchar, replayed_version integer, replayed_at bigint);
  alter table ${TABLE} add column if not exists replayed_row varchar`;

/** The same record read again: same file, same content (values as read, or the line). */
const SAME_RECORD =
  "q.source_file is not distinct from r.source_file and coalesce(q.record, q.raw) is not distinct from coalesce(r.record, r.raw)";

/** A query with `?` placeholders bound in order. */
function q(text: string, values: SqlLiteral[] = []): ResolvedQuery {
  const strings = text.split("?");
  if (strings.length !== values.length + 1)
    throw new Error(`quarantine store: ${values.length} values for ${strings.length - 1} placeholders`);
  return { strings, parts: values.map((value) => ({ value })) };
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const json = <T>(v: unknown): T | null => (v === null || v === undefined ? null : (JSON.parse(String(v)) as T));

function toRecord(r: Record<string, unknown>): QuarantinedRecord {
  return {
    id: Number(r.id),
    dataset: String(r.dataset),
    target: text(r.target),
    runId: text(r.run_id),
    step: text(r.step),
    at: Number(r.quarantined_at),
    checkerVersion: text(r.checker_version),
    file: text(r.source_file),
    line: num(r.source_line),
    offset: num(r.source_offset),
    record: num(r.source_record),
    raw: text(r.raw),
    values: json(r.record),
    reasons: json<RejectReason[]>(r.reasons) ?? [],
    status: String(r.status) as QuarantinedRecord["status"],
    note: text(r.note),
    fixes: json(r.fixes),
    annotatedAt: num(r.annotated_at),
    replayedRun: text(r.replayed_run),
    replayedVersion: num(r.replayed_version),
    replayedAt: num(r.replayed_at),
  };
}

/** The quarantine in the warehouse's DuckDB file, schema `quarantine`: one table for every dataset. */
export class DuckDbQuarantineStore implements QuarantineStore {
  #ready: Promise<void> | undefined;
  #scratch = 0;

  constructor(readonly engine: TableEngine) {}

  open(): Promise<void> {
    return this.#setup();
  }

  #setup(): Promise<void> {
    this.#ready ??= this.engine.query(q(DDL)).then(
      () => undefined,
      (error: unknown) => {
        this.#ready = undefined;
        throw error;
      },
    );
    return this.#ready;
  }

  async #query(text: string, values: SqlLiteral[] = []): Promise<Record<string, unknown>[]> {
    await this.#setup();
    return this.engine.query(q(text, values));
  }

  #where(dataset: string | null, filter: QuarantineFilter = {}): { sql: string; values: SqlLiteral[] } {
    const parts: string[] = [];
    const values: SqlLiteral[] = [];
    if (dataset !== null) {
      parts.push("dataset = ?");
      values.push(dataset);
    }
    if (filter.reason !== undefined) {
      parts.push("list_contains(codes, ?)");
      values.push(filter.reason);
    }
    if (filter.runId !== undefined) {
      parts.push("run_id = ?");
      values.push(filter.runId);
    }
    if (filter.status === "unreplayed") parts.push("status <> 'replayed'");
    else if (filter.status !== undefined) {
      parts.push("status = ?");
      values.push(filter.status);
    }
    if (filter.ids !== undefined)
      parts.push(filter.ids.length ? `id in (${filter.ids.map((id) => Math.floor(Number(id))).join(", ")})` : "false");
    return { sql: parts.length ? `where ${parts.join(" and ")}` : "", values };
  }

  async appendTable(stamp: QuarantineStamp, rejects: TableName): Promise<number> {
    // A record already waiting in the quarantine (same file, same content: the file was read
    // again) is not added twice.
    const [row] = await this.#query(
      `insert into ${TABLE} (dataset, target, run_id, step, quarantined_at, checker_version, source_file, source_line, source_offset, source_record, raw, record, reasons, codes)
       select ?, ?, ?, ?, ?, ?, source_file, source_line, source_offset, source_record, raw, record, reasons,
              coalesce(json_extract_string(reasons, '$[*].code'), [])
       from ${this.engine.qualifiedName(rejects)} r
       where not exists (select 1 from ${TABLE} q where q.dataset = ? and q.status <> 'replayed' and ${SAME_RECORD})`,
      [stamp.dataset, stamp.target, stamp.runId, stamp.step, stamp.at, stamp.checkerVersion, stamp.dataset],
    );
    return Number(row?.Count ?? row?.count ?? 0);
  }

  async restoreReplayed(dataset: string, rejects: TableName, into: TableName, types: Readonly<Record<string, string>>): Promise<number> {
    const [any] = await this.#query(`select 1 as x from ${TABLE} where dataset = ? and status = 'replayed' limit 1`, [dataset]);
    if (!any) return 0;
    const r = this.engine.qualifiedName(rejects);
    const spec = JSON.stringify(types).replace(/'/g, "''");
    const columns = Object.keys(types)
      .map((c) => `s."${c.replace(/"/g, '""')}"`)
      .join(", ");
    // A script of several statements takes no parameters: the name is quoted into it.
    const matches = `select r.rowid as reject, any_value(q.replayed_row) as row_ from ${r} r join ${TABLE} q
        on q.dataset = '${dataset.replace(/'/g, "''")}' and q.status = 'replayed' and q.replayed_row is not null and ${SAME_RECORD} group by r.rowid`;
    const [row] = await this.engine.query(
      q(
        `create schema if not exists "${into.schema.replace(/"/g, '""')}";
         create or replace temp table strata_restore as ${matches};
         create or replace table ${this.engine.qualifiedName(into)} as
           select ${columns} from (select json_transform(row_, '${spec}') as s from strata_restore);
         delete from ${r} where rowid in (select reject from strata_restore);
         select count(*) as n from strata_restore`,
      ),
    );
    return Number(row?.n ?? 0);
  }

  async append(stamp: QuarantineStamp, records: readonly NewReject[]): Promise<number> {
    if (records.length === 0) return 0;
    await this.#setup();
    const table = { schema: SCHEMA, table: `incoming_${process.pid}_${++this.#scratch}` };
    try {
      await this.engine.createTableFromRows(
        table,
        records.map((r) => ({
          source_file: r.file,
          source_line: r.line,
          source_offset: null,
          source_record: null,
          raw: r.raw,
          record: r.values === null ? null : JSON.stringify(r.values, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
          reasons: JSON.stringify(r.reasons),
        })),
        [
          { name: "source_file", kind: "string", nullable: true },
          { name: "source_line", kind: "bigint", nullable: true },
          { name: "source_offset", kind: "bigint", nullable: true },
          { name: "source_record", kind: "bigint", nullable: true },
          { name: "raw", kind: "string", nullable: true },
          { name: "record", kind: "string", nullable: true },
          { name: "reasons", kind: "string", nullable: false },
        ],
      );
      return await this.appendTable(stamp, table);
    } finally {
      await this.engine.drop(table).catch(() => undefined);
    }
  }

  async list(dataset: string, filter: QuarantineFilter & { limit?: number; offset?: number } = {}): Promise<QuarantinedRecord[]> {
    const where = this.#where(dataset, filter);
    const limit = filter.limit === undefined ? "" : ` limit ${Math.max(0, Math.floor(filter.limit))}`;
    const offset = filter.offset === undefined ? "" : ` offset ${Math.max(0, Math.floor(filter.offset))}`;
    return (await this.#query(`select * from ${TABLE} ${where.sql} order by id${limit}${offset}`, where.values)).map(toRecord);
  }

  async count(dataset: string, filter?: QuarantineFilter): Promise<number> {
    const where = this.#where(dataset, filter);
    const [row] = await this.#query(`select count(*) as n from ${TABLE} ${where.sql}`, where.values);
    return Number(row?.n ?? 0);
  }

  async reasons(dataset: string, filter?: QuarantineFilter): Promise<ReasonGroup[]> {
    const where = this.#where(dataset, filter);
    // With --reason, only that reason's group is shown (a record has all its reasons).
    const only = filter?.reason === undefined ? "" : "where r.code = ?";
    const rows = await this.#query(
      `select r.code as code, r.column as "column", r.rule as rule, count(*) as n, list(id order by id)[1:3] as ids
       from (select id, unnest(from_json(reasons, '[{"code":"VARCHAR","column":"VARCHAR","rule":"VARCHAR"}]')) as r from ${TABLE} ${where.sql})
       ${only}
       group by all order by n desc, code, "column"`,
      filter?.reason === undefined ? where.values : [...where.values, filter.reason],
    );
    return rows.map((r) => ({
      code: String(r.code),
      column: text(r.column),
      rule: text(r.rule),
      count: Number(r.n),
      exampleIds: (r.ids as unknown[]).map(Number),
    }));
  }

  async get(ids: readonly number[]): Promise<QuarantinedRecord[]> {
    const where = this.#where(null, { ids });
    const found = (await this.#query(`select * from ${TABLE} ${where.sql} order by id`, where.values)).map(toRecord);
    const missing = ids.filter((id) => !found.some((r) => r.id === id));
    if (missing.length)
      throw new StrataError("QUARANTINE_NOT_FOUND", `no quarantined record with id ${missing.join(", ")}`, { details: { ids: missing } });
    return found;
  }

  async annotate(
    ids: readonly number[],
    annotation: { note: string | null; fixes: Readonly<Record<string, string | null>> | null; at: number },
  ): Promise<number> {
    await this.get(ids);
    const where = this.#where(null, { ids, status: "unreplayed" });
    const [row] = await this.#query(
      `update ${TABLE} set status = 'annotated', note = coalesce(?, note), fixes = coalesce(?, fixes), annotated_at = ? ${where.sql}`,
      [annotation.note, annotation.fixes === null ? null : JSON.stringify(annotation.fixes), annotation.at, ...where.values],
    );
    return Number(row?.Count ?? row?.count ?? 0);
  }

  async markReplayed(
    ids: readonly number[],
    replay: { runId: string; version: number; at: number },
    rows?: { readonly table: TableName; readonly id: string; readonly columns: readonly string[] },
  ): Promise<void> {
    if (!ids.length) return;
    const where = this.#where(null, { ids });
    await this.#query(`update ${TABLE} set status = 'replayed', replayed_run = ?, replayed_version = ?, replayed_at = ? ${where.sql}`, [
      replay.runId,
      replay.version,
      replay.at,
      ...where.values,
    ]);
    if (!rows) return;
    const ident = (c: string): string => `"${c.replace(/"/g, '""')}"`;
    const pack = rows.columns.map((c) => `${ident(c)} := c.${ident(c)}`).join(", ");
    await this.#query(
      `update ${TABLE} set replayed_row = r.row_ from (select c.${ident(rows.id)} as id_, to_json(struct_pack(${pack}))::varchar as row_
         from ${this.engine.qualifiedName(rows.table)} c) r where ${TABLE}.id = r.id_`,
    );
  }

  async datasets(): Promise<{ dataset: string; total: number; new: number; annotated: number; replayed: number }[]> {
    const rows = await this.#query(
      `select dataset, count(*) as total, count(*) filter (where status = 'new') as new,
              count(*) filter (where status = 'annotated') as annotated, count(*) filter (where status = 'replayed') as replayed
       from ${TABLE} group by dataset order by dataset`,
    );
    return rows.map((r) => ({
      dataset: String(r.dataset),
      total: Number(r.total),
      new: Number(r.new),
      annotated: Number(r.annotated),
      replayed: Number(r.replayed),
    }));
  }
}
