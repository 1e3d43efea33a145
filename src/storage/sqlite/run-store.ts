import type Database from "better-sqlite3";
import type {
  AttemptEnd,
  AttemptRecord,
  DueHooks,
  ErrorInfo,
  FinishRunOptions,
  LogRecord,
  RunQuery,
  RunRecord,
  RunStatus,
  RunStore,
  StepRecord,
  ValidationReport,
} from "../run-store.js";
import { oneLine, runLookupError } from "../run-store.js";
import { toAttempt, toLog, toRun, toStep, type AttemptRow, type LogRow, type RunRow, type StepRow } from "../metadata-rows.js";
import { openMetadataDb } from "./metadata-db.js";
import { storeCall } from "./metadata-db.js";

/** The embedded metadata store: one SQLite file (WAL), prepared statements, a transaction per event. */
export class SqliteRunStore implements RunStore {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #ownsDb: boolean;
  readonly #stmt;

  /** Opens (and migrates) the file at `path`, or uses an open metadata database it will not close. */
  constructor(pathOrDb: string | Database.Database) {
    this.path = typeof pathOrDb === "string" ? pathOrDb : pathOrDb.name;
    this.#ownsDb = typeof pathOrDb === "string";
    this.#db = typeof pathOrDb === "string" ? openMetadataDb(pathOrDb) : pathOrDb;
    const db = this.#db;
    this.#stmt = {
      insertRun: db.prepare(
        `insert into runs (id, pipeline, status, trigger_kind, trigger_id, params, input_params, owner, resumed_from, started_at, ended_at, error_code, error_message)
         values (@id, @pipeline, @status, @trigger_kind, @trigger_id, @params, @input_params, @owner, @resumed_from, @started_at, @ended_at, @error_code, @error_message)`,
      ),
      insertStep: db.prepare(`insert into run_steps (run_id, step, position, status) values (?, ?, ?, 'pending')`),
      upsertAttempt: db.prepare(
        `insert into attempts (run_id, step, attempt, status, started_at, ended_at, error_code, error_message, retryable)
         values (@run_id, @step, @attempt, @status, @started_at, @ended_at, @error_code, @error_message, @retryable)
         on conflict (run_id, step, attempt) do update set status = excluded.status, ended_at = excluded.ended_at,
           error_code = excluded.error_code, error_message = excluded.error_message, retryable = excluded.retryable`,
      ),
      updateStep: db.prepare(
        `update run_steps set status = @status, attempts = @attempts, started_at = @started_at, ended_at = @ended_at,
           error_code = @error_code, error_message = @error_message, output = @output, reused_from = @reused_from
         where run_id = @run_id and step = @step`,
      ),
      finishRun: db.prepare(
        `update runs set status = ?, ended_at = ?, error_code = ?, error_message = ?, hooks_due_at = ? where id = ? and status = 'running'`,
      ),
      dueHooks: db.prepare<[number, number], RunRow & { hooks_due_at: number }>(
        `select * from runs where hooks_due_at <= ? order by hooks_due_at limit ?`,
      ),
      moveHooks: db.prepare(`update runs set hooks_due_at = ? where id = ? and hooks_due_at = ?`),
      insertLog: db.prepare(`insert into logs (run_id, step, attempt, time, level, line) values (?, ?, ?, ?, ?, ?)`),
      runById: db.prepare(`select * from runs where id = ?`),
      runStatus: db.prepare<[string], string>(`select status from runs where id = ?`).pluck(),
      runsByPrefix: db.prepare(`select * from runs where id like ? escape '\\' order by id desc limit 6`),
      steps: db.prepare(`select * from run_steps where run_id = ? order by position`),
      attempts: db.prepare(`select * from attempts where run_id = ? order by started_at, step, attempt`),
      logs: db.prepare(`select * from logs where run_id = ? order by seq`),
      logsOfStep: db.prepare(`select * from logs where run_id = ? and step = ? order by seq`),
      insertValidation: db.prepare(
        `insert into validation_reports (run_id, step, dataset, version, kind, passed, body, at) values (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      validations: db.prepare(`select body from validation_reports where run_id = ? order by seq`),
    };
  }

  // better-sqlite3 is synchronous; the interface is async so that a networked store fits it.
  #run<T>(what: string, fn: () => T): Promise<T> {
    return storeCall(`metadata store (${this.path})`, what, fn);
  }

  createRun(run: RunRecord, steps: readonly string[]): Promise<void> {
    return this.#run("create run", () =>
      this.#db.transaction(() => {
        this.#stmt.insertRun.run({
          id: run.id,
          pipeline: run.pipeline,
          status: run.status,
          trigger_kind: run.trigger.kind,
          trigger_id: run.trigger.id,
          params: JSON.stringify(run.params),
          input_params: JSON.stringify(run.inputParams),
          owner: run.owner,
          resumed_from: run.resumedFrom,
          started_at: run.startedAt,
          ended_at: run.endedAt,
          error_code: run.error?.code ?? null,
          error_message: run.error?.message ?? null,
        });
        steps.forEach((step, i) => this.#stmt.insertStep.run(run.id, step, i));
      })(),
    );
  }

  #updateStep(s: StepRecord): void {
    this.#stmt.updateStep.run({
      run_id: s.runId,
      step: s.step,
      status: s.status,
      attempts: s.attempts,
      started_at: s.startedAt,
      ended_at: s.endedAt,
      error_code: s.error?.code ?? null,
      error_message: s.error?.message ?? null,
      output: s.output ? JSON.stringify(s.output) : null,
      reused_from: s.reusedFrom,
    });
  }

  saveAttempt(a: AttemptRecord, step: StepRecord, opens = a.status === "running"): Promise<boolean> {
    // Immediate: it reads before it writes, and a deferred transaction that another process writes
    // in between fails at its first write (SQLITE_BUSY_SNAPSHOT) instead of waiting.
    return this.#run("save attempt", () => this.#db.transaction(() => this.#saveAttempt({ attempt: a, step, opens })).immediate());
  }

  /** Inside a transaction that began immediate (see saveAttempt). */
  #saveAttempt({ attempt: a, step, opens }: AttemptEnd): boolean {
    // An attempt is not opened once the run has ended (see RunStore.saveAttempt).
    if (opens && this.#stmt.runStatus.get(a.runId) !== "running") return false;
    this.#stmt.upsertAttempt.run({
      run_id: a.runId,
      step: a.step,
      attempt: a.attempt,
      status: a.status,
      started_at: a.startedAt,
      ended_at: a.endedAt,
      error_code: a.error?.code ?? null,
      error_message: a.error?.message ?? null,
      retryable: a.error ? Number(a.error.retryable) : null,
    });
    this.#updateStep(step);
    return true;
  }

  saveStep(step: StepRecord): Promise<void> {
    return this.#run("save step", () => this.#updateStep(step));
  }

  finishRun(id: string, status: RunStatus, endedAt: number, error: ErrorInfo | null, options: FinishRunOptions = {}): Promise<boolean> {
    const { hooksDueAt = null, lines = [], attempt } = options;
    return this.#run("finish run", () =>
      this.#db
        .transaction(() => {
          if (attempt && !this.#saveAttempt(attempt)) return false; // the run has ended already
          const ended = this.#stmt.finishRun.run(status, endedAt, error?.code ?? null, error?.message ?? null, hooksDueAt, id).changes > 0;
          if (ended) this.#insertLogs(lines);
          return ended;
        })
        .immediate(),
    );
  }

  dueHooks(now: number, limit: number): Promise<DueHooks[]> {
    return this.#run("read due hooks", () => this.#stmt.dueHooks.all(now, limit).map((r) => ({ run: toRun(r), dueAt: r.hooks_due_at })));
  }

  moveHooks(runId: string, from: number, to: number | null): Promise<boolean> {
    return this.#run("move hooks", () => this.#stmt.moveHooks.run(to, runId, from).changes > 0);
  }

  appendLogs(lines: readonly LogRecord[]): Promise<void> {
    if (!lines.length) return Promise.resolve();
    return this.#run("append logs", () => this.#db.transaction(() => this.#insertLogs(lines))());
  }

  #insertLogs(lines: readonly LogRecord[]): void {
    for (const l of lines) this.#stmt.insertLog.run(l.runId, l.step, l.attempt, l.time, l.level, oneLine(l.line));
  }

  listRuns(query: RunQuery = {}): Promise<RunRecord[]> {
    return this.#run("list runs", () => {
      const where: string[] = [];
      const args: unknown[] = [];
      if (query.pipeline) {
        where.push("pipeline = ?");
        args.push(query.pipeline);
      }
      if (query.status) {
        where.push("status = ?");
        args.push(query.status);
      }
      if (query.before !== undefined) {
        where.push("id < ?");
        args.push(query.before);
      }
      const sql = `select * from runs ${where.length ? `where ${where.join(" and ")}` : ""} order by id desc limit ?`;
      return (this.#db.prepare(sql).all(...args, query.limit ?? 20) as RunRow[]).map(toRun);
    });
  }

  getRun(idOrPrefix: string): Promise<RunRecord> {
    return this.#run("get run", () => {
      const exact = this.#stmt.runById.get(idOrPrefix) as RunRow | undefined;
      if (exact) return toRun(exact);
      const like = `${idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const rows = this.#stmt.runsByPrefix.all(like) as RunRow[];
      if (rows.length === 1) return toRun(rows[0]!);
      throw runLookupError(
        idOrPrefix,
        rows.map((r) => r.id),
      );
    });
  }

