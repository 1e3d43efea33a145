import {
  runLookupError,
  type AttemptRecord,
  type DueHooks,
  type ErrorInfo,
  type FinishRunOptions,
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
import { progressKey, progressStatement, stepValues, type ProgressRow, type ProgressWrite } from "./progress-writes.js";
import { PostgresMetadataDb, pgText, unnestColumns, type PostgresMetadataOptions } from "./metadata-db.js";

const LABEL = "metadata store";

/** Runs, steps, attempts, logs and validation reports on a Postgres server: what several processes share. */
export class PostgresRunStore implements RunStore {
  readonly #db: PostgresMetadataDb;
  readonly #ownsDb: boolean;
  // What runs write as they go, from every caller, goes in one statement (a group commit, see
  // batchedWrites): with many steps ending at once (a worker fleet), a statement each was most of the cost.
  #writes = 0; // numbers writes that are never merged: log batches, run ends
  readonly #progress = batchedWrites<ProgressWrite, boolean | undefined>(async (writes) => {
    const { what, sql, values, outcome } = progressStatement(writes);
    return outcome(await this.#write<ProgressRow>(what, sql, values));
  }, progressKey);

  /** Uses an open metadata database (which it will not close), or opens one of its own. */
  constructor(dbOrOptions: PostgresMetadataDb | PostgresMetadataOptions) {
    this.#ownsDb = !(dbOrOptions instanceof PostgresMetadataDb);
    this.#db = dbOrOptions instanceof PostgresMetadataDb ? dbOrOptions : new PostgresMetadataDb(dbOrOptions);
  }

  #query<R extends object>(what: string, sql: string, values: readonly unknown[] = []): Promise<R[]> {
    return this.#db.query<R & Record<string, unknown>>(LABEL, what, sql, values);
  }

  /** A write made for every step of every run: prepared once per connection. */
  #write<R extends object = object>(what: string, sql: string, values: readonly unknown[]): Promise<R[]> {
    return this.#db.query<R & Record<string, unknown>>(LABEL, what, sql, values, true);
  }

  // Runs recorded by every caller, with their steps' rows, go in one statement (data-modifying CTEs
  // are atomic), apart from their progress: see progressStatement.
  readonly #creates = batchedWrites<{ run: RunRecord; steps: readonly string[] }>(
    async (creates) => {
      const steps = creates.flatMap((c) => c.steps.map((step, position) => ({ runId: c.run.id, step, position })));
      await this.#write(
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

  async saveAttempt(attempt: AttemptRecord, step: StepRecord, opens = attempt.status === "running"): Promise<boolean> {
    return (await this.#progress.load({ kind: "attempt", attempt, step, opens })) === true;
  }

  async saveStep(step: StepRecord): Promise<void> {
    await this.#write("save step", PostgresRunStore.#UPDATE_STEP, stepValues(step));
  }

  async finishRun(
    id: string,
    status: RunStatus,
    endedAt: number,
    error: ErrorInfo | null,
    options: FinishRunOptions = {},
  ): Promise<boolean> {
    const { hooksDueAt = null, lines = [], attempt = null } = options;
    // The attempt is part of the end's write, so that no failed batch written again item by item
    // can split them.
    const end = { kind: "end", n: this.#writes++, id, status, endedAt, error, hooksDueAt, lines, attempt } as const;
    return (await this.#progress.load(end)) === true;
  }

  async dueHooks(now: number, limit: number): Promise<DueHooks[]> {
    const rows = await this.#query<RunRow & { hooks_due_at: number }>(
      "read due hooks",
      `select * from runs where hooks_due_at <= $1 order by hooks_due_at limit $2`,
      [now, limit],
    );
    return rows.map((r) => ({ run: toRun(r), dueAt: r.hooks_due_at }));
  }

  async moveHooks(runId: string, from: number, to: number | null): Promise<boolean> {
    const rows = await this.#query("move hooks", `update runs set hooks_due_at = $3 where id = $1 and hooks_due_at = $2 returning id`, [
      runId,
      from,
      to,
    ]);
    return rows.length > 0;
  }

  async appendLogs(lines: readonly LogRecord[]): Promise<void> {
    if (lines.length) await this.#progress.load({ kind: "logs", n: this.#writes++, lines });
  }

  async listRuns(query: RunQuery = {}): Promise<RunRecord[]> {
    const rows = await this.#query<RunRow>(
      "list runs",
      `select * from runs where ($1::text is null or pipeline = $1) and ($2::text is null or status = $2) and ($4::text is null or id < $4)
       order by id desc limit $3`,
      [query.pipeline || null, query.status || null, query.limit ?? 20, query.before ?? null],
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
