/**
 * The allocation tests' measure: how far the young generation's use moves while a hot path
 * runs synchronously (nothing else on this thread can allocate meanwhile).
 *
 * Only new_space is sampled. A per-packet allocation lands there and grows it between
 * samples (a scavenge that falls between two samples empties it, which only makes the
 * spread the whole semi-space). heapUsed would also count what the optimizing compiler
 * allocates when it finishes or redoes the hot loop (code and deoptimization data, in code
 * and old space): a CI run under the suite's load measured 244 KiB so, three times in a row,
 * in a test that measures a few KiB alone.
 */
import { getHeapSpaceStatistics } from 'node:v8';

export function youngUsed(): number {
  for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space') return s.space_used_size;
  throw new Error('no new_space in this V8');
}

export interface Spread {
  /** The lowest spread measured, in bytes. */
  spread: number;
  /** Units step() reported over the measurement that gave it. */
  processed: number;
  /** Every measurement's samples, in KiB: what a failure message shows. */
  samples: string;
}

/**
 * Runs step() (which returns how many units it did) until `total` units, sampling the young
 * generation every `every` units; the lowest spread of up to ATTEMPTS measurements, stopping
 * at one under `limit`. A one-off (a deoptimization's interpreted iterations boxing numbers
 * until the loop is optimized again) spoils one measurement; a per-unit allocation spoils
 * every one. The optimizing compiler runs on a background thread: on a machine the whole
 * suite loads, its job for the hot loop can finish several measurements late, and until it
 * does the baseline code boxes numbers as it goes (seen once in the pcap replay test: a
 * fail after three). Each measurement takes well under a second.
 */
const ATTEMPTS = 8;

export function youngSpread(step: () => number, total: number, limit = 200 * 1024, every = 65_536): Spread {
  let best: Spread = { spread: Infinity, processed: 0, samples: '' };
  const all: string[] = [];
  for (let attempt = 0; attempt < ATTEMPTS && best.spread >= limit; attempt++) {
    const samples: number[] = [];
    let processed = 0;
    while (processed < total) {
      let k = 0;
      while (k < every) k += step();
      processed += k;
      samples.push(youngUsed());
    }
    const spread = Math.max(...samples) - Math.min(...samples);
    all.push(samples.map((s) => Math.round(s / 1024)).join(' '));
    if (spread < best.spread) best = { spread, processed, samples: '' };
  }
  best.samples = `new_space KiB per sample: ${all.map((s, i) => `[${i + 1}] ${s}`).join('; ')}`;
  return best;
}
