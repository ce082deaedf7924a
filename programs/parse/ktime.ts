/**
 * A cheap clock for programs (bpf_ktime_get_ns). performance.now() costs ≈ 50 ns in
 * Node 20 — as much as a whole packet's budget — so the live switch's programs read a
 * clock word instead: a one-element array map holding nanoseconds, which a 1 ms timer
 * in the main thread rewrites (setup() starts it with startKtime). Reading it costs a
 * seqlocked two-word copy. Resolution: about 1 ms.
 *
 * Offline runs and tests pass env.now (the capture's timestamps, or a fake clock); a
 * program then uses that. If neither is there (a loader that never called setup()), the
 * clock falls back to performance.now() per call — correct, only slower.
 */
import type { ArrayMap, MapSpec, XdpMap } from '../maps/index.js';

/** Declare this map as `ktime` in a program's maps(). */
export const KTIME_MAP: MapSpec = { type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 };

const TICK_MS = 1;
// Strong references: a loaded program's clock must keep ticking after setup() returns.
// A replaced program leaves one small entry behind; the timer is unref'd.
const tickers = new Set<XdpMap>();
let timer: NodeJS.Timeout | null = null;
const zeroKey = new Uint8Array(4);
const value = new Float64Array(1);
const valueBytes = new Uint8Array(value.buffer);

function wallNs(): number {
  return (performance.timeOrigin + performance.now()) * 1e6;
}

function tick(): void {
  value[0] = wallNs();
  for (const m of tickers) m.update(zeroKey, valueBytes);
}

/** Main thread (setup()): keeps the clock map current from now on. */
export function startKtime(map: XdpMap): void {
  tickers.add(map);
  if (timer === null) {
    timer = setInterval(tick, TICK_MS);
    timer.unref();
  }
  tick();
}

export class Ktime {
  private readonly words = new Int32Array(2);
  private readonly f64 = new Float64Array(this.words.buffer);
  private readonly map: ArrayMap | null;
  private readonly now: (() => number) | null;

  constructor(map: XdpMap | undefined, now?: () => number) {
    this.now = now ?? null;
    const m = (map ?? null) as ArrayMap | null;
    // A clock map that was never started reads 0: fall back to performance.now().
    this.map = m !== null && m.lookupIndexWords(0, this.words) && this.f64[0] !== 0 ? m : null;
  }

  /** True when reading the shared clock word (the cheap path). */
  get shared(): boolean {
    return this.now === null && this.map !== null;
  }

  /** Nanoseconds. Does not allocate. */
  ns(): number {
    if (this.now !== null) return this.now();
    if (this.map === null) return wallNs();
    this.map.lookupIndexWords(0, this.words);
    return this.f64[0];
  }
}
