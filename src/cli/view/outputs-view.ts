import { relative } from "node:path";
import type { DatasetVersion } from "../../storage/catalog-store.js";
import type { StorageSet } from "../../data/storage-set.js";
import { table } from "../format.js";

/** A dataset version a run wrote, and where it is: what `strata run` prints under "outputs:". */
export interface WrittenOutput {
  readonly dataset: string;
  readonly version: number;
  readonly status: DatasetVersion["status"];
  readonly live: boolean;
  readonly rows: number | null;
  readonly step: string | null;
  readonly storage: string;
  readonly technology: string;
  readonly location: string;
}

/** The versions a run wrote, each with its storage's location (a storage that cannot be opened says why). */
export async function writtenOutputs(versions: readonly DatasetVersion[], storages: StorageSet): Promise<WrittenOutput[]> {
  return Promise.all(
    versions.map(async (v) => {
      const opened = await storages.open(v.storage).then(
        (s) => ({ technology: s.definition.technology, location: s.location }),
        (error: unknown) => ({ technology: "?", location: `cannot be opened: ${(error as Error).message}` }),
      );
      return {
        dataset: v.dataset,
        version: v.version,
        status: v.status,
        live: v.live,
        rows: v.rows,
        step: v.step,
        storage: v.storage,
        ...opened,
      };
    }),
  );
}

/** Absolute paths shown relative to where the command was started, when that is shorter. */
function shortPath(location: string, cwd: string): string {
  if (!location.startsWith("/")) return location;
  const rel = relative(cwd, location);
  return rel.length < location.length ? rel : location;
}

/** "outputs:" and one line per version written: dataset, version, rows, storage (technology) and where. */
export function outputsSection(outputs: readonly WrittenOutput[], cwd: string): string[] {
  if (!outputs.length) return [];
  const rows = outputs.map((o) => [
    o.dataset,
    `v${o.version}${o.live ? " (live)" : o.status === "ready" ? "" : ` (${o.status})`}`,
    o.rows === null ? "" : String(o.rows),
    `${o.storage} (${o.technology})`,
    shortPath(o.location, cwd),
  ]);
  const body = table(["dataset", "version", "rows", "storage", "where"], rows);
  return ["outputs:", ...body.split("\n").map((l) => `  ${l}`)];
}
