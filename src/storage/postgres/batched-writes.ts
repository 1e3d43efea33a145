import DataLoader from "dataloader";

/**
 * Writes from every caller as one statement (`write` gets them all), a group commit: the writes of
 * one turn of the event loop go together, and while a statement is on its way, the writes that come
 * meanwhile wait and go together in the next one. At rest a write leaves at the end of its turn;
 * under load each statement carries more rows instead of more statements running at once (on a
 * busy machine, a statement's cost is mostly its round trip and the wake-ups on both sides).
 *
 * Items with the same `key` are one row: the last one is written, and every caller of that key
 * gets its outcome (Postgres refuses to change a row twice in one statement). `write` may return
 * what each written item's caller gets. When the batch fails, each row is written alone, so only
 * the caller whose row is bad gets the error.
 */
export function batchedWrites<T, R = void>(write: Write<T, R>, key: (item: T) => string): DataLoader<T, R> {
  let inFlight: Promise<unknown> | undefined;
  const afterThisTurn = (dispatch: () => void): void => void Promise.resolve().then(() => process.nextTick(dispatch));
  return new DataLoader<T, R>(
    (items) => {
      const written = writeAll(write, key, items);
      const settled = (inFlight = written.then(
        () => undefined,
        () => undefined,
      ));
      void settled.then(() => {
        if (inFlight === settled) inFlight = undefined;
      });
      return written;
    },
    {
      cache: false,
      // A batch opens with its first write and takes every write until it is dispatched.
      batchScheduleFn: (dispatch) => (inFlight ? void inFlight.then(() => afterThisTurn(dispatch)) : afterThisTurn(dispatch)),
    },
  );
}

/** Writes items as one statement; resolves to what each written item's caller gets (nothing, by default). */
export type Write<T, R> = (items: readonly T[]) => Promise<((item: T) => R) | void>;

async function writeAll<T, R>(write: Write<T, R>, key: (item: T) => string, items: readonly T[]): Promise<(R | Error)[]> {
  const last = new Map<string, T>();
  for (const item of items) {
    const k = key(item);
    last.delete(k); // re-inserted at the end: rows keep the order of their last write
    last.set(k, item);
  }
  const outcomeOf = (result: ((item: T) => R) | void, item: T): R => (result ? result(item) : (undefined as R));
  try {
    const result = await write([...last.values()]);
    return items.map((item) => outcomeOf(result, last.get(key(item))!));
  } catch (error) {
    if (last.size === 1) return items.map(() => error as Error);
    const outcome = new Map<string, R | Error>();
    for (const [k, item] of last)
      outcome.set(
        k,
        await write([item]).then(
          (result) => outcomeOf(result, item),
          (e: unknown) => e as Error,
        ),
      );
    return items.map((item) => outcome.get(key(item))!);
  }
}
