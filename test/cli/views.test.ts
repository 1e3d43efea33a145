import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import type { RunEvent } from "../../src/runtime/events.js";
import type { RunRecord } from "../../src/storage/run-store.js";
import { PlainView } from "../../src/cli/view/plain-view.js";
import { TtyView } from "../../src/cli/view/tty-view.js";

const run: RunRecord = {
  id: "r0test",
  pipeline: "demo",
  status: "running",
  trigger: { kind: "manual", id: "t0" },
  params: {},
  inputParams: {},
  owner: null,
  resumedFrom: null,
  startedAt: 0,
  endedAt: null,
  error: null,
};

const events: RunEvent[] = [
  { type: "run-started", run, steps: ["load", "fit", "score"] },
  { type: "step-started", step: "load", attempt: 1, at: 0 },
  { type: "step-succeeded", step: "load", attempt: 1, durationMs: 12 },
  { type: "step-started", step: "fit", attempt: 1, at: 0 },
  { type: "step-retry", step: "fit", attempt: 1, delayMs: 1000, error: { code: "STEP_FAILED", message: "boom" } },
  { type: "step-started", step: "fit", attempt: 2, at: 0 },
  { type: "step-failed", step: "fit", attempt: 2, error: { code: "STEP_TIMEOUT", message: "too slow" } },
  { type: "step-skipped", step: "score", reason: 'upstream step "fit" failed' },
  { type: "run-finished", run: { ...run, status: "failed", endedAt: 10 } },
];

describe("progress views", () => {
  it("plain view writes one line per event, with retries and failures spelled out", () => {
    const lines: string[] = [];
    const view = new PlainView(
      (l) => lines.push(l),
      () => 0,
    );
    for (const e of events) view.onEvent(e);
    expect(lines).toHaveLength(events.length);
    expect(lines[0]).toContain("run r0test of demo started (3 steps)");
    expect(lines[4]).toContain("fit attempt 1 failed (STEP_FAILED: boom); retrying in 1.00s");
    expect(lines[5]).toContain("fit started (attempt 2)");
    expect(lines[6]).toContain("fit failed after 2 attempt(s): STEP_TIMEOUT: too slow");
    expect(lines[7]).toContain('score skipped: upstream step "fit" failed');
  });

  it("live view draws every step with its state and a tally, and stops once", () => {
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 100, rows: 40 }) as unknown as NodeJS.WriteStream;
    let out = "";
    (stream as unknown as PassThrough).on("data", (d: Buffer) => (out += d.toString()));
    const view = new TtyView(stream);
    for (const e of events) view.onEvent(e);
    view.stop();
    const drawn = out.length;
    view.stop();
    expect(out.length).toBe(drawn);
    expect(out).toContain("run r0test · demo");
    expect(out).toMatch(/✔ load 12ms/);
    expect(out).toMatch(/✖ fit \(attempt 2\).*STEP_TIMEOUT: too slow/);
    expect(out).toMatch(/○ score/);
    expect(out).toMatch(/1 succeeded {2}✖ 1 failed {2}○ 1 skipped/);
  });
});
