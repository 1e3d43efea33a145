import { Argument, Command, InvalidArgumentError, Option } from "commander";
import { REASON_CODES } from "../validation/reason-codes.js";
import { reportError } from "./errors.js";
import { EXIT } from "./exit-codes.js";
// Type-only imports are erased at build time, so they cost nothing at start-up.
import type { BackfillCommandOptions } from "./commands/backfill.js";
import type { KeysCreateOptions } from "./commands/keys.js";
import type { AnnotateOptions, Fix, QuarantineListOptions, ReplayCommandOptions } from "./commands/quarantine.js";
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

/** `--scope invoke --scope manage` or `--scope invoke,manage`; the key store checks the names. */
const collectScopes = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  ...value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
];

/** A quarantined record's id (see: strata quarantine list --records); repeatable. */
function collectIds(value: string, previous: number[] | undefined): number[] {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`a record id is a whole number >= 1, got "${value}"`);
  return [...(previous ?? []), n];
}

/** `--fix column=value`; `column=` sets it to null. Repeatable. */
function collectFix(value: string, previous: Fix[]): Fix[] {
  const eq = value.indexOf("=");
  const column = eq < 0 ? "" : value.slice(0, eq).trim();
  if (!column) throw new InvalidArgumentError(`expected column=value (column= for null), got "${value}"`);
  const fix = value.slice(eq + 1);
  return [...previous.filter((f) => f.column !== column), { column, value: fix === "" ? null : fix }];
}

