import { describeParams } from "../../pipeline/param-docs.js";
import { isDataset } from "../../pipeline/dataset.js";
import { isParamRef, outputOf } from "../../pipeline/refs.js";
import { loadProject } from "../../project/load-project.js";
import { relative } from "node:path";
import { EXIT } from "../exit-codes.js";
import { table } from "../format.js";

/** `strata pipelines`: every pipeline of the project, its params and its steps with their inputs. */
export async function pipelinesCommand(options: { project?: string; json?: boolean }): Promise<number> {
  const project = await loadProject(options.project);
  const list = [...project.pipelines.values()].map(({ pipeline, file }) => ({
    name: pipeline.name,
    file: relative(project.dir, file),
    description: pipeline.description ?? null,
    params: describeParams(pipeline.params),
    steps: pipeline.steps.map((s) => ({
      name: s.name,
      kind: s.kind,
      output: s.output,
      inputs: Object.fromEntries(
        Object.entries(s.inputs).map(([k, ref]) => [
          k,
          isParamRef(ref) ? `param:${ref.param}` : isDataset(ref) ? `dataset:${ref.name}` : outputOf(ref)!,
        ]),
      ),
      writes: s.dataset ? `dataset:${s.dataset.name} (${s.dataset.options.storage})` : null,
      after: s.after,
      retries: s.retry.maxAttempts - 1,
      timeoutMs: s.timeoutMs ?? null,
      description: s.description ?? null,
    })),
  }));
  if (options.json) {
    process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return EXIT.OK;
  }
  if (!list.length) {
    process.stdout.write(`no pipelines in ${project.dir} (add one under ${project.config.pipelines ?? "pipelines"}/)\n`);
    return EXIT.OK;
  }
  const out: string[] = [];
  for (const p of list) {
    out.push(`${p.name}  (${p.file}, ${p.steps.length} steps)${p.description ? `\n  ${p.description}` : ""}`);
    if (p.params.length) {
      out.push(
        table(
          ["  param", "type", "required", "default"],
          p.params.map((d) => [`  ${d.name}`, d.type, d.required ? "yes" : "no", d.default === undefined ? "" : JSON.stringify(d.default)]),
        ),
      );
    }
    out.push(
      table(
        ["  step", "kind", "inputs", "writes", "retries", "timeout"],
        p.steps.map((s) => [
          `  ${s.name}`,
          s.kind,
          [
            ...Object.entries(s.inputs).map(([k, v]) => (k === v || v === `dataset:${k}` ? v : `${k}=${v}`)),
            ...s.after.map((a) => `after:${a}`),
          ].join(", ") || "-",
          s.writes ?? "-",
          String(s.retries),
          s.timeoutMs === null ? "-" : `${s.timeoutMs}ms`,
        ]),
      ),
      "",
    );
  }
  process.stdout.write(`${out.join("\n")}`);
  return EXIT.OK;
}
