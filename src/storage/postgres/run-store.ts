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
import { batchedWrites } from "./batched-writes.js";
import { PostgresMetadataDb, pgText, unnestColumns, type PostgresMetadataOptions } from "./metadata-db.js";

const LABEL = "metadata store";

/** Runs, steps, attempts, logs and validation reports on a Postgres server: what several processes share. */
export class PostgresRunStore implements RunStore {
  readonly #db: PostgresMetadataDb;
  readonly #ownsDb: boolean;
  // Log lines and run ends from every caller in one turn of the event loop go in one statement:
  // with many steps ending at once (a worker fleet), a round trip each was most of the cost.
  #logBatches = 0;
  readonly #logs = batchedWrites<{ n: number; lines: readonly LogRecord[] }>(
    (batches) => this.#insertLogs(batches.flatMap((b) => b.lines)),
    (b) => String(b.n),
  );
  readonly #ends = batchedWrites<{ id: string; status: RunStatus; endedAt: number; error: ErrorInfo | null }>(
    async (ends) => {
      await this.#query(
        "finish run",
        `update runs set status = e.status, ended_at = e.ended_at, error_code = e.error_code, error_message = e.error_message
         from unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) as e (id, status, ended_at, error_code, error_message)
         where runs.id = e.id`,
        unnestColumns(ends, 5, (e) => [e.id, e.status, e.endedAt, e.error?.code ?? null, pgText(e.error?.message)]),
      );
    },
    (e) => e.id,
  );

  /** Uses an open metadata database (which it will not close), or opens one of its own. */
  constructor(dbOrOptions: PostgresMetadataDb | PostgresMetadataOptions) {
    this.#ownsDb = !(dbOrOptions instanceof PostgresMetadataDb);
    this.#db = dbOrOptions instanceof PostgresMetadataDb ? dbOrOptions : new PostgresMetadataDb(dbOrOptions);
  }

  #query<R extends object>(what: string, sql: string, values: readonly unknown[] = []): Promise<R[]> {
    return this.#db.query<R & Record<string, unknown>>(LABEL, what, sql, values);
  }

  // Runs recorded and attempts saved by every caller in one turn of the event loop go in one
  // statement each (data-modifying CTEs are atomic, and foreign keys are checked at their end).
  readonly #creates = batchedWrites<{ run: RunRecord; steps: readonly string[] }>(
    async (creates) => {
      const steps = creates.flatMap((c) => c.steps.map((step, position) => ({ runId: c.run.id, step, position })));
      await this.#query(
        "create run",
        `with created as (
           insert into runs (id, pipeline, status, trigger_kind, trigger_id, params, input_params, owner, resumed_from, started_at, ended_at, error_code, error_message)
           select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::text[], $13::text[])
         )
         insert into run_steps (run_id, step, position, status)
         select run_id, step, position, 'pending' from unnest($14::text[], $15::text[], $16::integer[]) as s (run_id, step, position)`,
        [
          ...unnestColumns(
            creates.map((c) => c.run),
            13,
            (r) => [
              r.id,
              r.pipeline,
              r.status,
              r.trigger.kind,
              r.trigger.id,
              JSON.stringify(r.params),
              JSON.stringify(r.inputParams),
              r.owner,
              r.resumedFrom,
              r.startedAt,
              r.endedAt,
              r.error?.code ?? null,
              pgText(r.error?.message),
            ],
          ),
          ...unnestColumns(steps, 3, (s) => [s.runId, s.step, s.position]),
        ],
      );
    },
    (c) => c.run.id,
  );

  createRun(run: RunRecord, steps: readonly string[]): Promise<void> {
    return this.#creates.load({ run, steps });
  }

  static readonly #UPDATE_STEP = `update run_steps set status = $3, attempts = $4, started_at = $5, ended_at = $6, error_code = $7, error_message = $8, output = $9, reused_from = $10
     where run_id = $1 and step = $2`;

  #stepValues(s: StepRecord): unknown[] {
    return [
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
    ];
  }

  readonly #attempts = batchedWrites<{ a: AttemptRecord; step: StepRecord }>(
    async (saves) => {
      await this.#query(
        "save attempt",
        `with attempt as (
           insert into attempts (run_id, step, attempt, status, started_at, ended_at, error_code, error_message, retryable)
           select * from unnest($11::text[], $12::text[], $13::integer[], $14::text[], $15::bigint[], $16::bigint[], $17::text[], $18::text[], $19::boolean[])
           on conflict (run_id, step, attempt) do update set status = excluded.status, ended_at = excluded.ended_at,
             error_code = excluded.error_code, error_message = excluded.error_message, retryable = excluded.retryable
         )
         update run_steps set status = u.status, attempts = u.attempts, started_at = u.started_at, ended_at = u.ended_at,
           error_code = u.error_code, error_message = u.error_message, output = u.output, reused_from = u.reused_from
         from unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[])
           as u (run_id, step, status, attempts, started_at, ended_at, error_code, error_message, output, reused_from)
         where run_steps.run_id = u.run_id and run_steps.step = u.step`,
        [
          ...unnestColumns(saves, 10, (x) => this.#stepValues(x.step)),
          ...unnestColumns(saves, 9, ({ a }) => [
            a.runId,
            a.step,
            a.attempt,
            a.status,
            a.startedAt,
            a.endedAt,
            a.error?.code ?? null,
            pgText(a.error?.message),
            a.error ? a.error.retryable : null,
          ]),
        ],
      );
    },
    // One row of run_steps per step: a step's attempts are saved one after the other anyway.
    (x) => `${x.a.runId}\u0000${x.a.step}`,
  );

  saveAttempt(a: AttemptRecord, step: StepRecord): Promise<void> {
    return this.#attempts.load({ a, step });
  }

  async saveStep(step: StepRecord): Promise<void> {
    await this.#query("save step", PostgresRunStore.#UPDATE_STEP, this.#stepValues(step));
  }

  finishRun(id: string, status: RunStatus, endedAt: number, error: ErrorInfo | null): Promise<void> {
    return this.#ends.load({ id, status, endedAt, error });
  }

  async appendLogs(lines: readonly LogRecord[]): Promise<void> {
    if (lines.length) await this.#logs.load({ n: this.#logBatches++, lines });
  }

  async #insertLogs(lines: readonly LogRecord[]): Promise<void> {
    // One statement for the batch; identities are assigned in the order of `ordinality`, so seq keeps the lines' order.
    await this.#query(
      "append logs",
      `insert into logs (run_id, step, attempt, time, level, line)
       select run_id, step, attempt, time, level, line
       from unnest($1::text[], $2::text[], $3::integer[], $4::bigint[], $5::integer[], $6::text[])
         with ordinality as l (run_id, step, attempt, time, level, line, n)
       order by n`,
      unnestColumns(lines, 6, (l) => [l.runId, l.step, l.attempt, l.time, l.level, pgText(l.line)]),
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
