import { NotFoundError } from "../errors/errors.js";

/**
 * The model registry: each registered model is a name with numbered versions, each with its
 * algorithm, parameters, metrics, the run and step that trained it, an artifact (JSON), and
 * aliases (`candidate`, `live`...) that point at one version each. Kept in the metadata store.
 */
export interface ModelVersion {
  readonly name: string;
  readonly version: number;
  readonly algorithm: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly metrics: Readonly<Record<string, number>>;
  readonly runId: string | null;
  readonly step: string | null;
  readonly createdAt: number;
  /** Whatever the step keeps to use the model again (a fitted model file, as JSON). */
  readonly artifact: unknown;
  readonly aliases: readonly string[];
}

export interface NewModelVersion {
  readonly name: string;
  readonly algorithm: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly artifact?: unknown;
  readonly runId: string | null;
  readonly step: string | null;
  readonly at: number;
}

export interface ModelRegistry {
  /** Adds the next version of `name`. */
  register(entry: NewModelVersion): Promise<ModelVersion>;
  /** Every version of a model, oldest first. */
  versions(name: string): Promise<ModelVersion[]>;
  /** A version by number or alias; throws MODEL_NOT_FOUND. */
  get(name: string, versionOrAlias: number | string): Promise<ModelVersion>;
  /** Points an alias at a version (moving it from any other). */
  setAlias(name: string, alias: string, version: number, at: number): Promise<void>;
  /** Registered model names. */
  names(): Promise<string[]>;
}

/** MODEL_NOT_FOUND for `get`, naming the versions there are (`known`, oldest first). */
export function modelNotFound(name: string, versionOrAlias: number | string, known: readonly number[]): NotFoundError {
  return new NotFoundError(
    "MODEL_NOT_FOUND",
    known.length
      ? `model "${name}" has no version or alias ${JSON.stringify(versionOrAlias)} (versions: ${known.join(", ")})`
      : `no model named "${name}" is registered`,
    { details: { name, version: versionOrAlias } },
  );
}
