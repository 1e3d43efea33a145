import { pino, type Logger, type LevelWithSilent } from "pino";
import type { LogRecord, RunStore } from "../storage/run-store.js";

/** The lines of one run logged in this process and not yet in the store, shared by its RunLoggers here. */
interface RunLines {
  lines: LogRecord[];
  readonly tees: Set<(line: string) => void>;
  /** RunLoggers of the run open in this process. */
  holders: number;
}

const open = new Map<string, RunLines>();

/** The run, step and attempt a run logger's own pino child logs for (see RunLogger), set on the child. */
const LINE_OF = Symbol("strata.lineOf");

interface LineOf {
  readonly runId: string;
  readonly step: string | null;
  readonly attempt: number | null;
  /** The child's bindings as pino serialized them when it was made: changed by setBindings, and a child of it has its own. */
  readonly bindings: unknown;
}

type Child = Logger & { [LINE_OF]?: LineOf; [pino.symbols.chindingsSym]?: unknown };

const RUN_ID = '"runId":"';

/**
 * Every run logger's line comes here, and goes to its run's lines. pino tells it, before each
 * line, the line's level, time, object and logger (a metadata stream): a line of a logger made
 * here, with the bindings it was made with and an object that names no step or attempt of its
 * own, needs nothing read from its text (reading every line back as JSON was a twentieth of a
 * busy worker's CPU). Any other line (from a child a step made of its logger, or naming a step or
 * attempt) is read back, as JSON does: the first run id in it is the logger's, and the last step
 * and attempt win.
 */
const router = {
  [pino.symbols.needsMetadataGsym]: true,
  lastLevel: 0,
  lastTime: "",
  lastObj: undefined as { step?: unknown; attempt?: unknown } | undefined,
  lastLogger: undefined as Child | undefined,
  write(line: string): void {
    const logger = this.lastLogger;
    const own = logger?.[LINE_OF];
    const fits = own && logger[pino.symbols.chindingsSym] === own.bindings;
    const known = fits && this.lastObj?.step === undefined && this.lastObj?.attempt === undefined ? own : undefined;
    // Not kept past the line: a large object logged would stay alive until the next one.
    this.lastObj = this.lastLogger = undefined;
    const runId = known?.runId ?? runIdIn(line);
    const run = open.get(runId);
    if (!run) return; // logged after its logger was closed: nobody would store it
    const { step, attempt } = known ?? (JSON.parse(line) as { step?: string; attempt?: number });
    run.lines.push({
      runId,
      step: step ?? null,
      attempt: attempt ?? null,
      time: Number(this.lastTime),
      level: this.lastLevel,
      line: line.trimEnd(),
    });
    for (const tee of run.tees) tee(line);
  },
};

/** The first run id in a line: its logger's (a step may log a field of the same name, after it). Run ids hold no quotes or escapes. */
function runIdIn(line: string): string {
  const at = line.indexOf(RUN_ID) + RUN_ID.length;
  return line.slice(at, line.indexOf('"', at));
}

// One pino per level in the process, a child per run: making a pino costs four times a child,
// and a worker fleet makes a run logger per step.
const roots = new Map<LevelWithSilent, Logger>();
function rootAt(level: LevelWithSilent): Logger {
  let root = roots.get(level);
  if (!root) roots.set(level, (root = pino({ level, base: null }, router)));
  return root;
}

/**
 * Structured logs of one run: pino lines carrying run id, trigger id, step and attempt, kept in
 * the metadata store so `strata runs logs` can read them back from any machine. Close it when the
 * run (or the step, on a worker) is over: that writes what is left.
 */
export class RunLogger {
  readonly #run: RunLines;
  readonly #tee: ((line: string) => void) | undefined;
  readonly #pino: Logger;
  readonly #bindings: { readonly runId: string; readonly triggerId: string; readonly pipeline: string };
  #root: Logger | undefined;
  #closed = false;

  constructor(
    readonly store: RunStore,
    readonly runId: string,
    triggerId: string,
    pipeline: string,
    options: { level?: LevelWithSilent; tee?: (line: string) => void } = {},
  ) {
    let run = open.get(runId);
    if (!run) open.set(runId, (run = { lines: [], tees: new Set(), holders: 0 }));
    run.holders++;
    this.#tee = options.tee;
    if (this.#tee) run.tees.add(this.#tee);
    this.#run = run;
    this.#pino = rootAt(options.level ?? "info");
    this.#bindings = { runId, triggerId, pipeline };
  }

  /** The run's own lines (no step). Made when first used: a worker's step logs through its attempt's logger only. */
  get root(): Logger {
    return (this.#root ??= this.#child(this.#bindings, null, null));
  }

  /**
   * A step attempt's lines. A child of the process's pino, not of the run's: a child of a child
   * makes its parent a prototype, which V8 then rebuilds, and a worker makes one per step.
   */
  forAttempt(step: string, attempt: number): Logger {
    return this.#child({ ...this.#bindings, step, attempt }, step, attempt);
  }

  #child(bindings: object, step: string | null, attempt: number | null): Logger {
    const child: Child = this.#pino.child(bindings);
    child[LINE_OF] = { runId: this.runId, step, attempt, bindings: child[pino.symbols.chindingsSym] };
    return child;
  }

  /**
   * The lines `log` logs for this run, kept out of the buffer and returned to the caller, who
   * writes them itself: a run's "run finished" goes with its end, written only if that call ends
   * the run (see RunStore.finishRun). Tees still see them.
   */
  captured(log: () => void): LogRecord[] {
    const buffered = this.#run.lines;
    this.#run.lines = [];
    try {
      log();
      return this.#run.lines;
    } finally {
      this.#run.lines = buffered;
    }
  }

  /** Writes the run's buffered lines to the store; called with each step's end and with the run's end. */
  async flush(): Promise<void> {
    if (!this.#run.lines.length) return;
    const lines = this.#run.lines;
    this.#run.lines = [];
    await this.store.appendLogs(lines);
  }

  /** Writes what is left; lines logged through this logger afterwards are not kept. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.flush();
    } finally {
      if (this.#tee) this.#run.tees.delete(this.#tee);
      if (--this.#run.holders === 0) open.delete(this.runId);
    }
  }
}
