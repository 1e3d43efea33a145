import type { LevelWithSilent } from "pino";
import { openProject } from "../../project/load-project.js";
import { settleAbandoned } from "../../runtime/abandoned-runs.js";
import { NotFoundError } from "../../errors/errors.js";
import type { CatalogStore } from "../../storage/catalog-store.js";
import { nextBefore, type RunStatus, type RunStore } from "../../storage/run-store.js";
import type { Workspace } from "../../runtime/workspace.js";
import { EXIT } from "../exit-codes.js";
import { clockTime, formatDuration, formatTime, statusSymbol, table } from "../format.js";
import { runDetails, runHeadline, runJson, stepTable } from "../view/run-report.js";
import { validationSection } from "../view/validation-view.js";

interface Common {
  project?: string;
  json?: boolean;
}

async function withStore<T>(options: Common, fn: (store: RunStore, catalog: CatalogStore, workspace: Workspace) => Promise<T>): Promise<T> {
  const workspace = (await openProject(options.project)).openWorkspace();
  try {
    return await fn(workspace.store, workspace.catalog, workspace);
  } finally {
    await workspace.close();
  }
}

export type ListRunsOptions = Common & { pipeline?: string; status?: RunStatus; limit?: number; before?: string };

/** `strata runs list`: newest first. */
export function listRunsCommand(options: ListRunsOptions): Promise<number> {
  return withStore(options, async (store, _catalog, workspace) => {
    const listed = await store.listRuns({
      limit: options.limit ?? 20,
      ...(options.pipeline ? { pipeline: options.pipeline } : {}),
      ...(options.status ? { status: options.status } : {}),
      ...(options.before ? { before: options.before } : {}),
    });
    // A run whose process died shows as failed, not as running forever.
    const runs = await Promise.all(listed.map((r) => settleAbandoned(workspace, r, Date.now())));
    if (options.json) {
      process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
      return EXIT.OK;
    }
    if (!runs.length) {
      const filtered = [options.status, options.pipeline && `of ${options.pipeline}`].filter(Boolean).join(" ");
      process.stdout.write(filtered ? `no ${filtered} runs\n` : "no runs yet (start one with: strata run <pipeline>)\n");
      return EXIT.OK;
    }
    const rows = runs.map((r) => [
      statusSymbol(r.status),
      r.id,
      r.pipeline,
      r.status,
      `${r.trigger.kind}`,
      formatTime(r.startedAt),
      formatDuration(r.endedAt === null ? null : r.endedAt - r.startedAt),
      r.error ? r.error.code : "",
    ]);
    process.stdout.write(`${table(["", "run", "pipeline", "status", "trigger", "started", "took", "error"], rows)}\n`);
    const older = nextBefore(runs, options.limit ?? 20);
    if (older) process.stdout.write(`older runs: strata runs list --before ${older}\n`);
    return EXIT.OK;
  });
}

/** `strata runs show <id>`: the run, its steps, its validation reports and every failed attempt. */
export function showRunCommand(id: string, options: Common): Promise<number> {
  return withStore(options, async (store, catalog, workspace) => {
    const run = await settleAbandoned(workspace, await store.getRun(id), Date.now());
    const steps = await store.getSteps(run.id);
    const attempts = await store.getAttempts(run.id);
    const lineage = await catalog.lineageOfRun(run.id);
    const validations = await store.getValidations(run.id);
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ ...runJson(run, steps, validations), attempts, lineage }, null, 2)}\n`);
      return EXIT.OK;
    }
    const failed = attempts.filter((a) => a.error);
    const out = [runHeadline(run, steps), "", runDetails(run), "", stepTable(steps)];
    const validation = validationSection(validations);
    if (validation.length) out.push("", ...validation);
    if (failed.length) {
      out.push("", "failed attempts:");
      out.push(
        table(
          ["step", "attempt", "at", "error"],
          failed.map((a) => [a.step, String(a.attempt), formatTime(a.startedAt), `${a.error!.code}: ${a.error!.message}`]),
        ),
      );
    }
    if (lineage.length) {
      out.push("", "datasets:");
      out.push(
        table(
          ["step", "", "dataset", "version"],
          lineage.map((l) => [
            l.step,
            l.direction === "read" ? "read" : "wrote",
            l.dataset,
            l.version === 0 ? "(raw files)" : String(l.version),
          ]),
        ),
      );
    }
    process.stdout.write(`${out.join("\n")}\n`);
    return EXIT.OK;
  });
}

const LEVELS: Record<number, LevelWithSilent> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };
const STANDARD_KEYS = new Set(["level", "time", "pid", "hostname", "runId", "triggerId", "pipeline", "step", "attempt", "msg"]);

/** `strata runs logs <id> [--step s]`: readable lines, or the raw JSON lines with --json. */
export function runLogsCommand(id: string, options: Common & { step?: string }): Promise<number> {
  return withStore(options, async (store) => {
    const run = await store.getRun(id);
    if (options.step) {
      const names = (await store.getSteps(run.id)).map((s) => s.step);
      if (!names.includes(options.step)) {
        throw new NotFoundError("STEP_NOT_FOUND", `run ${run.id} has no step "${options.step}" (its steps: ${names.join(", ")})`, {
          details: { step: options.step },
        });
      }
    }
    const logs = await store.getLogs(run.id, options.step ? { step: options.step } : {});
    for (const log of logs) {
      if (options.json) {
        process.stdout.write(`${log.line}\n`);
        continue;
      }
      const entry = JSON.parse(log.line) as Record<string, unknown>;
      const extra = Object.fromEntries(Object.entries(entry).filter(([k]) => !STANDARD_KEYS.has(k)));
      const where = log.step ? `${log.step}#${log.attempt ?? "-"}` : "run";
      const level = (LEVELS[log.level] ?? String(log.level)).toUpperCase().padEnd(5);
      const tail = Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : "";
      process.stdout.write(`${clockTime(log.time)} ${level} [${where}] ${String(entry.msg ?? "")}${tail}\n`);
    }
    if (!logs.length && !options.json)
      process.stdout.write(
        options.step ? `no log lines for step "${options.step}" in run ${run.id}\n` : `no log lines for run ${run.id}\n`,
      );
    return EXIT.OK;
  });
}
