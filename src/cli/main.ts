import { Command, InvalidArgumentError, Option } from "commander";
import { reportError } from "./errors.js";
import { EXIT } from "./exit-codes.js";
// Type-only imports are erased at build time, so they cost nothing at start-up.
import type { RunCommandOptions } from "./commands/run.js";
import type { ListRunsOptions } from "./commands/runs.js";
import type { StorageAddOptions } from "./commands/storage.js";

// Commands import their modules lazily: `strata --help` must start fast, and loading DuckDB,
// SQLite or the TypeScript loader is only paid by the commands that use them.

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number >= 1, got "${value}"`);
  return n;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function program(): Command {
  const cli = new Command("strata")
    .description("Data and ML pipelines from notebook to production.")
    .version("0.1.0", "-V, --version")
    .exitOverride() // set before the subcommands so that they inherit it
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp({ sortSubcommands: false })
    .addHelpText(
      "after",
      `
Examples:
  strata init my-project                       scaffold a project that runs as generated
  strata run orders --param minAmount=20       run a pipeline with params
  strata run orders --resume r01k...           rerun what failed in an earlier run
  strata runs list                             recent runs
  strata runs logs <run-id> --step summary     logs of one step

Exit codes: 0 success, 1 the run failed, 2 bad input (params, project, names), 130 interrupted.`,
    );

  const projectOption = (): Option => new Option("-p, --project <dir>", "project folder (default: the nearest with strata.config.ts)");
  const jsonOption = (): Option => new Option("--json", "print machine-readable JSON on stdout");

  cli
    .command("init")
    .description("scaffold a new project: config, a pipeline, sample data, a test")
    .argument("<dir>", "folder to create (must be new or empty)")
    .option("--no-install", "do not run npm install in the new project")
    .option("--strata <spec>", "how the project depends on strata (default: a link to this installation)")
    .action(async (dir: string, opts: { install: boolean; strata?: string }) => {
      const { initCommand } = await import("./commands/init.js");
      process.exitCode = initCommand(dir, opts);
    });

  cli
    .command("run")
    .description("run a pipeline; params are checked before any step starts")
    .argument("<pipeline>", "pipeline name (see: strata pipelines)")
    .option("--param <name=value>", "a run parameter; repeat for several", collect, [])
    .addOption(projectOption())
    .addOption(jsonOption())
    .option("-c, --concurrency <n>", "steps running at once (default: the pipeline's, else 4)", positiveInt)
    .option("--resume <run-id>", "rerun the failed steps of an earlier run and what depends on them, reusing the rest")
    .addOption(
      new Option("--progress <mode>", "how progress is shown on stderr").choices(["auto", "live", "plain", "none"]).default("auto"),
    )
    .option("-v, --verbose", "also stream the structured log lines to stderr")
    .action(async (name: string, opts: RunCommandOptions) => {
      const { runCommand } = await import("./commands/run.js");
      process.exitCode = await runCommand(name, opts);
    });

  cli
    .command("pipelines")
    .description("list the project's pipelines, their params and steps")
    .addOption(projectOption())
    .addOption(jsonOption())
    .action(async (opts: { project?: string; json?: boolean }) => {
      const { pipelinesCommand } = await import("./commands/pipelines.js");
      process.exitCode = await pipelinesCommand(opts);
    });

  const runs = cli.command("runs").description("read recorded runs: list, show, logs");
  runs
    .command("list")
    .description("recent runs, newest first")
    .option("--pipeline <name>", "only this pipeline's runs")
    .addOption(new Option("--status <status>", "only runs in this state").choices(["running", "succeeded", "failed", "cancelled"]))
    .option("-n, --limit <n>", "how many", positiveInt, 20)
    .addOption(projectOption())
    .addOption(jsonOption())
    .action(async (opts: ListRunsOptions) => {
      const { listRunsCommand } = await import("./commands/runs.js");
      process.exitCode = await listRunsCommand(opts);
    });
  runs
    .command("show")
    .description("a run with its steps, attempts and errors")
    .argument("<run-id>", "a run id or a unique prefix of one")
    .addOption(projectOption())
    .addOption(jsonOption())
    .action(async (id: string, opts: { project?: string; json?: boolean }) => {
      const { showRunCommand } = await import("./commands/runs.js");
      process.exitCode = await showRunCommand(id, opts);
    });
  runs
    .command("logs")
    .description("a run's structured logs (every line carries run, trigger, step and attempt)")
    .argument("<run-id>", "a run id or a unique prefix of one")
    .option("--step <name>", "only this step's lines")
    .addOption(projectOption())
    .addOption(new Option("--json", "print the raw JSON lines"))
    .action(async (id: string, opts: { project?: string; json?: boolean; step?: string }) => {
      const { runLogsCommand } = await import("./commands/runs.js");
      process.exitCode = await runLogsCommand(id, opts);
    });

  const storage = cli.command("storage").description("named storages: add one (no code change, no restart), list them with health");
  storage
    .command("add")
    .description("add a storage: technology + format + name; secrets stay in environment variables")
    .argument("<name>", "lower case name, e.g. serving")
    .addOption(
      new Option("--technology <technology>", "where it lives")
        .choices(["duckdb", "sqlite", "postgres", "redis", "files"])
        .makeOptionMandatory(),
    )
    .addOption(new Option("--format <format>", "what it holds").choices(["table", "kv", "files"]).makeOptionMandatory())
    .option("--path <path>", "file or folder, for duckdb, sqlite and files (relative to the project)")
    .option("--url-env <VAR>", "environment variable holding the URL, for postgres and redis")
    .option("--option <name=value>", "another technology option (schema, prefix, poolSize...); repeat for several", collect, [])
    .addOption(projectOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      "\nFormats per technology: duckdb table; postgres table; sqlite kv; redis kv; files files.\nExample: strata storage add serving --technology redis --format kv --url-env REDIS_URL",
    )
    .action(async (name: string, opts: StorageAddOptions) => {
      const { addStorageCommand } = await import("./commands/storage.js");
      process.exitCode = await addStorageCommand(name, opts);
    });
  storage
    .command("remove")
    .description("forget a storage added with `storage add` (its data is left as it is)")
    .argument("<name>", "storage name")
    .addOption(projectOption())
    .addOption(jsonOption())
    .action(async (name: string, opts: { project?: string; json?: boolean }) => {
      const { removeStorageCommand } = await import("./commands/storage.js");
      process.exitCode = await removeStorageCommand(name, opts);
    });
  storage
    .command("list")
    .description("every storage with technology, format, where declared, and health (exit 1 if one is down)")
    .addOption(projectOption())
    .addOption(jsonOption())
    .action(async (opts: { project?: string; json?: boolean }) => {
      const { listStoragesCommand } = await import("./commands/storage.js");
      process.exitCode = await listStoragesCommand(opts);
    });

  const data = cli.command("dataset").description("datasets: versions, rollback, schema and lineage");
  data
    .command("list")
    .description("datasets of the project with their storage and live version")
    .addOption(projectOption())
    .addOption(jsonOption())
    .action(async (opts: { project?: string; json?: boolean }) => {
      const { listDatasetsCommand } = await import("./commands/dataset.js");
      process.exitCode = await listDatasetsCommand(opts);
    });
  data
    .command("show")
    .description("schema, keys, storage, and versions with the runs that wrote them")
    .argument("<name>", "dataset name")
    .addOption(projectOption())
    .addOption(jsonOption())
    .action(async (name: string, opts: { project?: string; json?: boolean }) => {
      const { showDatasetCommand } = await import("./commands/dataset.js");
      process.exitCode = await showDatasetCommand(name, opts);
    });
  data
    .command("versions")
    .description("versions of a dataset, newest first; ● marks the live one")
    .argument("<name>", "dataset name")
    .addOption(projectOption())
    .addOption(jsonOption())
    .action(async (name: string, opts: { project?: string; json?: boolean }) => {
      const { datasetVersionsCommand } = await import("./commands/dataset.js");
      process.exitCode = await datasetVersionsCommand(name, opts);
    });
  data
    .command("rollback")
    .description("make a kept version live again, atomically")
    .argument("<name>", "dataset name")
    .argument("<version>", "version number (see: strata dataset versions)", positiveInt)
    .addOption(projectOption())
    .addOption(jsonOption())
    .action(async (name: string, version: number, opts: { project?: string; json?: boolean }) => {
      const { rollbackDatasetCommand } = await import("./commands/dataset.js");
      process.exitCode = await rollbackDatasetCommand(name, version, opts);
    });
  return cli;
}

/** Entry point of bin/strata.js. Sets process.exitCode rather than exiting, so output is flushed. */
export async function main(argv: readonly string[]): Promise<void> {
  const cli = program();
  const json = argv.includes("--json");
  try {
    await cli.parseAsync([...argv]);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "commander.helpDisplayed" || code === "commander.version" || code === "commander.help") {
      process.exitCode = EXIT.OK;
      return;
    }
    if (typeof code === "string" && code.startsWith("commander.")) {
      process.exitCode = EXIT.USAGE; // commander already printed the message
      return;
    }
    process.exitCode = reportError(error, json);
  }
}
