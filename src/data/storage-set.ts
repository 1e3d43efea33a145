import { StrataError } from "../errors/strata-error.js";
import type { Health, OpenStorage, StorageContext } from "../storage/adapter.js";
import type { CatalogStore } from "../storage/catalog-store.js";
import { assertUsable, definitionProblems } from "../storage/definition-check.js";
import { adapterFor } from "../storage/registry.js";
import { storageDefinitionSchema, type StorageDefinition } from "../storage/storage-definition.js";

/** Present in every project unless the config redefines them: the embedded defaults. */
export function builtinStorages(stateDir: string | ":memory:"): StorageDefinition[] {
  const memory = stateDir === ":memory:";
  return [
    { name: "warehouse", technology: "duckdb", format: "table", options: memory ? { path: ":memory:" } : {} },
    { name: "kv", technology: "sqlite", format: "kv", options: memory ? { path: ":memory:" } : {} },
  ];
}

export interface StorageStatus {
  readonly definition: StorageDefinition;
  /** Where it was declared: built in, strata.config.ts, or added at run time. */
  readonly origin: "builtin" | "config" | "added";
  /** Where its data is (null when it cannot be opened: health says why). */
  readonly location: string | null;
  readonly health: Health;
}

/**
 * A project's named storages: built-ins, those in strata.config.ts, and those added at run time
 * (kept in the catalog, so every process sees a new one at once, with no restart).
 */
export class StorageSet {
  readonly #opened = new Map<string, Promise<OpenStorage>>();

  constructor(
    private readonly declared: readonly { definition: StorageDefinition; origin: "builtin" | "config" }[],
    private readonly catalog: CatalogStore,
    private readonly context: StorageContext,
  ) {}

  /** Every storage, declared first; config entries replace built-ins of the same name. */
  async definitions(): Promise<{ definition: StorageDefinition; origin: StorageStatus["origin"] }[]> {
    const byName = new Map<string, { definition: StorageDefinition; origin: StorageStatus["origin"] }>();
    for (const entry of this.declared) byName.set(entry.definition.name, entry);
    for (const definition of await this.catalog.listStorages())
      if (!byName.has(definition.name)) byName.set(definition.name, { definition, origin: "added" });
    return [...byName.values()];
  }

  async definition(name: string): Promise<StorageDefinition> {
    const all = await this.definitions();
    const found = all.find((e) => e.definition.name === name);
    if (!found) {
      throw new StrataError("STORAGE_NOT_FOUND", `no storage named "${name}" (storages: ${all.map((e) => e.definition.name).join(", ")})`, {
        details: { storage: name },
      });
    }
    return found.definition;
  }

  /** Opens a storage once and shares it; a failed open is retried by the next call. */
  open(name: string): Promise<OpenStorage> {
    let opened = this.#opened.get(name);
    if (!opened) {
      opened = this.definition(name).then(async (definition) => (await adapterFor(definition.technology)).open(definition, this.context));
      opened.catch(() => this.#opened.delete(name));
      this.#opened.set(name, opened);
    }
    return opened;
  }

  /** Checks a definition as `add` would, without adding it: every problem, one message each. */
  async problems(candidate: unknown): Promise<string[]> {
    const parsed = storageDefinitionSchema.safeParse(candidate);
    if (!parsed.success) return parsed.error.issues.map((i) => `${i.path.join(".") || "storage"}: ${i.message}`);
    return definitionProblems(await adapterFor(parsed.data.technology), parsed.data);
  }

  /** Adds a storage with a new name. One call, no code change, no restart. */
  async add(candidate: StorageDefinition, at: number): Promise<void> {
    const parsed = storageDefinitionSchema.safeParse(candidate);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "storage"}: ${i.message}`);
      throw new StrataError("STORAGE_INVALID", `storage "${candidate.name}": ${problems.join("; ")}`, {
        details: { storage: candidate.name, problems },
      });
    }
    assertUsable(await adapterFor(parsed.data.technology), parsed.data);
    if ((await this.definitions()).some((e) => e.definition.name === candidate.name)) {
      throw new StrataError("STORAGE_EXISTS", `a storage named "${candidate.name}" exists already`, {
        details: { storage: candidate.name },
      });
    }
    await this.catalog.addStorage(storageDefinitionSchema.parse(candidate), at);
  }

  /** Every storage with its health; a storage that cannot even open is reported, not thrown. */
  async status(): Promise<StorageStatus[]> {
    return Promise.all(
      (await this.definitions()).map(async ({ definition, origin }) => {
        try {
          const opened = await this.open(definition.name);
          return { definition, origin, location: opened.location, health: await opened.health() };
        } catch (error) {
          return { definition, origin, location: null, health: { ok: false, detail: (error as Error).message } };
        }
      }),
    );
  }

  async close(): Promise<void> {
    const opened = [...this.#opened.values()];
    this.#opened.clear();
    await Promise.all(opened.map(async (p) => (await p.catch(() => undefined))?.close()));
  }
}
