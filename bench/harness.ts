/**
 * The benchmark harness's shared pieces: what a mode is, what it reports, and the
 * xdp-bench-style printing (SPEC §5): a 23-column label, then value (10 chars, thousands
 * separators) + unit (13 chars) columns; `--json` prints one object per line instead.
 */
export interface BenchOptions {
  /** Seconds to measure each case (after a warm-up). */
  seconds: number;
  json: boolean;
  /** fuzz: rounds per configuration (default 100,000). */
  rounds?: number;
  /** soak: minutes to run (default 10). */
  minutes?: number;
}

export interface BenchResult {
  /** Mode name as printed, e.g. 'drop' or 'ref:postmessage'. */
  mode: string;
  /** Million packets per second (the headline figure). */
  mpps: number;
  [extra: string]: unknown;
}

export interface BenchMode {
  name: string;
  description: string;
  /** Long runs (fuzz, soak) run only when named, not in a plain `npm run bench`. */
  onlyWhenNamed?: boolean;
  run(opts: BenchOptions, report: (r: BenchResult) => void): Promise<void>;
}

const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function column(value: number, unit: string): string {
  return fmt.format(value).padStart(10) + ' ' + unit.padEnd(12);
}

/** One xdp-bench-style line: label, then columns. */
export function line(label: string, cols: [number, string][]): string {
  return label.padEnd(23) + cols.map(([v, u]) => column(v, u)).join('');
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Samples a monotonically growing counter over `seconds` after `warmup` seconds; returns per-second rate. */
export async function rate(read: () => number, seconds: number, warmup = 0.5): Promise<number> {
  await sleep(warmup * 1000);
  const t0 = process.hrtime.bigint();
  const c0 = read();
  await sleep(seconds * 1000);
  const c1 = read();
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  return (c1 - c0) / dt;
}
