/**
 * A cheap clock for programs (bpf_ktime_get_ns, in milliseconds). performance.now()
 * costs ≈ 50 ns in Node 20 — as much as a whole packet's budget — so the live switch's
 * programs read a clock word instead: the first word of a one-element array map, which a
 * 1 ms timer in the main thread rewrites (setup() starts it with startKtime). Reading it
 * is one plain load of one word (tear-free; no Atomics call).
 *
 * The word holds milliseconds since the epoch, wrapped to 32 bits: compare two readings
 * with `(later − earlier) >>> 0`, which is right for intervals under 49 days.
 *
 * Offline runs and tests pass env.now (nanoseconds: the capture's timestamps, or a fake
 * clock); a program then uses that. If neither is there (a loader that never called
 * setup()), the clock falls back to performance.now() per call — correct, only slower.
 */
import type { ArrayMap, MapSpec, XdpMap } from '../maps/index.js';

/** Declare this map as `ktime` in a program's maps(). */
export const KTIME_MAP: MapSpec = { type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 };

const TICK_MS = 1;
// Strong references: a loaded program's clock must keep ticking after setup() returns.
// A replaced program leaves one small entry behind; the timer is unref'd.
const tickers = new Set<ArrayMap>();
let timer: NodeJS.Timeout | null = null;

function wallMs(): number {
  return Math.floor(performance.timeOrigin + performance.now()) | 0;
}

function tick(): void {
  const now = wallMs();
  // Pairs with Ktime.ms()'s plain load: a single word, so old or new, never torn.
  for (const m of tickers) Atomics.store(m.words, m.valueWord(0), now);
}

/** Main thread (setup()): keeps the clock map current from now on. */
export function startKtime(map: XdpMap): void {
  tickers.add(map as ArrayMap);
  if (timer === null) {
    timer = setInterval(tick, TICK_MS);
    timer.unref();
  }
  tick();
}

export class Ktime {
  private readonly words: Int32Array | null;
  private readonly at: number;
  private readonly now: (() => number) | null;

  constructor(map: XdpMap | undefined, now?: () => number) {
    this.now = now ?? null;
    const m = (map ?? null) as ArrayMap | null;
    // A clock map that was never started reads 0: fall back to performance.now().
    const started = m !== null && m.readWord(0, 0) !== 0;
    this.words = started ? m!.words : null;
    this.at = started ? m!.valueWord(0) : 0;
  }

  /** True when reading the shared clock word (the cheap path). */
  get shared(): boolean {
    return this.now === null && this.words !== null;
  }

  /** Milliseconds, wrapped to 32 bits (see the file comment). Does not allocate. */
  ms(): number {
    if (this.now !== null) return Math.floor(this.now() / 1e6) | 0;
    if (this.words === null) return wallMs();
    return this.words[this.at];
  }
}
