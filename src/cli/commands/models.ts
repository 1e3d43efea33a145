import { formatTime, table } from "../format.js";
import { EXIT } from "../exit-codes.js";
import { withProject } from "../with-project.js";

export interface ModelsListOptions {
  project?: string;
  json?: boolean;
}

/** `strata models list [name]`: registered models, or one model's versions with metrics and lineage. */
export function modelsListCommand(name: string | undefined, options: ModelsListOptions): Promise<number> {
  return withProject(options, async (_project, workspace) => {
    const names = name ? [name] : await workspace.models.names();
    const all = (await Promise.all(names.map((n) => workspace.models.versions(n)))).flat();
    if (name && !all.length) await workspace.models.get(name, 1); // throws MODEL_NOT_FOUND, naming it
    if (options.json) {
      process.stdout.write(
        `${JSON.stringify(
          all.map(({ artifact: _artifact, ...v }) => v),
          null,
          2,
        )}\n`,
      );
      return EXIT.OK;
    }
    if (!all.length) {
      process.stdout.write("no model registered yet (a step registers one with ctx.registerModel)\n");
      return EXIT.OK;
    }
    const metrics = (m: Readonly<Record<string, number>>): string =>
      Object.entries(m)
        .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toPrecision(4)}`)
        .join(", ");
    process.stdout.write(
      `${table(
        ["model", "version", "aliases", "algorithm", "metrics", "trained by", "at"],
        [...all]
          .reverse()
          .map((v) => [
            v.name,
            String(v.version),
            v.aliases.join(", "),
            v.algorithm,
            metrics(v.metrics),
            v.runId ? `${v.runId} (${v.step})` : "-",
            formatTime(v.createdAt),
          ]),
      )}\n`,
    );
    return EXIT.OK;
  });
}

/** `strata models alias <name> <alias> <version>`: points an alias (e.g. live) at a version. */
export function modelsAliasCommand(name: string, alias: string, version: number, options: ModelsListOptions): Promise<number> {
  return withProject(options, async (_project, workspace) => {
    const before = await workspace.models.get(name, alias).catch(() => null);
    await workspace.models.setAlias(name, alias, version, Date.now());
    if (options.json) process.stdout.write(`${JSON.stringify({ name, alias, version, previous: before?.version ?? null })}\n`);
    else
      process.stdout.write(
        `${name}: ${alias} -> version ${version}${before && before.version !== version ? ` (was version ${before.version})` : ""}\n`,
      );
    return EXIT.OK;
  });
}
