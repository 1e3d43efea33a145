import {
  oneLine,
  type AttemptEnd,
  type AttemptRecord,
  type ErrorInfo,
  type LogRecord,
  type RunStatus,
  type StepRecord,
} from "../run-store.js";
import { pgText, unnestColumns, type ArrayValue } from "./metadata-db.js";

/**
 * What a run writes as it goes, after it was recorded: an attempt with its step's record, log
 * lines, the run's end. A worker fleet makes these for every step of every run.
 */
export type ProgressWrite =
  | { readonly kind: "attempt"; readonly attempt: AttemptRecord; readonly step: StepRecord; readonly opens: boolean }
  | { readonly kind: "logs"; readonly n: number; readonly lines: readonly LogRecord[] }
  | {
      readonly kind: "end";
      readonly n: number;
      readonly id: string;
      readonly status: RunStatus;
      readonly endedAt: number;
      readonly error: ErrorInfo | null;
      readonly hooksDueAt: number | null;
      /** Written only if this end is the one that ends the run. */
      readonly lines: readonly LogRecord[];
      /** The run's last attempt's end, written with it: when it opens, only if this end is the one that ends the run. */
      readonly attempt: AttemptEnd | null;
    };

/**
 * Writes of one row: the last of them wins (an attempt's key is its step's, whose row it
 * updates). Ends are never merged: the first end of a run wins, and the others must be told so.
 */
export function progressKey(w: ProgressWrite): string {
  if (w.kind === "attempt") return `a\0${w.attempt.runId}\0${w.attempt.step}`;
  return w.kind === "logs" ? `l\0${w.n}` : `e\0${w.n}`;
}

