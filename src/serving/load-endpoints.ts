import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import type { Logger } from "pino";
import { isStrataError, StrataError } from "../errors/strata-error.js";
import { compileSchemas, type CompiledSchemas } from "./compiled-schema.js";
import { isEndpointType, isImplementation, type EndpointType, type ImplementationFn } from "./endpoint.js";
import { resolveRouting, type ResolvedRouting } from "./router.js";

/** Names an implementation file may not take: they are routes of their own. */
const RESERVED = new Set(["endpoint", "batch", "shadow"]);
const SOURCE = /\.(m?ts|m?js)$/;
const NOT_SOURCE = /\.(test|spec|d)\.m?[tj]s$/;

export interface LoadedImplementation {
  readonly name: string;
  readonly file: string;
  readonly run: ImplementationFn<EndpointType>;
  readonly log: Logger;
}

export interface LoadedEndpoint {
  readonly type: EndpointType;
  readonly file: string;
  readonly schemas: CompiledSchemas;
  readonly implementations: ReadonlyMap<string, LoadedImplementation>;
  readonly routing: ResolvedRouting;
}

/** Every endpoint of a project as loaded at one moment; a reload builds a new one and swaps it in whole. */
export interface EndpointSet {
  readonly endpoints: ReadonlyMap<string, LoadedEndpoint>;
  readonly loadedAt: number;
}

let loads = 0;

/**
 * A fresh module namespace for one load: tsx's namespaced loader keeps its own module cache, so a
 * reload sees edited files, and the files they import, without a restart; within one load, a file
 * imported by several implementations (their endpoint.ts) is compiled once. Packages (`strata`,
 * `zod`) resolve as usual and are shared.
 */
async function freshImporter(): Promise<{ import: (file: string) => Promise<Record<string, unknown>>; done: () => Promise<void> }> {
  const { register } = await import("tsx/esm/api");
  const namespace = register({ namespace: `strata-endpoints-${process.pid}-${++loads}` });
  return {
    import: async (file) => (await namespace.import(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>,
    done: () => namespace.unregister(),
  };
}

function sourceFiles(folder: string): string[] {
  return readdirSync(folder)
    .filter((f) => SOURCE.test(f) && !NOT_SOURCE.test(f) && statSync(join(folder, f)).isFile())
    .sort();
}

type Importer = (file: string) => Promise<Record<string, unknown>>;

async function loadOne(projectDir: string, folder: string, log: Logger, importFile: Importer): Promise<LoadedEndpoint> {
  const name = relative(join(projectDir, "endpoints"), folder);
  const files = sourceFiles(folder);
  const typeFile = files.find((f) => f.replace(SOURCE, "") === "endpoint");
  const where = (f: string): string => relative(projectDir, join(folder, f));
  const fail = (file: string, message: string, cause?: unknown): never => {
    throw new StrataError("ENDPOINT_INVALID", `${file}: ${message}`, { cause, details: { endpoint: name, file } });
  };
  const load = async (file: string): Promise<unknown> => {
    try {
      return (await importFile(join(folder, file))).default;
    } catch (cause) {
      if (isStrataError(cause) && cause.code === "ENDPOINT_INVALID") throw cause;
      return fail(where(file), `cannot be loaded: ${(cause as Error).message}`, cause);
    }
  };
  if (!typeFile)
    return fail(`endpoints/${name}`, `no endpoint.ts: declare the type there, export default endpoint("${name}", { input, output })`);
  const type = await load(typeFile);
  if (!isEndpointType(type)) return fail(where(typeFile), `its default export is not endpoint(...)`);
  if (type.name !== name) return fail(where(typeFile), `declares "${type.name}" but its folder is endpoints/${name}: the two must match`);

  const implementations = new Map<string, LoadedImplementation>();
  for (const file of files.filter((f) => f !== typeFile)) {
    const implName = file.replace(SOURCE, "");
    if (RESERVED.has(implName)) fail(where(file), `"${implName}" is a reserved name: rename the file`);
    const impl = await load(file);
    if (!isImplementation(impl))
      fail(where(file), `its default export is not implement(...): every file beside endpoint.ts is an implementation`);
    const implemented = (impl as { type: EndpointType }).type.name;
    if (implemented !== name) fail(where(file), `implements "${implemented}", not "${name}"`);
    implementations.set(implName, {
      name: implName,
      file: join(folder, file),
      run: (impl as { run: ImplementationFn<EndpointType> }).run,
      log: log.child({ endpoint: name, implementation: implName }),
    });
  }
  let schemas: CompiledSchemas;
  try {
    schemas = compileSchemas(type.input, type.output);
  } catch (cause) {
    return fail(where(typeFile), `its schemas cannot be expressed in JSON Schema: ${(cause as Error).message}`, cause);
  }
  return {
    type,
    file: join(folder, typeFile),
    schemas,
    implementations,
    routing: resolveRouting(type.routing, [...implementations.keys()], where(typeFile)),
  };
}

/**
 * Discovers a project's endpoints: each folder `endpoints/<type>/` holds `endpoint.ts` (the type)
 * and one file per implementation, named after it. Any problem fails the whole load with the
 * file named, so a running service keeps what it had.
 */
export async function loadEndpoints(projectDir: string, log: Logger, now: number): Promise<EndpointSet> {
  const root = join(projectDir, "endpoints");
  const endpoints = new Map<string, LoadedEndpoint>();
  if (existsSync(root)) {
    const importer = await freshImporter();
    try {
      for (const entry of readdirSync(root).sort()) {
        const folder = join(root, entry);
        if (!statSync(folder).isDirectory()) continue;
        endpoints.set(entry, await loadOne(projectDir, folder, log, importer.import));
      }
    } finally {
      await importer.done();
    }
  }
  return { endpoints, loadedAt: now };
}
