import { nextBefore, type RunRecord, type RunStore } from "./run-store.js";

/** Runs read per page: one statement each, a bounded answer. */
const PAGE = 1000;

/**
 * Every run that is running, newest first, read a page at a time: a fleet or a backfill can have
 * more runs in flight than one page holds, and what must see all of them (recovery at start-up,
 * the versions they pin) must not stop at the first page. Pages follow each other by id, so a
 * run that ends or starts meanwhile neither shifts a page nor is read twice.
 */
export async function* runningRuns(store: RunStore, page = PAGE): AsyncGenerator<RunRecord> {
  let before: string | undefined;
  for (;;) {
    const runs = await store.listRuns({ status: "running", limit: page, ...(before === undefined ? {} : { before }) });
    yield* runs;
    before = nextBefore(runs, page);
    if (before === undefined) return;
  }
}
