/**
 * xdp-bench's output layout: a 23-column label, then columns of a 10-character value
 * with thousands separators and a 13-character unit; exit summary lines `  Name<pad>: value`.
 */
export const LABEL_WIDTH = 23;

export function thousands(n: number): string {
  const s = Math.round(n).toString();
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** One column: value right-aligned in 10, then ' unit' left-aligned in 13. */
export function column(value: number, unit: string): string {
  return thousands(value).padStart(10) + (' ' + unit).padEnd(13);
}

export function row(label: string, cols: [number, string][]): string {
  return (label.length >= LABEL_WIDTH ? label.slice(0, LABEL_WIDTH - 1) + ' ' : label.padEnd(LABEL_WIDTH)) + cols.map(([v, u]) => column(v, u)).join('').trimEnd();
}

/** `  Name              : value` lines with names padded to the longest. */
export function summaryLines(entries: [string, string][]): string[] {
  const w = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `  ${k.padEnd(w)}: ${v}`);
}

export function duration(seconds: number): string {
  return `${seconds.toFixed(1)}s`;
}
