import { StrataError } from "../../errors/strata-error.js";
import type { DatasetRef } from "../../pipeline/dataset.js";
import { declaredDatasets, stepExpectations } from "../../project/declared-datasets.js";
import { validateDataset } from "../../runtime/validate-dataset.js";
import { EXIT } from "../exit-codes.js";
import { table } from "../format.js";
import { withProject } from "../with-project.js";
import {
  contentOf,
  countsText,
  expectationTable,
  expectationTally,
  reasonLabel,
  reasonTable,
  reportSubject,
  sourceOf,
} from "../view/validation-view.js";

export interface ValidateOptions {
  project?: string;
  json?: boolean;
}

/** The declared dataset, else DATASET_NOT_FOUND naming the ones that are. */
export function findDataset(datasets: ReadonlyMap<string, DatasetRef<unknown>>, name: string): DatasetRef<unknown> {
  const ds = datasets.get(name);
  if (!ds)
    throw new StrataError(
      "DATASET_NOT_FOUND",
      `no dataset "${name}" is declared by this project's pipelines (declared: ${[...datasets.keys()].sort().join(", ") || "none"})`,
      { details: { dataset: name, declared: [...datasets.keys()].sort() } },
    );
  return ds;
}

/**
 * `strata validate <dataset>`: runs a dataset's checks now and changes nothing. Raw files: every
 * record is read and checked (counts, reasons, a few rejects). A table: its expectations run on
 * its live version. Exit 0 when everything passed, 1 when not.
 */
export function validateCommand(name: string, options: ValidateOptions): Promise<number> {
  return withProject(options, async (project, workspace) => {
    const pipelines = [...project.pipelines.values()].map((p) => p.pipeline);
    const datasets = declaredDatasets(pipelines);
    const ds = findDataset(datasets, name);
    // What a run checks on it: its own expectations, and those expect() declares on the steps writing it.
    const result = await validateDataset(workspace, ds, datasets, { expectations: stepExpectations(pipelines, name) });
    if (options.json) {
      process.stdout.write(
        `${JSON.stringify({ dataset: name, passed: result.passed, reports: result.reports, examples: result.examples }, null, 2)}\n`,
      );
      return result.passed ? EXIT.OK : EXIT.FAILED;
    }
    const out: string[] = [];
    for (const report of result.reports) {
      if (out.length) out.push("");
      if (report.kind === "records") {
        const counts = report.counts ?? { read: 0, clean: 0, quarantined: 0 };
        out.push(`${report.dataset}: ${countsText(counts)} (nothing is written)`);
        if (report.checkerVersion) out.push(`checker ${report.checkerVersion}`);
        if (report.reasons.length) out.push("", reasonTable(report.reasons));
        if (result.examples.length) {
          out.push(
            "",
            counts.quarantined > result.examples.length
              ? `first ${result.examples.length} of ${counts.quarantined} rejects:`
              : `${result.examples.length === 1 ? "the reject" : "the rejects"}:`,
          );
          out.push(
            table(
              ["where", "reasons", "record"],
              result.examples.map((e) => [sourceOf(e), e.reasons.map((r) => `${reasonLabel(r)}: ${r.message}`).join("; "), contentOf(e)]),
            )
              .split("\n")
              .map((l) => `  ${l}`)
              .join("\n"),
          );
        }
      } else {
        out.push(`${reportSubject(report)}: ${expectationTally(report.results)}`, "", expectationTable(report.results));
      }
    }
    const problems = result.reports.flatMap((r) =>
      r.passed
        ? []
        : r.kind === "records"
          ? [`${r.counts?.quarantined ?? 0} of ${r.counts?.read ?? 0} records would be quarantined`]
          : [`${r.results.filter((x) => !x.passed && x.severity === "fail").length} expectation(s) failed on ${reportSubject(r)}`],
    );
    const warned = result.reports.flatMap((r) => r.results).filter((r) => !r.passed && r.severity !== "fail").length;
    out.push(
      "",
      problems.length
        ? `✗ ${name} does not pass: ${problems.join("; ")}`
        : `✓ ${name} passes its checks${warned ? ` (${warned} warning${warned === 1 ? "" : "s"})` : ""}`,
    );
    process.stdout.write(`${out.join("\n")}\n`);
    return result.passed ? EXIT.OK : EXIT.FAILED;
  });
}
