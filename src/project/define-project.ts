import type { StorageDefinition } from "../storage/storage-definition.js";
import type { MetadataConfig } from "./metadata-config.js";
import type { Hook } from "../pipeline/hooks.js";
import type { QueueConfig } from "./queue-config.js";
import type { StreamsConfig } from "./streams-config.js";

/** A project's `strata.config.ts`. */
export interface ProjectConfig {
  /** Shown in listings. Defaults to the folder's name. */
  readonly name?: string;
  /** Folder of pipeline files, relative to the project. Default `pipelines`. */
  readonly pipelines?: string;
  /** Where runs, logs and tables are kept. Default `.strata`. */
  readonly stateDir?: string;
  /** Steps running at once, unless a pipeline or `--concurrency` says otherwise. Default 4. */
  readonly concurrency?: number;
  /**
   * Who is told when a run of any pipeline fails, unless the pipeline names its own `onFailure`
   * (`[]` to tell nobody): `[notify.webhook({ urlEnv: "ALERT_URL" })]`. The seeds' global fallback.
   */
  readonly onFailure?: readonly Hook[];
  /**
   * Named storages. `warehouse` (DuckDB tables) and `kv` (SQLite key-value) exist in every
   * project; declaring one of those names replaces it. More can be added at run time with
   * `strata storage add`.
   */
  readonly storages?: readonly StorageDefinition[];
  /**
   * Programs of `command` steps by name, e.g. `{ python: "/usr/bin/python3" }`. A `command(["python", ...])`
   * step runs the executable named here (the STRATA_PYTHON variable, when set, is the default for python).
   */
  readonly interpreters?: Readonly<Record<string, string>>;
  /**
   * Where runs, the catalog, models and API keys are kept. Default: SQLite in the state folder.
   * `{ technology: "postgres", urlEnv: "STRATA_METADATA_URL", schema: "strata" }` keeps them on a
   * Postgres server that several processes share; the URL comes from the environment variable.
   */
  readonly metadata?: MetadataConfig;
  /**
   * The Redis server carrying step jobs to `strata worker` processes: `{ urlEnv: "STRATA_QUEUE_URL" }`.
   * With it, `strata server` enqueues steps instead of running them itself. Workers on several
   * machines need shared metadata (Postgres) and shared storages for the data steps pass on.
   */
  readonly queue?: QueueConfig;
  /**
   * Where `strata server` keeps the events posted to streams until the pipelines they trigger have
   * taken them. Default: SQLite in the state folder. `{ technology: "redis", urlEnv: "STRATA_QUEUE_URL" }`
   * keeps them as Redis Streams (run the server with its append-only file), for a control plane
   * whose machine keeps no files of its own.
   */
  readonly streams?: StreamsConfig;
}

const PROJECT = Symbol.for("strata.project");

export type DefinedProject = ProjectConfig & { readonly [PROJECT]: true };

/** Declares a project; the default export of `strata.config.ts`. */
export function defineProject(config: ProjectConfig): DefinedProject {
  return { ...config, [PROJECT]: true };
}

export function isDefinedProject(value: unknown): value is DefinedProject {
  return typeof value === "object" && value !== null && PROJECT in value;
}
