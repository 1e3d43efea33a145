import { downstreamOf, type Dag } from "../pipeline/dag.js";
import type { StepStatus } from "../storage/run-store.js";

export interface ScheduleHooks {
  /** Runs a step to its end; resolves true when it succeeded. Must not reject for a step failure. */
  run(name: string): Promise<boolean>;
  /** Records a step that will not run, and why. */
  skip(name: string, reason: string): Promise<void>;
}

/**
 * Starts each step once all it waits for have succeeded (or were reused), with at most `limit`
 * running. A failed step's dependents are skipped; independent branches go on. Once `signal`
 * aborts, nothing new starts and what never ran is skipped. Resolves after every record is written.
 */
export async function schedule(
  dag: Dag,
  limit: number,
  status: Map<string, StepStatus>,
  hooks: ScheduleHooks,
  signal: AbortSignal,
): Promise<void> {
  const waiting = new Map<string, number>();
  const ready: string[] = [];
  for (const step of dag.steps) {
    if (status.has(step.name)) continue; // reused from an earlier run
    const pending = (dag.upstream.get(step.name) ?? []).filter((dep) => status.get(dep) !== "reused").length;
    waiting.set(step.name, pending);
    if (pending === 0) ready.push(step.name);
  }

  const skipAll = async (names: Iterable<string>, reason: string): Promise<void> => {
    for (const name of names) {
      if (status.has(name)) continue;
      status.set(name, "skipped");
      await hooks.skip(name, reason);
    }
  };

  const running = new Map<string, Promise<void>>();
  // An error of Strata's own (a store write failing), not a step's: stop starting steps, let the
  // running ones settle, then throw it.
  let fatal: { error: unknown } | undefined;
  const start = (name: string): void => {
    status.set(name, "running");
    const done = hooks.run(name).then(async (ok) => {
      status.set(name, ok ? "succeeded" : "failed");
      if (ok) {
        for (const next of dag.downstream.get(name) ?? []) {
          const left = waiting.get(next)! - 1;
          waiting.set(next, left);
          if (left === 0) ready.push(next);
        }
      } else {
        await skipAll(downstreamOf(dag, [name]), signal.aborted ? "the run was cancelled" : `upstream step "${name}" failed`);
      }
    });
    running.set(
      name,
      done
        .catch((error: unknown) => {
          fatal ??= { error };
        })
        .finally(() => running.delete(name)), // last, so the loop sees this step's records written
    );
  };

  const cap = Number.isFinite(limit) && limit >= 1 ? Math.floor(limit) : 1; // 0, negative or NaN: one at a time
  let head = 0;
  for (;;) {
    while (!fatal && !signal.aborted && running.size < cap && head < ready.length) {
      const name = ready[head++]!;
      if (!status.has(name)) start(name);
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  if (fatal) throw fatal.error;
  await skipAll(waiting.keys(), "the run was cancelled");
}
