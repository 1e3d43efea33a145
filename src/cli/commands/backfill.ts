import { StrataError } from "../../errors/strata-error.js";
import { parseParamArgs } from "../../pipeline/params.js";
import { loadProject } from "../../project/load-project.js";
import {
  backfillParallelism,
  checkParallel,
  planBackfill,
  runBackfill,
  type BackfillBy,
  type BackfillPlan,
  type BackfillResult,
  type PlannedDate,
} from "../../schedule/backfill.js";
import { ctrlC } from "../ctrl-c.js";
import { EXIT } from "../exit-codes.js";
import { formatDuration, statusSymbol, table } from "../format.js";

export interface BackfillCommandOptions {
  from: string;
  to: string;
  by: BackfillBy;
  schedule?: number;
  /** `name=value`: a param of every run; a bare `name`: the param that takes the date. */
  param: string[];
  parallel: string;
  force?: boolean;
  dryRun?: boolean;
  project?: string;
  json?: boolean;
}

/** How many dates a line of text names before "and N more". */
const LISTED = 10;

function dateList(dates: readonly PlannedDate[]): string {
  const shown = dates.slice(0, LISTED).map((d) => (d.previous ? `${d.date} (${d.previous.id})` : d.date));
  return dates.length > LISTED ? `${shown.join(", ")} and ${dates.length - LISTED} more` : shown.join(", ");
}

function headline(plan: BackfillPlan, from: string, to: string, parallel: number): string {
  const by = plan.by === "day" ? "by day" : `by schedule (${plan.timezone})`;
  const count = `${plan.planned.length} date${plan.planned.length === 1 ? "" : "s"}`;
  return `backfill ${plan.pipeline}: ${count} ${by} from ${from} to ${to}, param ${plan.param}, ${parallel} at once`;
}

function skippedLines(plan: BackfillPlan): string[] {
  const done = plan.planned.filter((d) => d.action === "done");
  const running = plan.planned.filter((d) => d.action === "running");
  const lines: string[] = [];
  if (done.length) lines.push(`${done.length} already succeeded, skipped (--force reruns them): ${dateList(done)}`);
  if (running.length) lines.push(`${running.length} running in another process, skipped: ${dateList(running)}`);
  return lines;
}

function resultLine(result: BackfillResult, index: number, total: number): string {
  const width = String(total).length;
  const error = result.error && result.status !== "succeeded" ? `  ${result.error.code}: ${result.error.message.split("\n")[0]}` : "";
  return [
    `[${String(index).padStart(width)}/${total}]`,
    statusSymbol(result.status),
    result.date.date,
    result.status.padEnd(9),
    result.runId ?? "-",
    `${formatDuration(result.durationMs)}${error}`,
  ].join("  ");
}

