import { isStrataError, StrataError } from "../../errors/strata-error.js";
import { declaredDatasets } from "../../project/declared-datasets.js";
import type { LoadedProject } from "../../project/load-project.js";
import { replayQuarantine } from "../../runtime/replay.js";
import type { Workspace } from "../../runtime/workspace.js";
import type { QuarantineFilter, QuarantineStatus, QuarantineStore } from "../../storage/quarantine-store.js";
import { reportError } from "../errors.js";
import { EXIT } from "../exit-codes.js";
import { table } from "../format.js";
import {
  contentOf,
  fixesText,
  messageFor,
  reasonLabel,
  reasonSubject,
  reasonTable,
  recordDetails,
  sourceOf,
} from "../view/validation-view.js";
import { findDataset } from "./validate.js";
import { withProject } from "../with-project.js";

interface Common {
  project?: string;
  json?: boolean;
}

export type QuarantineListOptions = Common & {
  reason?: string;
  status?: QuarantineStatus;
  run?: string;
  records?: boolean;
  limit?: number;
};

/** One `--fix column=value`; `column=` gives null. */
export interface Fix {
  readonly column: string;
  readonly value: string | null;
}

export type AnnotateOptions = Common & { note?: string; fix: Fix[] };

export type ReplayCommandOptions = Common & { reason?: string; all?: boolean; dryRun?: boolean };

const STATUSES: readonly QuarantineStatus[] = ["new", "annotated", "replayed"];

const datasetsOf = (project: LoadedProject): ReturnType<typeof declaredDatasets> =>
  declaredDatasets([...project.pipelines.values()].map((p) => p.pipeline));

