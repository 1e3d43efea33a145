import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { ColumnBatch } from "../storage/table-engine.js";

/** One value as CSV text: dates as ISO-8601, objects as JSON, quotes doubled where needed. */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text =
    value instanceof Date
      ? value.toISOString()
      : typeof value === "object"
        ? JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))
        : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const jsonLine = (row: Record<string, unknown>): string => JSON.stringify(row, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v));

/**
 * Writes batches of rows to a CSV (with a header) or JSON-lines file, streaming: the readers a
 * program has everywhere (pandas, R, awk) take these. Returns the number of rows written.
 */
export async function writeRowsFile(path: string, format: "csv" | "jsonl", batches: AsyncIterable<ColumnBatch>): Promise<number> {
  const out = createWriteStream(path);
  let rows = 0;
  let header: string[] | undefined;
  const write = async (text: string): Promise<void> => {
    if (!out.write(text)) await once(out, "drain");
  };
  try {
    for await (const batch of batches) {
      const names = Object.keys(batch.columns);
      if (format === "csv" && !header) {
        header = names;
        await write(`${names.map(csvCell).join(",")}\n`);
      }
      let chunk = "";
      for (let i = 0; i < batch.length; i++) {
        chunk +=
          format === "csv"
            ? `${names.map((n) => csvCell(batch.columns[n]![i])).join(",")}\n`
            : `${jsonLine(Object.fromEntries(names.map((n) => [n, batch.columns[n]![i]])))}\n`;
      }
      rows += batch.length;
      await write(chunk);
    }
  } finally {
    out.end();
    await once(out, "close");
  }
  return rows;
}

/** Plain row objects as one column batch (for rows a TypeScript step returned). */
export async function* rowsAsBatches(rows: readonly Record<string, unknown>[]): AsyncIterable<ColumnBatch> {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  yield { length: rows.length, columns: Object.fromEntries(names.map((n) => [n, rows.map((r) => r[n] ?? null)])) };
}
