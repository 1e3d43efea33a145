import { StrataError } from "../errors/strata-error.js";
import type { StorageDefinition } from "./storage-definition.js";

export type VersionStatus = "writing" | "ready" | "failed" | "dropped";

/** A dataset's write lock, held (`CatalogStore.holdDataset`). */
export interface DatasetHold {
  /**
   * Throws STORAGE_UNAVAILABLE when the lock was lost while held (the database session holding it
   * ended): another writer may be under way, so what this one made must not go live.
   */
  ensure(): void;
  /** Lets go; never rejects. */
  release(): Promise<void>;
}

/** One version of a dataset, as the catalog records it. */
export interface DatasetVersion {
  readonly dataset: string;
  readonly version: number;
  readonly storage: string;
  readonly status: VersionStatus;
  readonly rows: number | null;
  /** The run and step that wrote it (null for a version written outside a run). */
  readonly runId: string | null;
  readonly step: string | null;
  /** For a partitioned dataset: the partition this version replaced. */
  readonly partition: string | null;
  readonly createdAt: number;
  readonly finishedAt: number | null;
  readonly error: string | null;
  readonly live: boolean;
}

/** A dataset version a run read or wrote. */
export interface LineageRecord {
  readonly runId: string;
  readonly step: string;
  readonly dataset: string;
  readonly version: number;
  readonly direction: "read" | "write";
  readonly at: number;
}

/**
 * The catalog half of the metadata store: storages added at run time (definitions only; secrets
 * stay in environment variables), dataset versions with their live pointer, and lineage.
 */
/** What `beginVersion` records of a version about to be written. */
export interface NewDatasetVersion {
  readonly dataset: string;
  readonly storage: string;
  readonly runId: string | null;
  readonly step: string | null;
  readonly partition: string | null;
  readonly at: number;
}

export interface CatalogStore {
  addStorage(definition: StorageDefinition, at: number): Promise<void>;
  removeStorage(name: string): Promise<boolean>;
  listStorages(): Promise<StorageDefinition[]>;

  /** Allocates the next version number of a dataset and records it as "writing". */
  beginVersion(entry: NewDatasetVersion): Promise<number>;
  finishVersion(dataset: string, version: number, rows: number, at: number): Promise<void>;
  failVersion(dataset: string, version: number, error: string, at: number): Promise<void>;
  /**
   * Takes the dataset's write lock, shared by every process on this metadata database: one writer
   * at a time from reading its live version to the flip (a partition write builds on the live
   * version: two at once would lose one's rows). Waits while another holds it; a process that
   * dies lets go of it. `signal` (a step attempt's: its timeout, its run's cancel) ends the wait:
   * it rejects with the signal's reason, and the lock is not taken.
   */
  holdDataset(dataset: string, signal?: AbortSignal): Promise<DatasetHold>;
  /** Records `version` as the live one (after the storage's alias flipped). */
  setLive(dataset: string, version: number, at: number): Promise<void>;
  markDropped(dataset: string, version: number): Promise<void>;
  versions(dataset: string): Promise<DatasetVersion[]>;
  /** The versions a run allocated, of any dataset. */
  versionsOfRun(runId: string): Promise<DatasetVersion[]>;
  liveVersion(dataset: string): Promise<DatasetVersion | null>;
  /** Every dataset with at least one version. */
  datasets(): Promise<string[]>;

  recordLineage(records: readonly LineageRecord[]): Promise<void>;
  lineageOfRun(runId: string): Promise<LineageRecord[]>;
}

/** What `addStorage` throws when the name is taken. */
export function storageExists(name: string): StrataError {
  return new StrataError("STORAGE_EXISTS", `a storage named "${name}" exists already`, { details: { storage: name } });
}