/** A mistake in the arguments that only shows once the project is loaded: printed like commander's own, exit 2. */
function usage(message: string, json: boolean | undefined, details: Record<string, unknown> = {}): number {
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: "USAGE", message, details } })}\n`);
  else process.stderr.write(`error: ${message}\n`);
  return EXIT.USAGE;
}

/** Ids that do not exist are bad input, like an unknown run id: exit 2. */
async function unknownIdsAreUsage(json: boolean | undefined, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (error) {
    if (!isStrataError(error) || error.code !== "QUARANTINE_NOT_FOUND") throw error;
    reportError(error, json ?? false);
    return EXIT.USAGE;
  }
}

function write(json: boolean | undefined, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

function indent(text: string, by = "  "): string {
  return text
    .split("\n")
    .map((l) => (l ? by + l : l))
    .join("\n");
}

async function filterOf(workspace: Workspace, options: QuarantineListOptions): Promise<QuarantineFilter> {
  return {
    ...(options.reason ? { reason: options.reason } : {}),
    ...(options.status ? { status: options.status } : {}),
    // A unique prefix is enough, as for `strata runs show`.
    ...(options.run ? { runId: (await workspace.store.getRun(options.run)).id } : {}),
  };
}

function describeFilter(filter: QuarantineFilter): string {
  return [filter.reason && `reason ${filter.reason}`, filter.status && `status ${filter.status}`, filter.runId && `run ${filter.runId}`]
    .filter(Boolean)
    .join(", ");
}

type StatusCounts = { total: number } & Record<QuarantineStatus, number>;

async function statusCounts(store: QuarantineStore, dataset: string, filter: QuarantineFilter): Promise<StatusCounts> {
  const counts: StatusCounts = { total: 0, new: 0, annotated: 0, replayed: 0 };
  for (const status of STATUSES) {
    if (filter.status && filter.status !== status) continue;
    counts[status] = await store.count(dataset, { ...filter, status });
    counts.total += counts[status];
  }
  return counts;
}

const countsText = (c: StatusCounts): string =>
  STATUSES.filter((s) => c[s] > 0)
    .map((s) => `${c[s]} ${s}`)
    .join(", ");

async function targetOf(store: QuarantineStore, dataset: string): Promise<string | null> {
  return (await store.list(dataset, { limit: 1 }))[0]?.target ?? null;
}

/** `strata quarantine list [dataset]`: per dataset counts; for one dataset, its rejects by reason with examples, or `--records`. */
export function quarantineListCommand(dataset: string | undefined, options: QuarantineListOptions): Promise<number> {
  return withProject(options, async (project, workspace) => {
    const store = await workspace.quarantine();
    const filter = await filterOf(workspace, options);
    const filtered = describeFilter(filter);
    const withRejects = await store.datasets();

    if (dataset === undefined) {
      const rows: ({ dataset: string; target: string | null } & StatusCounts)[] = [];
      for (const d of withRejects) {
        const counts = Object.keys(filter).length
          ? await statusCounts(store, d.dataset, filter)
          : { total: d.total, new: d.new, annotated: d.annotated, replayed: d.replayed };
        if (counts.total) rows.push({ dataset: d.dataset, target: await targetOf(store, d.dataset), ...counts });
      }
      write(options.json, rows, () =>
        rows.length
          ? [
              table(
                ["dataset", "into", "total", "new", "annotated", "replayed"],
                rows.map((r) => [r.dataset, r.target ?? "-", String(r.total), String(r.new), String(r.annotated), String(r.replayed)]),
              ),
              "",
              `rejects of one dataset by reason: strata quarantine list ${rows[0]!.dataset}`,
            ].join("\n")
          : filtered
            ? `no quarantined records with ${filtered}`
            : "the quarantine is empty: records that a dataset with `quarantine: true` rejects are kept here",
      );
      return EXIT.OK;
    }

    const declared = datasetsOf(project);
    if (!declared.has(dataset) && !withRejects.some((d) => d.dataset === dataset)) {
      const known = [...new Set([...declared.keys(), ...withRejects.map((d) => d.dataset)])].sort();
      throw new StrataError("DATASET_NOT_FOUND", `no dataset "${dataset}" (datasets: ${known.join(", ") || "none"})`, {
        details: { dataset, declared: known },
      });
    }
    const none = `no quarantined records for ${dataset}${filtered ? ` with ${filtered}` : ""}`;

    if (options.records) {
      const limit = options.limit ?? 50;
      const total = await store.count(dataset, filter);
      const records = await store.list(dataset, { ...filter, limit });
      write(options.json, { dataset, total, records }, () => {
        if (!records.length) return none;
        const lines = [
          table(
            ["id", "status", "where", "reasons", "note"],
            records.map((r) => [
              String(r.id),
              r.status,
              sourceOf(r),
              r.reasons.map(reasonLabel).join(", "),
              [r.note ?? "", fixesText(r.fixes) && `fix ${fixesText(r.fixes)}`].filter(Boolean).join(" · "),
            ]),
          ),
        ];
        if (total > records.length) lines.push("", `${records.length} of ${total} shown (--limit for more)`);
        return lines.join("\n");
      });
      return EXIT.OK;
    }

    const counts = await statusCounts(store, dataset, filter);
    const groups = await store.reasons(dataset, filter);
    const exampleIds = [...new Set(groups.flatMap((g) => g.exampleIds.slice(0, 2)))];
    const examples = new Map((exampleIds.length ? await store.get(exampleIds) : []).map((r) => [r.id, r]));
    const target = await targetOf(store, dataset);
    write(
      options.json,
      {
        dataset,
        target,
        counts,
        groups: groups.map((g) => ({ ...g, examples: g.exampleIds.slice(0, 2).map((id) => examples.get(id)) })),
      },
      () => {
        if (!counts.total) return none;
        const out = [
          `${dataset}: ${counts.total} quarantined record${counts.total === 1 ? "" : "s"}${filtered ? ` with ${filtered}` : ""} (${countsText(counts)})${
            target ? `; those that pass a replay go into ${target}` : ""
          }`,
          "",
          table(
            ["reason", "column / rule", "count", "example ids"],
            groups.map((g) => [g.code, reasonSubject(g), String(g.count), g.exampleIds.join(", ")]),
          ),
        ];
        for (const g of groups) {
          out.push("", `${reasonLabel(g)} (${g.count}):`);
          for (const id of g.exampleIds.slice(0, 2)) {
            const r = examples.get(id);
            if (!r) continue;
            out.push(`  #${r.id}  ${sourceOf(r)}  ${r.status}  ${messageFor(r, g)}`, `      ${contentOf(r)}`);
          }
        }
        const first = groups[0]?.exampleIds[0] ?? 1;
        out.push(
          "",
          "next:",
          indent(
            table(
              ["", ""],
              [
                [`strata quarantine show ${first}`, "a record in full"],
                [`strata quarantine annotate ${first} --note "..." --fix column=value`, "say why, fix values (column= for null)"],
                [`strata quarantine replay ${dataset} --dry-run`, "what would pass now, changing nothing"],
              ],
            )
              .split("\n")
              .slice(1)
              .join("\n"),
          ),
        );
        return out.join("\n");
      },
    );
    return EXIT.OK;
  });
}

