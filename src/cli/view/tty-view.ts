import { createLogUpdate } from "log-update";
import type { RunEvent } from "../../runtime/events.js";
import { formatDuration, statusSymbol } from "../format.js";
import type { ProgressView } from "./progress-view.js";

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/** Above this many steps the view shows counts and the active steps, not every step. */
const FULL_LIST_MAX = 24;

interface StepState {
  status: string;
  attempt: number;
  startedAt: number;
  durationMs?: number;
  note?: string;
}

/** A live per-step view, redrawn in place at most every 80 ms. */
export class TtyView implements ProgressView {
  readonly #render;
  readonly #steps = new Map<string, StepState>();
  #title = "";
  #frame = 0;
  #stopped = false;
  #timer: NodeJS.Timeout;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#render = createLogUpdate(stream);
    this.#timer = setInterval(() => this.#draw(), 80);
    this.#timer.unref();
  }

  onEvent(e: RunEvent): void {
    const now = Date.now();
    const state = "step" in e ? (this.#steps.get(e.step) ?? { status: "pending", attempt: 0, startedAt: now }) : undefined;
    switch (e.type) {
      case "run-started":
        this.#title = `run ${e.run.id} · ${e.run.pipeline}`;
        for (const s of e.steps) this.#steps.set(s, { status: "pending", attempt: 0, startedAt: now });
        break;
      case "step-started":
        Object.assign(state!, { status: "running", attempt: e.attempt, startedAt: now, note: undefined });
        break;
      case "step-succeeded":
        Object.assign(state!, { status: "succeeded", durationMs: e.durationMs });
        break;
      case "step-retry":
        Object.assign(state!, { status: "retrying", note: `${e.error.code}, retry in ${formatDuration(e.delayMs)}` });
        break;
      case "step-failed":
        Object.assign(state!, { status: "failed", note: `${e.error.code}: ${e.error.message}` });
        break;
      case "step-skipped":
        Object.assign(state!, { status: "skipped", note: e.reason });
        break;
      case "step-reused":
        Object.assign(state!, { status: "reused", note: `from ${e.from}` });
        break;
      default:
        break;
    }
    if (state && "step" in e) this.#steps.set(e.step, state);
  }

  #line(name: string, s: StepState): string {
    const symbol = s.status === "running" ? SPINNER[this.#frame % SPINNER.length]! : statusSymbol(s.status);
    const time =
      s.status === "running" ? formatDuration(Date.now() - s.startedAt) : s.durationMs !== undefined ? formatDuration(s.durationMs) : "";
    const attempt = s.attempt > 1 ? ` (attempt ${s.attempt})` : "";
    return `  ${symbol} ${name}${attempt} ${time}${s.note ? `  ${s.note}` : ""}`.trimEnd();
  }

  #draw(): void {
    this.#frame++;
    const entries = [...this.#steps];
    const counts = new Map<string, number>();
    for (const [, s] of entries) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
    const summary = [...counts].map(([status, n]) => `${statusSymbol(status)} ${n} ${status}`).join("  ");
    const shown =
      entries.length <= FULL_LIST_MAX
        ? entries
        : entries.filter(([, s]) => ["running", "retrying", "failed"].includes(s.status)).slice(0, FULL_LIST_MAX);
    this.#render([this.#title, ...shown.map(([name, s]) => this.#line(name, s)), `  ${summary}`].join("\n"));
  }

  stop(): void {
    if (this.#stopped) return; // called after the run and again on the way out
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#draw();
    this.#render.done();
  }
}
