import {
  runLookupError,
  type AttemptRecord,
  type ErrorInfo,
  type LogRecord,
  type RunQuery,
  type RunRecord,
  type RunStatus,
  type RunStore,
  type StepRecord,
  type ValidationReport,
} from "../run-store.js";
import { toAttempt, toLog, toRun, toStep, type AttemptRow, type LogRow, type RunRow, type StepRow } from "../metadata-rows.js";
import { PostgresMetadataDb, pgText, type PostgresMetadataOptions, type Query } from "./metadata-db.js";

const LABEL = "metadata store";

/** Runs, steps, attempts, logs and validation reports on a Postgres server: what several processes share. */
export class PostgresRunStore implements RunStore {
  readonly #db: PostgresMetadataDb;
  readonly #ownsDb: boolean;

  /** Uses an open metadata database (which it will not close), or opens one of its own. */
  constructor(dbOrOptions: PostgresMetadataDb | PostgresMetadataOptions) {
    this.#ownsDb = !(dbOrOptions instanceof PostgresMetadataDb);
    this.#db = dbOrOptions instanceof PostgresMetadataDb ? dbOrOptions : new PostgresMetadataDb(dbOrOptions);
  }

  #query<R extends object>(what: string, sql: string, values: readonly unknown[] = []): Promise<R[]> {
    return this.#db.query<R & Record<string, unknown>>(LABEL, what, sql, values);
  }

  async createRun(run: RunRecord, steps: readonly string[]): Promise<void> {
    await this.#db.transaction(LABEL, "create run", async (query) => {
      await query(
        `insert into runs (id, pipeline, status, trigger_kind, trigger_id, params, input_params, owner, resumed_from, started_at, ended_at, error_code, error_message)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          run.id,
          run.pipeline,
          run.status,
          run.trigger.kind,
          run.trigger.id,
          JSON.stringify(run.params),
          JSON.stringify(run.inputParams),
          run.owner,
          run.resumedFrom,
          run.startedAt,
          run.endedAt,
          run.error?.code ?? null,
          pgText(run.error?.message),
        ],
      );
      if (steps.length) {
        await query(
          `insert into run_steps (run_id, step, position, status)
           select $1, step, position - 1, 'pending' from unnest($2::text[]) with ordinality as s (step, position)`,
          [run.id, steps],
        );
      }
    });
  }

  #updateStep(query: Query, s: StepRecord): Promise<unknown> {
    return query(
      `update run_steps set status = $3, attempts = $4, started_at = $5, ended_at = $6, error_code = $7, error_message = $8, output = $9, reused_from = $10
       where run_id = $1 and step = $2`,
      [
        s.runId,
        s.step,
        s.status,
        s.attempts,
        s.startedAt,
        s.endedAt,
        s.error?.code ?? null,
        pgText(s.error?.message),
        s.output ? JSON.stringify(s.output) : null,
        s.reusedFrom,
      ],
    );
  }

  async saveAttempt(a: AttemptRecord, step: StepRecord): Promise<void> {
    await this.#db.transaction(LABEL, "save attempt", async (query) => {
      await query(
        `insert into attempts (run_id, step, attempt, status, started_at, ended_at, error_code, error_message, retryable)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (run_id, step, attempt) do update set status = excluded.status, ended_at = excluded.ended_at,
           error_code = excluded.error_code, error_message = excluded.error_message, retryable = excluded.retryable`,
        [
          a.runId,
          a.step,
          a.attempt,
          a.status,
          a.startedAt,
          a.endedAt,
          a.error?.code ?? null,
          pgText(a.error?.message),
          a.error ? a.error.retryable : null,
        ],
      );
      await this.#updateStep(query, step);
    });
  }

  async saveStep(step: StepRecord): Promise<void> {
    await this.#db.transaction(LABEL, "save step", (query) => this.#updateStep(query, step));
  }

  async finishRun(id: string, status: RunStatus, endedAt: number, error: ErrorInfo | null): Promise<void> {
    await this.#query("finish run", `update runs set status = $2, ended_at = $3, error_code = $4, error_message = $5 where id = $1`, [
      id,
      status,
      endedAt,
      error?.code ?? null,
      pgText(error?.message),
    ]);
  }

  async appendLogs(lines: readonly LogRecord[]): Promise<void> {
    if (!lines.length) return;
    // One statement for the batch; identities are assigned in the order of `ordinality`, so seq keeps the lines' order.
    await this.#query(
      "append logs",
      `insert into logs (run_id, step, attempt, time, level, line)
       select run_id, step, attempt, time, level, line
       from unnest($1::text[], $2::text[], $3::integer[], $4::bigint[], $5::integer[], $6::text[])
         with ordinality as l (run_id, step, attempt, time, level, line, n)
       order by n`,
      [
        lines.map((l) => l.runId),
        lines.map((l) => l.step),
        lines.map((l) => l.attempt),
        lines.map((l) => l.time),
        lines.map((l) => l.level),
        lines.map((l) => pgText(l.line)),
      ],
    );
  }

  async listRuns(query: RunQuery = {}): Promise<RunRecord[]> {
    const rows = await this.#query<RunRow>(
      "list runs",
      `select * from runs where ($1::text is null or pipeline = $1) and ($2::text is null or status = $2) order by id desc limit $3`,
      [query.pipeline || null, query.status || null, query.limit ?? 20],
    );
    return rows.map(toRun);
  }

  async getRun(idOrPrefix: string): Promise<RunRecord> {
    const [exact] = await this.#query<RunRow>("get run", `select * from runs where id = $1`, [idOrPrefix]);
    if (exact) return toRun(exact);
    const rows = await this.#query<RunRow>("get run", `select * from runs where starts_with(id, $1) order by id desc limit 6`, [
      idOrPrefix,
    ]);
    if (rows.length === 1) return toRun(rows[0]!);
    throw runLookupError(
      idOrPrefix,
      rows.map((r) => r.id),
    );
  }

  async getSteps(runId: string): Promise<StepRecord[]> {
    const rows = await this.#query<StepRow>("get steps", `select * from run_steps where run_id = $1 order by position`, [runId]);
    return rows.map(toStep);
  }

  async getAttempts(runId: string): Promise<AttemptRecord[]> {
    const rows = await this.#query<AttemptRow>(
      "get attempts",
      `select * from attempts where run_id = $1 order by started_at, step collate "C", attempt`,
      [runId],
    );
    return rows.map(toAttempt);
  }

  async getLogs(runId: string, filter: { step?: string } = {}): Promise<LogRecord[]> {
    const rows = await this.#query<LogRow>(
      "get logs",
      `select * from logs where run_id = $1 and ($2::text is null or step = $2) order by seq`,
      [runId, filter.step || null],
    );
    return rows.map(toLog);
  }

  async saveValidation(report: ValidationReport): Promise<void> {
    await this.#query(
      "save validation report",
      `insert into validation_reports (run_id, step, dataset, version, kind, passed, body, at) values ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [report.runId, report.step, report.dataset, report.version, report.kind, report.passed, JSON.stringify(report), report.at],
    );
  }

  async getValidations(runId: string): Promise<ValidationReport[]> {
    const rows = await this.#query<{ body: string }>(
      "get validation reports",
      `select body from validation_reports where run_id = $1 order by seq`,
      [runId],
    );
    return rows.map((r) => JSON.parse(r.body) as ValidationReport);
  }

  async close(): Promise<void> {
    if (this.#ownsDb) await this.#db.close();
  }
}