  getSteps(runId: string): Promise<StepRecord[]> {
    return this.#run("get steps", () => (this.#stmt.steps.all(runId) as StepRow[]).map(toStep));
  }

  getAttempts(runId: string): Promise<AttemptRecord[]> {
    return this.#run("get attempts", () => (this.#stmt.attempts.all(runId) as AttemptRow[]).map(toAttempt));
  }

  getLogs(runId: string, filter: { step?: string } = {}): Promise<LogRecord[]> {
    return this.#run("get logs", () => {
      const rows = (filter.step ? this.#stmt.logsOfStep.all(runId, filter.step) : this.#stmt.logs.all(runId)) as LogRow[];
      return rows.map(toLog);
    });
  }

  saveValidation(report: ValidationReport): Promise<void> {
    return this.#run("save validation report", () => {
      this.#stmt.insertValidation.run(
        report.runId,
        report.step,
        report.dataset,
        report.version,
        report.kind,
        report.passed ? 1 : 0,
        JSON.stringify(report),
        report.at,
      );
    });
  }

  getValidations(runId: string): Promise<ValidationReport[]> {
    return this.#run("get validation reports", () =>
      (this.#stmt.validations.all(runId) as { body: string }[]).map((r) => JSON.parse(r.body) as ValidationReport),
    );
  }

  close(): Promise<void> {
    if (this.#ownsDb && this.#db.open) this.#db.close();
    return Promise.resolve();
  }
}
