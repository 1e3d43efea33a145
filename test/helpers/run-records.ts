import type { RunRecord } from "../../src/storage/run-store.js";

/** A run record as a store test writes it: a running run of "daily", with `overrides`. */
export function runRecord(id: string, overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    id,
    pipeline: "daily",
    status: "running",
    trigger: { kind: "manual", id: `t-${id}` },
    params: { day: "2026-01-01", n: 3 },
    inputParams: { day: "2026-01-01", n: "3" },
    owner: "host:1",
    resumedFrom: null,
    startedAt: 1000,
    endedAt: null,
    error: null,
    ...overrides,
  };
}
