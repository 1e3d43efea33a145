import { StrataError } from "../../errors/strata-error.js";
import { declaredDatasets } from "../../project/declared-datasets.js";
import { goLive } from "../../runtime/dataset-io.js";
import type { DatasetVersion } from "../../storage/catalog-store.js";
import { EXIT } from "../exit-codes.js";
import { formatTime, table } from "../format.js";
import { withProject } from "../with-project.js";

interface Common {
  project?: string;
  json?: boolean;
}

function versionTable(versions: readonly DatasetVersion[]): string {
  return table(
    ["", "version", "status", "rows", "partition", "written by", "at"],
    [...versions]
      .reverse()
      .map((v) => [
        v.live ? "●" : "",
        String(v.version),
        v.status,
        v.rows === null ? "-" : String(v.rows),
        v.partition ?? "",
        v.runId ? `${v.runId} (${v.step})` : "-",
        formatTime(v.finishedAt ?? v.createdAt),
      ]),
  );
}

/** `strata dataset list`: declared and written datasets with their storage and live version. */
export function listDatasetsCommand(options: Common): Promise<number> {
  return withProject(options, async (project, workspace) => {
    const declared = declaredDatasets([...project.pipelines.values()].map((p) => p.pipeline));
    const names = [...new Set([...declared.keys(), ...(await workspace.catalog.datasets())])].sort();
    const rows = await Promise.all(
      names.map(async (name) => {
        const live = await workspace.catalog.liveVersion(name);
        return {
          name,
          storage: declared.get(name)?.options.storage ?? live?.storage ?? null,
          live: live?.version ?? null,
          rows: live?.rows ?? null,
        };
      }),
    );
    if (options.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    else if (!rows.length) process.stdout.write("no datasets: declare one with dataset(name, { storage, schema }) in a pipeline\n");
    else
      process.stdout.write(
        `${table(
          ["dataset", "storage", "live version", "rows"],
          rows.map((r) => [r.name, r.storage ?? "-", r.live === null ? "-" : String(r.live), r.rows === null ? "-" : String(r.rows)]),
        )}\n`,
      );
    return EXIT.OK;
  });
}

async function versionsOf(
  workspace: { catalog: { versions(name: string): Promise<DatasetVersion[]> } },
  name: string,
  declared: boolean,
): Promise<DatasetVersion[]> {
  const versions = await workspace.catalog.versions(name);
  if (!versions.length && !declared)
    throw new StrataError("DATASET_NOT_FOUND", `no dataset "${name}" (see: strata dataset list)`, { details: { dataset: name } });
  return versions;
}

/** `strata dataset show <name>`: schema, keys, storage, versions and the runs that wrote them. */
export function showDatasetCommand(name: string, options: Common): Promise<number> {
  return withProject(options, async (project, workspace) => {
    const ds = declaredDatasets([...project.pipelines.values()].map((p) => p.pipeline)).get(name);
    const versions = await versionsOf(workspace, name, !!ds);
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ name, options: ds ? { ...ds.options, schema: ds.columns } : null, versions }, null, 2)}\n`);
      return EXIT.OK;
    }
    const out: string[] = [`dataset ${name}${ds?.options.description ? `: ${ds.options.description}` : ""}`];
    if (ds) {
      out.push(
        `storage ${ds.options.storage}${ds.options.key ? `, key ${ds.options.key}` : ""}${ds.options.partitionBy ? `, partitioned by ${ds.options.partitionBy}` : ""}, keeps ${ds.options.keep ?? 5} versions`,
        "",
        table(
          ["column", "type", "nullable", "constraints"],
          Object.entries(ds.columns).map(([c, spec]) => [
            c,
            spec.kind + (spec.format ? ` (${spec.format})` : ""),
            spec.nullable ? "yes" : "no",
            constraints(spec),
          ]),
        ),
      );
    } else out.push("(not declared by any pipeline of this project)");
    out.push("", versions.length ? versionTable(versions) : "no versions yet");
    process.stdout.write(`${out.join("\n")}\n`);
    return EXIT.OK;
  });
}

function constraints(spec: { min?: number; max?: number; oneOf?: readonly unknown[]; pattern?: string; maxLength?: number }): string {
  return [
    spec.min !== undefined ? `>= ${spec.min}` : "",
    spec.max !== undefined ? `<= ${spec.max}` : "",
    spec.oneOf ? `one of ${spec.oneOf.map((v) => JSON.stringify(v)).join(", ")}` : "",
    spec.pattern ? `matches /${spec.pattern}/` : "",
    spec.maxLength !== undefined ? `length <= ${spec.maxLength}` : "",
  ]
    .filter(Boolean)
    .join(", ");
}

/** `strata dataset versions <name>`. */
export function datasetVersionsCommand(name: string, options: Common): Promise<number> {
  return withProject(options, async (project, workspace) => {
    const declared = declaredDatasets([...project.pipelines.values()].map((p) => p.pipeline)).has(name);
    const versions = await versionsOf(workspace, name, declared);
    process.stdout.write(
      options.json ? `${JSON.stringify(versions, null, 2)}\n` : `${versions.length ? versionTable(versions) : "no versions yet"}\n`,
    );
    return EXIT.OK;
  });
}

/** `strata dataset rollback <name> <version>`: make a kept version live again, atomically. */
export function rollbackDatasetCommand(name: string, version: number, options: Common): Promise<number> {
  return withProject(options, async (project, workspace) => {
    const declared = declaredDatasets([...project.pipelines.values()].map((p) => p.pipeline)).has(name);
    const versions = await versionsOf(workspace, name, declared);
    const target = versions.find((v) => v.version === version);
    if (!target || target.status !== "ready") {
      const kept = versions.filter((v) => v.status === "ready").map((v) => v.version);
      throw new StrataError(
        "DATASET_VERSION_NOT_FOUND",
        `dataset "${name}" has no version ${version} to roll back to (kept: ${kept.join(", ") || "none"})`,
        {
          details: { dataset: name, version },
        },
      );
    }
    // Between writers, not in the middle of one (a partition write builds on the live version).
    const hold = await workspace.catalog.holdDataset(name);
    try {
      await goLive(workspace.catalog, hold, await workspace.storages.open(target.storage), name, version, Date.now());
    } finally {
      await hold.release();
    }
    process.stdout.write(
      options.json ? `${JSON.stringify({ dataset: name, live: version })}\n` : `dataset ${name}: version ${version} is live\n`,
    );
    return EXIT.OK;
  });
}
