/** Small text helpers shared by the CLI's commands. */

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, "0")}s`;
}

export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "-";
  return new Date(ms)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "Z");
}

export function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

/** A plain, aligned text table (no borders, so it pastes well into tickets). */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

const SYMBOLS: Record<string, string> = {
  pending: "·",
  running: "▶",
  retrying: "↻",
  succeeded: "✔",
  failed: "✖",
  skipped: "○",
  reused: "≡",
  cancelled: "■",
};

export function statusSymbol(status: string): string {
  return SYMBOLS[status] ?? "?";
}