function dryRun(plan: BackfillPlan, options: BackfillCommandOptions, parallel: number): number {
  if (options.json) {
    const dates = plan.planned.map((d) => ({
      date: d.date,
      triggerId: d.triggerId,
      action: d.action,
      previousRunId: d.previous?.id ?? null,
      params: d.params,
    }));
    const { pipeline, by, param, timezone } = plan;
    process.stdout.write(`${JSON.stringify({ dryRun: true, pipeline, by, param, timezone, parallel, dates }, null, 2)}\n`);
    return EXIT.OK;
  }
  const rows = plan.planned.map((d) => [
    d.date,
    d.action === "run" ? "run" : "skip",
    d.action === "done"
      ? `succeeded in ${d.previous!.id}`
      : d.action === "running"
        ? `running as ${d.previous!.id}`
        : JSON.stringify(d.params),
  ]);
  const lines = [
    `${headline(plan, options.from, options.to, parallel)} (dry run: nothing runs)`,
    "",
    table(["date", "action", "params / earlier run"], rows),
    "",
    `${plan.toRun.length} to run, ${plan.planned.length - plan.toRun.length} skipped${plan.planned.some((d) => d.action === "done") ? " (--force reruns the succeeded ones)" : ""}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return EXIT.OK;
}

/** `--param day` names the date param; `--param k=v` sets a param of every run. */
function splitParams(args: readonly string[]): { dateParam: string | undefined; fixed: string[] } {
  const names = args.filter((a) => !a.includes("="));
  if (names.length > 1)
    throw new StrataError("BACKFILL_INVALID", `one param takes the date; --param names ${names.map((n) => `"${n}"`).join(", ")}`, {
      details: { params: names },
    });
  return { dateParam: names[0], fixed: args.filter((a) => a.includes("=")) };
}

/**
 * `strata backfill <pipeline> --from <date> --to <date>`: one run per date (per day, or per fire
 * time of the pipeline's schedule), `--parallel` at once, in this process. Exit 0 when every run
 * succeeded, 1 when one failed, 2 on bad input (nothing ran), 130 when interrupted.
 */
export async function backfillCommand(name: string, options: BackfillCommandOptions): Promise<number> {
  const requested = checkParallel(Number(options.parallel));
  const project = await loadProject(options.project);
  const pipeline = project.pipeline(name);
  const { dateParam, fixed } = splitParams(options.param);
  const params = parseParamArgs(fixed, pipeline.params);
  const parallel = backfillParallelism(pipeline, requested);
  // Steps see paths relative to the project folder, wherever the command was started.
  process.chdir(project.dir);
  const workspace = project.openWorkspace();
  const cancel = new AbortController();
  const inFlight = new Set<string>();
  const onSigint = ctrlC(workspace.store, () => inFlight, cancel, "cancelling the backfill: runs in flight stop, no more start");
  try {
    const plan = await planBackfill(pipeline, workspace, {
      from: options.from,
      to: options.to,
      by: options.by,
      params,
      ...(options.schedule !== undefined ? { schedule: options.schedule } : {}),
      ...(dateParam !== undefined ? { param: dateParam } : {}),
      ...(options.force ? { force: true } : {}),
    });
    if (options.dryRun) return dryRun(plan, options, parallel);

    const out = (line: string): void => {
      if (!options.json) process.stdout.write(`${line}\n`);
    };
    out(headline(plan, options.from, options.to, parallel));
    if (parallel < requested) out(`pipeline ${pipeline.name} runs one at a time (overlap: ${pipeline.overlap}), so dates run one by one`);
    for (const line of skippedLines(plan)) out(line);
    if (!plan.toRun.length) out("nothing to run");
    process.on("SIGINT", onSigint);
    const startedAt = Date.now();
    let finished = 0;
    const outcome = await runBackfill(pipeline, plan.toRun, {
      workspace,
      parallel,
      signal: cancel.signal,
      ...(project.config.interpreters ? { interpreters: project.config.interpreters } : {}),
      onStart: (_date, runId) => inFlight.add(runId),
      onResult: (result) => {
        if (result.runId) inFlight.delete(result.runId);
        out(resultLine(result, ++finished, plan.toRun.length));
      },
    });
    const { results, notStarted } = outcome;
    const count = (status: string): number => results.filter((r) => r.status === status).length;
    const failed = results.filter((r) => r.status === "failed");
    const status = cancel.signal.aborted ? "cancelled" : failed.length ? "failed" : "succeeded";
    const skipped = plan.planned.length - plan.toRun.length;
    if (options.json) {
      const { pipeline: p, by, param, timezone } = plan;
      const json = {
        pipeline: p,
        by,
        param,
        timezone,
        parallel,
        status,
        results: results.map((r) => ({ ...r, date: r.date.date, triggerId: r.date.triggerId })),
        skipped: plan.planned
          .filter((d) => d.action !== "run")
          .map((d) => ({ date: d.date, reason: d.action, runId: d.previous?.id ?? null })),
        notStarted: notStarted.map((d) => d.date),
      };
      process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    } else if (plan.toRun.length) {
      const parts = [`${count("succeeded")} succeeded`, `${failed.length} failed`];
      if (count("cancelled")) parts.push(`${count("cancelled")} cancelled`);
      if (notStarted.length) parts.push(`${notStarted.length} not started`);
      if (skipped) parts.push(`${skipped} skipped`);
      out("");
      out(`${plan.planned.length} dates: ${parts.join(", ")} · ${formatDuration(Date.now() - startedAt)}`);
      if (failed.length) {
        out(`failed: ${failed.map((r) => `${r.date.date} (${r.runId ?? "not recorded"})`).join(", ")}`);
        out(`details: strata runs show <run-id>    after a fix, the same command reruns only the dates that did not succeed`);
      }
    }
    return status === "cancelled" ? EXIT.INTERRUPTED : status === "failed" ? EXIT.FAILED : EXIT.OK;
  } finally {
    process.off("SIGINT", onSigint);
    await workspace.close();
  }
}