/** A reason code of REASON_CODES (any case). */
function reasonCode(value: string): string {
  const code = value.toUpperCase();
  if (!(code in REASON_CODES))
    throw new InvalidArgumentError(`unknown reason code "${value}"; the codes: ${Object.keys(REASON_CODES).join(", ")}`);
  return code;
}

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
  strata validate raw_orders                   check a dataset now, change nothing
  strata quarantine list raw_orders            records a run rejected, by reason

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
    .option("--before <run-id>", "only runs older than this one: the next page after a list that ended with it")
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
  cli
    .command("validate")
    .description("run a dataset's checks now and change nothing: record checks of raw files, expectations of a table")
    .argument("<dataset>", "dataset name (see: strata dataset list)")
    .addOption(projectOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      `
Raw files (a dataset in a files storage): every record is read and checked against the schema,
rules and unknown-fields policy; prints read · clean · quarantined counts, the reasons, and the
first rejects. Nothing goes to the quarantine. A table: its expectations (its own and those
expect() declares on the steps that write it) run on its live version.

Exit codes: 0 everything passed, 1 a check did not pass, 2 bad input (unknown dataset...).

Examples:
  strata validate raw_orders           would the files pass? (before a run, after a schema change)
  strata validate orders --json        expectations of the live version, for a script`,
    )
    .action(async (name: string, opts: { project?: string; json?: boolean }) => {
      const { validateCommand } = await import("./commands/validate.js");
      process.exitCode = await validateCommand(name, opts);
    });

  const quarantine = cli
    .command("quarantine")
    .description("records rejected by dataset checks: list, show, annotate, replay")
    .addHelpText(
      "after",
      `
A raw files dataset declared with \`quarantine: true\` keeps the records that fail its checks here,
with file, line, values as read and reasons, instead of failing the run. Once fixed (annotate
--fix) or once the checks change, replay moves those that pass into the clean dataset.

Examples:
  strata quarantine list                                     datasets with rejects, by status
  strata quarantine list raw_orders                          rejects by reason, with examples
  strata quarantine annotate 12 --note "typo" --fix amount=12
  strata quarantine replay raw_orders --dry-run              what would pass now; changes nothing
  strata quarantine replay raw_orders                        move the annotated ones that pass`,
    );
  quarantine
    .command("list")
    .description("datasets with rejects and counts by status; with a dataset, its rejects grouped by reason, with examples")
    .argument("[dataset]", "a dataset with rejects (the raw dataset, e.g. raw_orders)")
    .option("--reason <code>", "only records with this reason code (e.g. TYPE_MISMATCH)", reasonCode)
    .addOption(new Option("--status <status>", "only records in this state").choices(["new", "annotated", "replayed"]))
    .option("--run <run-id>", "only records rejected by this run (an id or a unique prefix)")
    .option("--records", "list records (id, status, where, reasons, note) instead of grouping by reason")
    .option("-n, --limit <n>", "with --records: how many", positiveInt, 50)
    .addOption(projectOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      `
Examples:
  strata quarantine list raw_orders --reason TYPE_MISMATCH
  strata quarantine list raw_orders --records --status annotated
  strata quarantine list raw_orders --run r01k... --json

Reason codes: ${Object.keys(REASON_CODES).join(", ")}`,
    )
    .action(async (dataset: string | undefined, opts: QuarantineListOptions) => {
      const { quarantineListCommand } = await import("./commands/quarantine.js");
      process.exitCode = await quarantineListCommand(dataset, opts);
    });
  quarantine
    .command("show")
    .description("quarantined records in full: source, values as read, reasons, note, fixes, replay")
    .addArgument(new Argument("<ids...>", "record ids (see: strata quarantine list <dataset>)").argParser(collectIds))
    .addOption(projectOption())
    .addOption(jsonOption())
    .addHelpText("after", "\nExample: strata quarantine show 12 13")
    .action(async (ids: number[], opts: { project?: string; json?: boolean }) => {
      const { quarantineShowCommand } = await import("./commands/quarantine.js");
      process.exitCode = await quarantineShowCommand(ids, opts);
    });
  quarantine
    .command("annotate")
    .description("add a note and fixes (values a replay uses instead of the ones read) to records not yet replayed")
    .addArgument(new Argument("<ids...>", "record ids (see: strata quarantine list <dataset>)").argParser(collectIds))
    .option("--note <text>", "why the records were rejected, what was done")
    .option("--fix <column=value>", "use this value at replay; column= for null; repeat for several columns", collectFix, [])
    .addOption(projectOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      `
Columns must be columns of the records' dataset. Fixes add to those given earlier; a new note
replaces the old one. Nothing is re-checked until \`strata quarantine replay\`.

Examples:
  strata quarantine annotate 12 --note "amount written in words" --fix amount=12
  strata quarantine annotate 14 15 --note "no date known" --fix day=
  strata quarantine annotate 16 --note "test customer, keep out"`,
    )
    .action(async (ids: number[], opts: AnnotateOptions) => {
      const { quarantineAnnotateCommand } = await import("./commands/quarantine.js");
      process.exitCode = await quarantineAnnotateCommand(ids, opts);
    });
  quarantine
    .command("replay")
    .description("re-check rejects with the dataset's current checks and fixes; those that pass go into the clean dataset as a new version")
    .argument("<dataset>", "the raw dataset whose rejects to replay (e.g. raw_orders)")
    .option("--reason <code>", "only records with this reason code", reasonCode)
    .option("--all", "every reject not yet replayed, not only the annotated ones (e.g. after the checks changed)")
    .option("--dry-run", "re-check and report what would pass; change nothing")
    .addOption(projectOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      `
The clean dataset is the one the ingest step that rejected them writes. Replayed records stay in
the quarantine, marked with the replay's run and the version they went into.

Examples:
  strata quarantine replay raw_orders --dry-run              which rejects would pass now (a replay moves the annotated ones)
  strata quarantine replay raw_orders                        replay them
  strata quarantine replay raw_orders --all --dry-run        after a schema change: which past rejects pass now?
  strata quarantine replay raw_orders --reason TYPE_MISMATCH`,
    )
    .action(async (dataset: string, opts: ReplayCommandOptions) => {
      const { quarantineReplayCommand } = await import("./commands/quarantine.js");
      process.exitCode = await quarantineReplayCommand(dataset, opts);
    });

  const model = cli.command("model").description("customer-lifetime-value models: fit on an RFM summary, predict per customer");
  model
    .command("fit")
    .description("fit a model by maximum likelihood and print its parameters, log-likelihood and standard errors")
    .addArgument(new Argument("<model>", "the model").choices(["bg-nbd", "pareto-nbd", "gamma-gamma"]))
    .argument("<summary>", "a CSV with lifetimes' columns: customer_id, frequency, recency, T (and monetary_value for gamma-gamma)")
    .option("--out <file>", "write the fitted model as JSON (for strata model predict)")
    .option("--penalizer <l2>", "L2 penalty on the parameters (helps a fit that does not converge)", nonNegative)
    .addOption(jsonOption())
    .addHelpText(
      "after",
      `
gamma-gamma fits on the rows with frequency > 0. --json prints an object with params (r, alpha, a,
b / r, alpha, s, beta / p, q, v), logLikelihood, iterations, converged and standardErrors.
Exit codes: 0 converged, 1 did not converge, 2 bad input (a missing column, a value that is not a number).

Examples:
  strata model fit bg-nbd summary.csv --out bgnbd.json
  strata model fit gamma-gamma summary.csv --json`,
    )
    .action(
      async (
        kind: "bg-nbd" | "pareto-nbd" | "gamma-gamma",
        summary: string,
        opts: { out?: string; json?: boolean; penalizer?: number },
      ) => {
        const { modelFitCommand } = await import("./commands/model.js");
        process.exitCode = await modelFitCommand(kind, summary, opts);
      },
    );
  model
    .command("predict")
    .description("predict per customer from a fitted model: expected purchases over a horizon and P(alive), or expected spend")
    .argument("<model>", "a model file written by strata model fit --out")
    .argument("<summary>", "a CSV with customer_id, frequency, recency, T (and monetary_value for gamma-gamma)")
    .requiredOption("--horizon <t>", "periods ahead, in the summary's time unit", positiveNumber)
    .requiredOption("--out <file>", "the predictions CSV to write")
    .addOption(jsonOption())
    .addHelpText(
      "after",
      `
Writes one row per customer: customer_id, expected_purchases (conditional on the customer's
history, over the horizon) and p_alive; for a gamma-gamma model, customer_id and expected_spend.

Example:
  strata model predict bgnbd.json summary.csv --horizon 39 --out predictions.csv`,
    )
    .action(async (file: string, summary: string, opts: { horizon: number; out: string; json?: boolean }) => {
      const { modelPredictCommand } = await import("./commands/model.js");
      process.exitCode = await modelPredictCommand(file, summary, opts);
    });
  const models = cli.command("models").description("the model registry: trained models, their versions, metrics, lineage and aliases");
  models
    .command("list")
    .description("registered models, newest version first; with a name, that model's versions")
    .argument("[name]", "a model name")
    .addOption(projectOption())
    .addOption(jsonOption())
    .action(async (name: string | undefined, opts: { project?: string; json?: boolean }) => {
      const { modelsListCommand } = await import("./commands/models.js");
      process.exitCode = await modelsListCommand(name, opts);
    });
  models
    .command("alias")
    .description("point an alias (candidate, live...) at a version of a model, e.g. to promote a candidate")
    .argument("<name>", "a model name (see: strata models list)")
    .argument("<alias>", "the alias, e.g. live")
    .argument("<version>", "the version it points at", positiveInt)
    .addOption(projectOption())
    .addOption(jsonOption())
    .addHelpText("after", "\nExample:\n  strata models alias customer-value live 3     serve version 3 from now on")
    .action(async (name: string, alias: string, version: number, opts: { project?: string; json?: boolean }) => {
      const { modelsAliasCommand } = await import("./commands/models.js");
      process.exitCode = await modelsAliasCommand(name, alias, version, opts);
    });

  for (const dev of [false, true]) {
    const command = cli
      .command(dev ? "dev" : "serve")
      .description(
        dev
          ? "development: the models service (every change under endpoints/ reloads the implementations) and the control plane, in one process"
          : "the models service: endpoint types and their implementations over HTTP, with routing, auth, metrics and OpenAPI",
      )
      .option("--port <port>", "port to listen on (0: any free port)", nonNegative, 8080)
      .option("--host <host>", "address to listen on", "127.0.0.1")
      .option(
        "--kv-cache-mb <mb>",
        "memory for key-value documents kept between calls; a kept document is served only while its version is live (0: read the storage every call)",
        nonNegative,
        64,
      )
      .addOption(projectOption());
    if (dev)
      command.option("--control-port <port>", "port of the control plane (strata server), run in the same process", nonNegative, 8070);
    command
      .addHelpText(
        "after",
        `
Endpoints are discovered in the project: endpoints/<type>/endpoint.ts declares a type (input and
output schemas, routing) and each other file beside it is an implementation named after the file.
Every route but /healthz, /readyz and /docs needs an API key (strata keys create <name>).

Routes:
  POST /v1/endpoints/<type>[/<implementation>][/batch]   call (routed, or one implementation; batch: {"inputs": [...]})
  GET  /v1/endpoints                                     types, their JSON schemas, implementations, routing
  GET  /v1/endpoints/<type>/shadow                       shadow comparisons: counts and recent mismatches
  GET  /v1/storages · POST /v1/storages                  storages, and add one (scope manage)
  POST /v1/reload                                        load implementations again (scope manage; also kill -HUP)
  GET  /metrics · /v1/openapi.json · /docs · /healthz · /readyz

Example:
  strata keys create my-app && strata ${dev ? "dev" : "serve"} --port 8080
  curl -s localhost:8080/v1/endpoints/customer-value -H "authorization: Bearer $KEY" -d '{"customerId":"00001"}' -H 'content-type: application/json'`,
      )
      .action(async (opts: { port: number; host: string; kvCacheMb: number; project?: string; controlPort?: number }) => {
        const { serveCommand } = await import("./commands/serve.js");
        process.exitCode = await serveCommand({ ...opts, watch: dev });
      });
  }
  cli
    .command("server")
    .description("the control plane: cron schedules, dataset and stream triggers, and the runs API (start, list, logs, cancel, retry)")
    .option("--port <port>", "port to listen on (0: any free port)", nonNegative, 8070)
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .addOption(projectOption())
    .addHelpText(
      "after",
      `
Pipelines declare when they run: schedules: [cron("0 3 * * *", { timezone: "Europe/Paris" })],
triggers: [on.dataset("transactions"), on.stream("orders")], and overlap: "allow" | "skip" | "queue".
Every route but /healthz and /readyz needs an API key with the run scope (strata keys create <name> --scope run).

Routes:
  POST /v1/pipelines/<name>/runs       start a run: {"params": {...}} (400 names a bad param; 409 PIPELINE_BUSY when overlap is skip)
  GET  /v1/pipelines                   pipelines with their schedules, triggers and runs in flight
  GET  /v1/runs[?pipeline=&status=&limit=] · GET /v1/runs/<id> · GET /v1/runs/<id>/logs[?step=]
  POST /v1/runs/<id>/cancel · POST /v1/runs/<id>/retry
  POST /v1/streams/<name>/events       {"payload": ..., "id"?: "..."}: kept durably, starts the pipelines the stream triggers

Missed schedules: when the server was down, each schedule's catchUp decides: "latest" (default: one run
for the latest missed time), "all" (one per missed time, at most 1,000) or "none".

Example:
  strata keys create scheduler --scope run && strata server --port 8070
  curl -s localhost:8070/v1/pipelines/cltv/runs -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d '{"params": {"horizonMonths": 6}}'`,
    )
    .action(async (opts: { port: number; host: string; project?: string }) => {
      const { serverCommand } = await import("./commands/server.js");
      process.exitCode = await serverCommand(opts);
    });
  cli
    .command("backfill")
    .description("run a pipeline once per date of a range (per day, or per fire time of its schedule), a few at once, in this process")
    .argument("<pipeline>", "pipeline name (see: strata pipelines)")
    .requiredOption("--from <date>", "first date, YYYY-MM-DD (by schedule, also a time with its offset: 2026-01-05T06:00:00Z)")
    .requiredOption("--to <date>", "last date, included")
    .addOption(
      new Option("--by <unit>", "one run per day, or per fire time of the pipeline's cron schedule")
        .choices(["day", "schedule"])
        .default("day"),
    )
    .option("--schedule <index>", "by schedule, when the pipeline has several: which one (0 is the first)", nonNegative)
    .option(
      "--param <name|name=value>",
      "name: the param that takes the date (default: the only date param); name=value: a param of every run",
      collect,
      [],
    )
    .option("--parallel <n>", "runs at once (1 when the pipeline's overlap is skip or queue)", "2")
    .option("--force", "also rerun the dates whose latest backfill run succeeded")
    .option("--dry-run", "list the dates, their params and what earlier backfills did; run nothing")
    .addOption(projectOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      `
Each run gets its date in a param (z.coerce.date() gets "2026-01-05", or the fire time by schedule)
and the trigger id backfill:<pipeline>@<date>. Dates whose latest backfill run succeeded are
skipped, so running the same command again after a fix reruns only what failed (--force: all).
Fire times follow the schedule's time zone; a day in --from/--to is a whole day in that zone.
Exit codes: 0 every run succeeded, 1 a run failed (the others still ran), 2 bad input (nothing ran), 130 interrupted.

Examples:
  strata backfill daily-sales --from 2026-01-01 --to 2026-01-31 --dry-run     the 31 dates, nothing runs
  strata backfill daily-sales --from 2026-01-01 --to 2026-01-31 --parallel 4
  strata backfill report --from 2026-03-01 --to 2026-03-07 --by schedule --param asOf --param region=eu`,
    )
    .action(async (name: string, opts: BackfillCommandOptions) => {
      const { backfillCommand } = await import("./commands/backfill.js");
      process.exitCode = await backfillCommand(name, opts);
    });
  cli
    .command("worker")
    .description("take steps from the project's queue (Redis) and run them; start any number, on any machine")
    .option("--concurrency <n>", "steps run at once in this process", positiveInt, 4)
    .option("--lock-ms <ms>", "how long a step stays with a worker that stopped answering before another takes it", positiveInt, 30_000)
    .addOption(projectOption())
    .addHelpText(
      "after",
      `
The queue is strata.config.ts's queue: { urlEnv: "STRATA_QUEUE_URL" }; with it, strata server enqueues
each step instead of running it. Steps pass data only through the metadata store and storages: for
workers on several machines, keep metadata on Postgres (metadata: { technology: "postgres", ... })
and datasets in storages every machine reaches.

A worker killed mid-step loses its lock after --lock-ms; another worker then runs the step again,
and the dataset version the lost attempt was writing is discarded (never made live twice).

Example:
  export STRATA_QUEUE_URL=redis://127.0.0.1:6379 STRATA_METADATA_URL=postgres://...
  strata server &  strata worker --concurrency 8`,
    )
    .action(async (opts: { concurrency: number; lockMs: number; project?: string }) => {
      const { workerCommand } = await import("./commands/worker.js");
      process.exitCode = await workerCommand(opts);
    });
  const keys = cli
    .command("keys")
    .description("API keys of the models service: create (shown once), list, revoke")
    .addHelpText(
      "after",
      `
Only a SHA-256 hash of each key is kept, in the project's metadata store. Scopes: invoke (list and
call endpoints), manage (add storages, reload implementations, read metrics). Requests send the key
as \`Authorization: Bearer <key>\`.

Examples:
  strata keys create checkout-app                          a key to call endpoints (scope invoke)
  strata keys create ops --scope invoke,manage --json      both scopes; JSON for a script
  strata keys list                                         every key with its scopes and hint
  strata keys revoke checkout-app                          by name or id`,
    );
  keys
    .command("create")
    .description("create a key and print it once; only its hash is kept")
    .argument("<name>", "a name to recognise the key by (unique among keys not revoked), e.g. checkout-app")
    .option("--scope <scope>", "invoke or manage; repeat or separate with commas (default: invoke)", collectScopes)
    .addOption(projectOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      `
--json prints { key, id, name, scopes, createdAt }. The key cannot be shown again: store it now.
Exit codes: 0 created, 2 bad input (no name, a name already taken, an unknown scope).

Examples:
  strata keys create checkout-app
  strata keys create ops --scope manage --scope invoke`,
    )
    .action(async (name: string, opts: KeysCreateOptions) => {
      const { keysCreateCommand } = await import("./commands/keys.js");
      process.exitCode = await keysCreateCommand(name, opts);
    });
  keys
    .command("list")
    .description("every key: id, name, scopes, hint (its first characters), created, revoked; never the key or its hash")
    .addOption(projectOption())
    .addOption(jsonOption())
    .action(async (opts: { project?: string; json?: boolean }) => {
      const { keysListCommand } = await import("./commands/keys.js");
      process.exitCode = await keysListCommand(opts);
    });
  keys
    .command("revoke")
    .description("revoke a key: the models service no longer accepts it")
    .argument("<id|name>", "a key's id or name (see: strata keys list)")
    .addOption(projectOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      "\nExit codes: 0 revoked (or already revoked), 2 no key has that id or name.\n\nExample:\n  strata keys revoke checkout-app",
    )
    .action(async (idOrName: string, opts: { project?: string; json?: boolean }) => {
      const { keysRevokeCommand } = await import("./commands/keys.js");
      process.exitCode = await keysRevokeCommand(idOrName, opts);
    });
  return cli;
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number >= 0, got "${value}"`);
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number > 0, got "${value}"`);
  return n;
}

/** Entry point of bin/strata.js. Sets process.exitCode rather than exiting, so output is flushed. */
export async function main(argv: readonly string[]): Promise<void> {
  // Output piped into a reader that stops early (`strata runs list | head`) ends the command
  // quietly, as Unix tools do, instead of a stack trace about EPIPE.
  for (const stream of [process.stdout, process.stderr])
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
      process.exit(process.exitCode ?? EXIT.OK);
    });
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
