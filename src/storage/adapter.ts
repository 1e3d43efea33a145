import type { Format, StorageDefinition, Technology } from "./storage-definition.js";
import type { KvStore } from "./kv-store.js";
import type { QuarantineStore } from "./quarantine-store.js";
import type { TableEngine } from "./table-engine.js";

/** What an adapter needs from its surroundings to open a storage. */
export interface StorageContext {
  /** Relative paths in options resolve against the project folder. */
  readonly projectDir: string;
  /** The project's state folder (`.strata/`), for embedded databases. */
  readonly stateDir: string;
  /** Where `*Env` options are looked up; process.env by default. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface Health {
  readonly ok: boolean;
  /** One line for `strata storage list`: a version, a row count, or why it is down. Never a secret. */
  readonly detail: string;
}

/** A storage opened for use. Each capability is present only if the technology has it for the format. */
export interface OpenStorage {
  readonly definition: StorageDefinition;
  /** Where its data is, for people: a file or folder path, or a server's host:port and schema or key prefix. Never a secret. */
  readonly location: string;
  readonly kv?: KvStore;
  readonly tables?: TableEngine;
  /** Format `files`: the folder raw input files are read from (absolute). */
  readonly files?: { readonly folder: string };
  /** Where rejected records are kept; the embedded warehouse (DuckDB) has it. */
  readonly quarantine?: QuarantineStore;
  health(): Promise<Health>;
  close(): Promise<void>;
}

/**
 * One technology: the formats it serves (a capability flag, so shared code never asks which
 * technology it has) and how to open a storage of it. Each lives in src/storage/<technology>/.
 */
export interface StorageAdapter {
  readonly technology: Technology;
  readonly formats: readonly Format[];
  /** Problems with a definition's options, one message each (empty when fine). Reads no secrets. */
  check(definition: StorageDefinition): string[];
  open(definition: StorageDefinition, context: StorageContext): Promise<OpenStorage>;
}