/** `strata quarantine show <ids...>`: each record in full. */
export function quarantineShowCommand(ids: readonly number[], options: Common): Promise<number> {
  return unknownIdsAreUsage(options.json, () =>
    withProject(options, async (_project, workspace) => {
      const found = new Map((await (await workspace.quarantine()).get(ids)).map((r) => [r.id, r]));
      const records = [...new Set(ids)].map((id) => found.get(id)!);
      write(options.json, records, () => records.map(recordDetails).join("\n\n"));
      return EXIT.OK;
    }),
  );
}

/**
 * `strata quarantine annotate <ids...> --note "..." --fix column=value`: a note, and values a
 * replay uses instead of the ones read. Fixes add to earlier ones; replayed records are left as they are.
 */
export function quarantineAnnotateCommand(ids: readonly number[], options: AnnotateOptions): Promise<number> {
  return unknownIdsAreUsage(options.json, () =>
    withProject(options, async (project, workspace) => {
      if (options.note === undefined && !options.fix.length) return usage("give --note, --fix or both", options.json);
      const store = await workspace.quarantine();
      const records = await store.get(ids);
      const declared = datasetsOf(project);
      if (options.fix.length) {
        for (const dataset of new Set(records.map((r) => r.dataset))) {
          const ds = declared.get(dataset);
          if (!ds)
            return usage(
              `--fix: the records' dataset "${dataset}" is not declared by this project, so its columns are not known`,
              options.json,
              {
                dataset,
              },
            );
          const columns = Object.keys(ds.columns);
          const unknown = options.fix.find((f) => !columns.includes(f.column));
          if (unknown)
            return usage(
              `--fix ${unknown.column}=...: "${unknown.column}" is not a column of ${dataset} (columns: ${columns.join(", ")})`,
              options.json,
              {
                field: unknown.column,
                dataset,
                columns,
              },
            );
        }
      }
      const given = options.fix.length ? Object.fromEntries(options.fix.map((f) => [f.column, f.value])) : null;
      const at = Date.now();
      const annotated: number[] = [];
      const skipped: number[] = [];
      for (const record of records) {
        if (record.status === "replayed") {
          skipped.push(record.id);
          continue;
        }
        const fixes = given ? { ...(record.fixes ?? {}), ...given } : null;
        if (await store.annotate([record.id], { note: options.note ?? null, fixes, at })) annotated.push(record.id);
        else skipped.push(record.id);
      }
      const datasets = [...new Set(records.filter((r) => annotated.includes(r.id)).map((r) => r.dataset))];
      write(options.json, { annotated: annotated.length, ids: annotated, skipped, note: options.note ?? null, fixes: given }, () => {
        const lines = [
          `annotated ${annotated.length} record${annotated.length === 1 ? "" : "s"}${annotated.length ? ` (${annotated.map((id) => `#${id}`).join(", ")})` : ""}${
            options.note !== undefined ? `: note ${JSON.stringify(options.note)}` : ""
          }${given ? `${options.note !== undefined ? "," : ":"} fix ${fixesText(given)}` : ""}`,
        ];
        const unsplit = given ? records.filter((r) => annotated.includes(r.id) && r.values === null).map((r) => `#${r.id}`) : [];
        if (unsplit.length)
          lines.push(
            `note: ${unsplit.join(", ")} could not be split into values (only the raw line was kept), so a replay cannot use fixes for them`,
          );
        if (skipped.length)
          lines.push(`${skipped.length} already replayed, left as they are (${skipped.map((id) => `#${id}`).join(", ")})`);
        for (const d of datasets) lines.push(`check what would pass now: strata quarantine replay ${d} --dry-run`);
        return lines.join("\n");
      });
      return EXIT.OK;
    }),
  );
}

/**
 * `strata quarantine replay <dataset>`: re-checks rejects with the current checks (and their
 * fixes); those that pass go into the clean dataset as a new version, recorded as a run.
 * `--dry-run` re-checks the same records and changes nothing.
 */
export function quarantineReplayCommand(dataset: string, options: ReplayCommandOptions): Promise<number> {
  return withProject(options, async (project, workspace) => {
    const datasets = datasetsOf(project);
    const ds = findDataset(datasets, dataset);
    const dryRun = options.dryRun ?? false;
    const result = await replayQuarantine(workspace, ds, datasets, {
      ...(options.reason ? { reason: options.reason } : {}),
      ...(options.all ? { all: true } : {}),
      // A dry run tries the current checker on every reject not yet replayed, and says how many
      // of those that pass are annotated (what a replay without --all moves).
      ...(dryRun ? { dryRun: true } : {}),
    });
    write(options.json, result, () => {
      const which = `${options.all || dryRun ? "rejects not yet replayed" : "annotated rejects"}${options.reason ? ` with reason ${options.reason}` : ""}`;
      if (!result.candidates)
        return [
          `no ${which} of ${dataset} to replay${dryRun ? " (dry run: nothing was changed)" : ""}`,
          options.all
            ? ""
            : "annotate some first (strata quarantine annotate <ids...> --note ... --fix column=value), or re-check every reject with --all",
        ]
          .filter(Boolean)
          .join("\n");
      const out = [
        `replay of ${dataset}${result.target ? ` into ${result.target}` : ""}${dryRun ? " — dry run: nothing was changed" : ""}`,
        `${which}: ${result.candidates} · ${dryRun ? "would pass" : "now passing"}: ${result.passed} · still failing: ${result.stillFailing}  (checker ${result.checkerVersion})`,
        "",
        "by original reason:",
        indent(
          table(
            ["reason", "column / rule", "count", dryRun ? "would pass" : "now passing"],
            result.byReason.map((r) => [r.code, reasonSubject(r), String(r.count), String(r.nowPassing)]),
          ),
        ),
      ];
      if (result.newReasons.length) out.push("", "still failing, because:", indent(reasonTable(result.newReasons)));
      out.push("");
      if (dryRun)
        out.push(
          result.passed
            ? `${result.annotatedPassing} of the ${result.passed} that would pass ${result.annotatedPassing === 1 ? "is" : "are"} annotated: \`replay\` moves those into ${result.target ?? "the clean dataset"} as a new version, \`replay --all\` all ${result.passed}`
            : "no record would pass: fix values with `strata quarantine annotate --fix`, or change the dataset's checks",
        );
      else if (result.version !== null)
        out.push(
          `replayed ${result.passed} record${result.passed === 1 ? "" : "s"} into ${result.target}: version ${result.version} is live (run ${result.runId})`,
          `see: strata dataset versions ${result.target}    strata runs show ${result.runId}`,
        );
      else out.push("no record passes: nothing was written");
      return out.join("\n");
    });
    return EXIT.OK;
  });
}
