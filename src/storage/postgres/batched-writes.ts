import DataLoader from "dataloader";

/**
 * Writes from every caller in one turn of the event loop, as one statement (`write` gets them
 * all). Items with the same `key` are one row: the last one is written, and every caller of that
 * key gets its outcome (Postgres refuses to change a row twice in one statement). When the batch
 * fails, each row is written alone, so only the caller whose row is bad gets the error.
 */
export function batchedWrites<T>(write: (items: readonly T[]) => Promise<void>, key: (item: T) => string): DataLoader<T, void> {
  return new DataLoader<T, void>(
    async (items) => {
      const last = new Map<string, T>();
      for (const item of items) {
        const k = key(item);
        last.delete(k); // re-inserted at the end: rows keep the order of their last write
        last.set(k, item);
      }
      try {
        await write([...last.values()]);
        return items.map(() => undefined);
      } catch (error) {
        if (last.size === 1) return items.map(() => error as Error);
        const outcome = new Map<string, Error | undefined>();
        for (const [k, item] of last)
          outcome.set(
            k,
            await write([item]).then(
              () => undefined,
              (e: unknown) => e as Error,
            ),
          );
        return items.map((item) => outcome.get(key(item)));
      }
    },
    { cache: false },
  );
}
