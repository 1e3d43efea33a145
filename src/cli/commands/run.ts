import { parseParamArgs } from "../../pipeline/params.js";
import { loadProject } from "../../project/load-project.js";
import { runPipeline } from "../../runtime/run-pipeline.js";
import { ctrlC } from "../ctrl-c.js";
import { EXIT } from "../exit-codes.js";
import { PlainView } from "../view/plain-view.js";
import type { ProgressView } from "../view/progress-view.js";
import { outputsSection, writtenOutputs } from "../view/outputs-view.js";
import { resultSection, runHeadline, runJson, stepTable } from "../view/run-report.js";
import { validationSection } from "../view/validation-view.js";

export interface RunCommandOptions {
  param: string[];
  project?: string;
  json?: boolean;
  concurrency?: number;
  resume?: string;
  verbose?: boolean;
  progress?: "auto" | "live" | "plain" | "none";
}

async function chooseView(options: RunCommandOptions): Promise<ProgressView | undefined> {
  const mode = options.progress ?? "auto";
  if (mode === "none" || (mode === "auto" && options.json)) return undefined;
  const live = mode === "live" || (mode === "auto" && process.stderr.isTTY && !process.env.CI);
  if (!live) return new PlainView((line) => process.stderr.write(`${line}\n`));
  const { TtyView } = await import("../view/tty-view.js"); // log-update is slow to load; TTY only
  return new TtyView();
}

/** `strata run <pipeline>`: params are checked before anything runs; exit 0 on success, 1 on failure. */
export async function runCommand(name: string, options: RunCommandOptions): Promise<number> {
  const project = await loadProject(options.project);
  const pipeline = project.pipeline(name);
  const params = parseParamArgs(options.param, pipeline.params);
  // Steps see paths relative to the project folder, wherever the command was started.
  const startedIn = process.cwd();
  process.chdir(project.dir);
  const workspace = project.openWorkspace();
  const view = await chooseView(options);
  const cancel = new AbortController();
  let runId: string | undefined;
  const onSigint = ctrlC(workspace.store, () => (runId ? [runId] : []), cancel, "cancelling the run");
  process.on("SIGINT", onSigint);
  try {
    const result = await runPipeline(pipeline, {
      params,
      workspace,
      signal: cancel.signal,
      ...(project.config.interpreters ? { interpreters: project.config.interpreters } : {}),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(options.resume ? { resume: options.resume } : {}),
      onEvent: (e) => {
        if (e.type === "run-started") runId = e.run.id;
        view?.onEvent(e);
      },
      ...(options.verbose ? { logTee: (line: string) => process.stderr.write(line), logLevel: "debug" as const } : {}),
    });
    view?.stop();
    const steps = await workspace.store.getSteps(result.id);
    const outputs = await writtenOutputs(await workspace.catalog.versionsOfRun(result.id), workspace.storages);
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ ...runJson(result, steps, result.validations), outputs }, null, 2)}\n`);
    } else {
      const lines = [runHeadline(result, steps), "", stepTable(steps), ""];
      // Record counts of each ingestion, and expectations that did not pass.
      const validation = validationSection(result.validations);
      if (validation.length) lines.push(...validation, "");
      // Every dataset version the run wrote, and where it is.
      const written = outputsSection(outputs, startedIn);
      if (written.length) lines.push(...written, "");
      // The pipeline's results: outputs of its final steps, shown whole when they are small
      // (a step that wrote a dataset is already under "outputs:").
      const writesDataset = new Set(pipeline.steps.filter((s) => s.dataset).map((s) => s.name));
      for (const step of steps) {
        const final = !pipeline.dag.downstream.get(step.step)?.length;
        if (!final || writesDataset.has(step.step) || step.output?.kind !== "json" || step.output.json.length > 2000) continue;
        lines.push(...resultSection(step.step, JSON.parse(step.output.json) as unknown), "");
      }
      if (result.error) lines.push(`error ${result.error.code}: ${result.error.message}`);
      lines.push(`details: strata runs show ${result.id}    logs: strata runs logs ${result.id}`);
      if (result.status === "failed") lines.push(`after a fix: strata run ${pipeline.name} --resume ${result.id}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    }
    return result.status === "succeeded" ? EXIT.OK : result.status === "cancelled" ? EXIT.INTERRUPTED : EXIT.FAILED;
  } finally {
    view?.stop();
    process.off("SIGINT", onSigint);
    await workspace.close();
  }
}