export function stepValues(s: StepRecord): ArrayValue[] {
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

/**
 * Log lines as one text, each ending in a line break (a line holds none, see oneLine). As an
 * array, every line (JSON, full of quotes) was escaped into an array literal: a fifth of what a
 * busy worker allocated.
 */
export function joinedLines(lines: readonly LogRecord[]): string {
  let text = "";
  for (const { line } of lines) text += `${pgText(oneLine(line))}\n`;
  return text;
}

/** A data-modifying statement whose parameters are numbered from `at`. */
type Part = (at: (i: number) => string) => string;

/**
 * An attempt's first record (`opens`) is written only while its run is running; a later one always
 * is (see RunStore.saveAttempt). One that comes with its run's end (`ender`) opens only if the
 * part `ended` (the run ends) ended its run: the end's update sees a run ended meanwhile by
 * another transaction, which the statement's snapshot does not.
 */
const gate = (ended: string | undefined): string => {
  const running = `exists (select 1 from runs where runs.id = u.run_id and runs.status = 'running')`;
  return `(not u.opens or ${ended ? `case when u.ender then u.run_id in (select id from ${ended}) else ${running} end` : running})`;
};

const PARTS = {
  // Returns the attempts written, so that an opening refused is told so.
  attemptRows: (ended: string | undefined): Part =>
    ((p) => `insert into attempts (run_id, step, attempt, status, started_at, ended_at, error_code, error_message, retryable)
     select run_id, step, attempt, status, started_at, ended_at, error_code, error_message, retryable
     from unnest(${p(1)}::text[], ${p(2)}::text[], ${p(3)}::integer[], ${p(4)}::text[], ${p(5)}::bigint[], ${p(6)}::bigint[], ${p(7)}::text[], ${p(8)}::text[], ${p(9)}::boolean[], ${p(10)}::boolean[], ${p(11)}::boolean[])
       as u (run_id, step, attempt, status, started_at, ended_at, error_code, error_message, retryable, opens, ender)
     where ${gate(ended)}
     on conflict (run_id, step, attempt) do update set status = excluded.status, ended_at = excluded.ended_at,
       error_code = excluded.error_code, error_message = excluded.error_message, retryable = excluded.retryable
     returning run_id, step`) as Part,
  stepRows: (ended: string | undefined): Part =>
    ((p) => `update run_steps set status = u.status, attempts = u.attempts, started_at = u.started_at, ended_at = u.ended_at,
       error_code = u.error_code, error_message = u.error_message, output = u.output, reused_from = u.reused_from
     from unnest(${p(1)}::text[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::integer[], ${p(5)}::bigint[], ${p(6)}::bigint[], ${p(7)}::text[], ${p(8)}::text[], ${p(9)}::text[], ${p(10)}::text[], ${p(11)}::boolean[], ${p(12)}::boolean[])
       as u (run_id, step, status, attempts, started_at, ended_at, error_code, error_message, output, reused_from, opens, ender)
     where run_steps.run_id = u.run_id and run_steps.step = u.step and ${gate(ended)}`) as Part,
  // Identities are assigned in the order of `ordinality`, so seq keeps the lines' order. The lines
  // come as one text, each ending in a line break (see joinedLines): splitting it leaves an empty
  // last piece, which has no row. A line of an end (`of_end`) is written only when the part
  // `ended` (the run ends) ended its run.
  logRows: (ended: string | undefined): Part =>
    ((p) => `insert into logs (run_id, step, attempt, time, level, line)
     select run_id, step, attempt, time, level, line
     from unnest(${p(1)}::text[], ${p(2)}::text[], ${p(3)}::integer[], ${p(4)}::bigint[], ${p(5)}::integer[], ${p(6)}::boolean[], string_to_array(${p(7)}::text, E'\\n'))
       with ordinality as l (run_id, step, attempt, time, level, of_end, line, n)
     where run_id is not null${ended ? ` and (not of_end or run_id in (select id from ${ended}))` : ""}
     order by n`) as Part,
  // Only a running run ends: the ids returned are the runs this statement ended.
  runEnds: ((p) => `update runs set status = e.status, ended_at = e.ended_at, error_code = e.error_code, error_message = e.error_message,
       hooks_due_at = e.hooks_due_at
     from unnest(${p(1)}::text[], ${p(2)}::text[], ${p(3)}::bigint[], ${p(4)}::text[], ${p(5)}::text[], ${p(6)}::bigint[])
       as e (id, status, ended_at, error_code, error_message, hooks_due_at)
     where runs.id = e.id and runs.status = 'running'
     returning runs.id`) as Part,
};

/** What the statement returns: the attempts it wrote (run id and step) and the runs it ended (run id). */
export interface ProgressRow {
  readonly kind: "attempt" | "end";
  readonly id: string;
  readonly step: string | null;
}

/**
 * One statement for all of them: each kind present is a data-modifying CTE, so the batch commits
 * or fails as one, and the statement returns what the attempt and end parts wrote. The kinds touch
 * different rows: an attempt its step's and its own, a run's end the run's (and its lines and its
 * attempt's opening only if it ended the run), log lines new ones. A statement's parts all see the
 * rows as they were before it, so a row must not be created and changed in one (runs are created
 * on their own, before anything of theirs is written), and an attempt's opening is refused by the
 * run's status before this statement, or, for one that comes with its run's end, by that end (see
 * gate). `outcome` reads the statement's rows: for each attempt, whether it was written (false: an
 * opening refused, its run had ended); for each end, whether it is the one that ended its run.
 */
export function progressStatement(writes: readonly ProgressWrite[]): {
  what: string;
  sql: string;
  values: unknown[];
  outcome: (rows: readonly ProgressRow[]) => (write: ProgressWrite) => boolean | undefined;
} {
  const lines = writes.flatMap((w) => (w.kind === "logs" ? w.lines : []));
  const first = new Map<string, ProgressWrite>(); // run id -> its first end in the batch
  for (const w of writes) if (w.kind === "end" && !first.has(w.id)) first.set(w.id, w);
  const ends = writes.flatMap((w) => (w.kind === "end" && first.get(w.id) === w ? [w] : []));
  // An end's attempt gates on that end (`ender`). An end that loses to the batch's first end of its
  // run ends nothing: its attempt is written only if it does not open, as after that first end.
  const attempts = writes.flatMap((w) => {
    if (w.kind === "attempt") return [{ ...w, ender: false }];
    if (w.kind !== "end" || !w.attempt) return [];
    return first.get(w.id) === w ? [{ ...w.attempt, ender: true }] : w.attempt.opens ? [] : [{ ...w.attempt, ender: false }];
  });
  const parts: [Part, unknown[]][] = []; // a part and its parameters (columns, mostly)
  const what: string[] = [];
  const returned: string[] = []; // the final select's parts, each reading a CTE's returned rows
  let ended: string | undefined; // the part of the runs' ends, which their attempts and lines read
  if (ends.length) {
    what.push("finish run");
    ended = `w${parts.length}`;
    returned.push(`select 'end' as kind, id, null as step from ${ended}`);
    parts.push([
      PARTS.runEnds,
      unnestColumns(ends, 6, (e) => [e.id, e.status, e.endedAt, e.error?.code ?? null, pgText(e.error?.message), e.hooksDueAt]),
    ]);
  }
  if (attempts.length) {
    what.push("save attempt");
    parts.push([PARTS.stepRows(ended), unnestColumns(attempts, 12, (w) => [...stepValues(w.step), w.opens, w.ender])]);
    returned.push(`select 'attempt' as kind, run_id as id, step from w${parts.length}`);
    parts.push([
      PARTS.attemptRows(ended),
      unnestColumns(attempts, 11, ({ attempt: a, opens, ender }) => [
        a.runId,
        a.step,
        a.attempt,
        a.status,
        a.startedAt,
        a.endedAt,
        a.error?.code ?? null,
        pgText(a.error?.message),
        a.error ? a.error.retryable : null,
        opens,
        ender,
      ]),
    ]);
  }
  // After the other lines: an end's lines ("run finished") are the last its run logged so far.
  const all = [...lines.map((line) => ({ line, ofEnd: false })), ...ends.flatMap((e) => e.lines.map((line) => ({ line, ofEnd: true })))];
  if (all.length) {
    if (lines.length) what.push("append logs");
    parts.push([
      PARTS.logRows(ended),
      [
        ...unnestColumns(all, 6, ({ line: l, ofEnd }) => [l.runId, l.step, l.attempt, l.time, l.level, ofEnd]),
        joinedLines(all.map((a) => a.line)),
      ],
    ]);
  }
  const values: unknown[] = [];
  const statements = parts.map(([part, columns]) => {
    const base = values.length;
    values.push(...columns);
    return part((i) => `$${base + i}`);
  });
  const sql = `with ${statements.map((s, i) => `w${i} as (${s})`).join(",\n")}\n${
    returned.length ? returned.join("\nunion all ") : "select null as kind, null as id, null as step where false"
  }`;
  const outcome = (rows: readonly ProgressRow[]) => {
    const written = new Set(rows.map((r) => (r.kind === "end" ? `e\0${r.id}` : `a\0${r.id}\0${r.step}`)));
    return (w: ProgressWrite): boolean | undefined => {
      if (w.kind === "end") return first.get(w.id) === w && written.has(`e\0${w.id}`);
      return w.kind === "attempt" ? written.has(`a\0${w.attempt.runId}\0${w.attempt.step}`) : undefined;
    };
  };
  return { what: what.join(", "), sql, values, outcome };
}
