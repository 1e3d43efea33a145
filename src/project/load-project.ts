import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { ProjectError, NotFoundError } from "../errors/errors.js";
import { isStrataError } from "../errors/strata-error.js";
import { isPipeline, type AnyPipeline } from "../pipeline/pipeline.js";
import { openWorkspace, type Workspace } from "../runtime/workspace.js";
import { isDefinedProject, type ProjectConfig } from "./define-project.js";
import { checkMetadataConfig, resolveMetadata } from "./metadata-config.js";
import { checkQueueConfig, resolveQueue, type QueueTarget } from "./queue-config.js";
import { checkStreamsConfig, resolveStreams } from "./streams-config.js";
import type { StreamChoice } from "../storage/stream-stores.js";
import { importTs } from "./ts-loader.js";

export const CONFIG_FILE = "strata.config.ts";

/** A project's folder and config, without its pipelines (enough to read its runs). */
export interface ProjectInfo {
  readonly dir: string;
  readonly name: string;
  readonly config: ProjectConfig;
  /** Where runs, logs and tables are kept (`.strata/` by default). */
  readonly stateDir: string;
  openWorkspace(): Workspace;
  /** The queue of step jobs (strata.config.ts `queue`), its URL read from the environment now; undefined without one. */
  queue(): QueueTarget | undefined;
  /** Where the control plane keeps streams (strata.config.ts `streams`), its URL read from the environment now. */
  streams(): StreamChoice;
}

export interface LoadedProject extends ProjectInfo {
  /** Pipelines by name, with the file each came from. */
  readonly pipelines: ReadonlyMap<string, { readonly pipeline: AnyPipeline; readonly file: string }>;
  pipeline(name: string): AnyPipeline;
}

/**
 * The project folder. Given explicitly (`--project`), it must hold strata.config.ts itself;
 * otherwise it is the current folder or the nearest parent that holds one.
 */
export function findProjectDir(start: string | undefined): string {
  if (start !== undefined) {
    const dir = resolve(start);
    if (existsSync(join(dir, CONFIG_FILE))) return dir;
    throw new ProjectError("PROJECT_NOT_FOUND", `no ${CONFIG_FILE} in ${dir} (create a project with: strata init <dir>)`, {
      details: { dir },
    });
  }
  let dir = process.cwd();
  for (;;) {
    if (existsSync(join(dir, CONFIG_FILE))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      const cwd = process.cwd();
      throw new ProjectError(
        "PROJECT_NOT_FOUND",
        `no ${CONFIG_FILE} in ${cwd} or any parent folder (pass --project <dir>, or create one with: strata init <dir>)`,
        {
          details: { dir: cwd },
        },
      );
    }
    dir = parent;
  }
}

async function importFile(file: string, dir: string): Promise<Record<string, unknown>> {
  try {
    return await importTs(file);
  } catch (cause) {
    // A DAG error names the pipeline and steps; add the file, where the fix goes.
    if (isStrataError(cause)) {
      throw new ProjectError(cause.code, `${cause.message} (in ${relative(dir, file)})`, { cause, details: { ...cause.details, file } });
    }
    const message = (cause as Error).message;
    // tsx compiles a .ts file as CommonJS when no package.json says "type": "module".
    const hint = /require\(\)? ES Module|require\(esm\)/.test(message) ? ` (add "type": "module" to ${join(dir, "package.json")})` : "";
    throw new ProjectError("PROJECT_LOAD_FAILED", `cannot load ${relative(dir, file)}: ${message}${hint}`, { cause, details: { file } });
  }
}

function pipelineFiles(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .flatMap((entry) => {
      const full = join(folder, entry);
      if (statSync(full).isDirectory()) return pipelineFiles(full);
      return /\.(m?ts|m?js)$/.test(entry) && !/\.(test|spec|d)\.m?ts$/.test(entry) ? [full] : [];
    })
    .sort();
}

/** Finds the project from `start` and loads its `strata.config.ts`. */
export async function openProject(start?: string): Promise<ProjectInfo> {
  const dir = findProjectDir(start);
  const configModule = await importFile(join(dir, CONFIG_FILE), dir);
  const config = configModule.default;
  if (!isDefinedProject(config)) {
    throw new ProjectError("PROJECT_LOAD_FAILED", `${CONFIG_FILE} must \`export default defineProject({...})\``, {
      details: { file: join(dir, CONFIG_FILE) },
    });
  }
  const metadata = checkMetadataConfig(config.metadata, CONFIG_FILE);
  const queue = checkQueueConfig(config.queue, CONFIG_FILE);
  const streams = checkStreamsConfig(config.streams, CONFIG_FILE);
  const stateDir = resolve(dir, config.stateDir ?? ".strata");
  return {
    dir,
    name: config.name ?? basename(dir),
    config,
    stateDir,
    openWorkspace: () => {
      const choice = resolveMetadata(metadata, process.env);
      return openWorkspace(stateDir, { projectDir: dir, storages: config.storages ?? [], ...(choice ? { metadata: choice } : {}) });
    },
    queue: () => (queue ? resolveQueue(queue, process.env) : undefined),
    streams: () => resolveStreams(streams, process.env),
  };
}

/** Loads the project and every pipeline exported from its pipelines folder. */
export async function loadProject(start?: string): Promise<LoadedProject> {
  const info = await openProject(start);
  const { dir, config } = info;
  const pipelines = new Map<string, { pipeline: AnyPipeline; file: string }>();
  for (const file of pipelineFiles(join(dir, config.pipelines ?? "pipelines"))) {
    const module = await importFile(file, dir);
    for (const value of new Set(Object.values(module))) {
      if (!isPipeline(value)) continue;
      const other = pipelines.get(value.name);
      if (other) {
        throw new ProjectError(
          "PROJECT_DUPLICATE_PIPELINE",
          `pipeline "${value.name}" is defined in both ${relative(dir, other.file)} and ${relative(dir, file)}`,
          {
            details: { pipeline: value.name, files: [other.file, file] },
          },
        );
      }
      pipelines.set(value.name, { pipeline: withProjectDefaults(value, config), file });
    }
  }
  return {
    ...info,
    pipelines,
    pipeline(name) {
      const found = pipelines.get(name);
      if (!found) {
        throw new NotFoundError(
          "PIPELINE_NOT_FOUND",
          `no pipeline "${name}" in ${dir} (pipelines: ${[...pipelines.keys()].join(", ") || "none"})`,
          { details: { pipeline: name } },
        );
      }
      return found.pipeline;
    },
  };
}

/** The project's defaults where the pipeline says nothing: its concurrency and who is told of a failure. */
function withProjectDefaults(pipeline: AnyPipeline, config: ProjectConfig): AnyPipeline {
  const { concurrency, onFailure } = config;
  return {
    ...pipeline,
    ...(pipeline.concurrency === undefined && concurrency !== undefined ? { concurrency } : {}),
    ...(pipeline.onFailure === undefined && onFailure !== undefined ? { onFailure } : {}),
  };
}
