/**
 * A cheap clock for programs (bpf_ktime_get_ns, in milliseconds). performance.now()
 * costs ≈ 50 ns in Node 20 — as much as a whole packet's budget — so the live switch's
 * programs read a clock word instead: the first word of a one-element array map. Reading it
 * is one plain load of one word (tear-free; no Atomics call).
 *
 * Who keeps it current: the threads that run the programs. setup() seeds the word on the
 * main thread (startKtime); each queue worker then calls refreshClocks() before every pass
 * over its queues (one performance.now() per pass, not per packet, and none in a thread
 * whose programs read no clock), so the word is never older than the breath that reads it,
 * also right after the worker wakes. A sleeping switch keeps no clock ticking: a 1 ms timer
 * on the main thread did, and was an idle switch's largest cost (≈ 650 wake-ups a second,
 * ≈ 5% of a core with l2switch loaded). Several workers share a map's word: each only moves
 * it forward (compare-and-swap), so the clock never runs backwards.
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

function wallMs(): number {
  return Math.floor(performance.timeOrigin + performance.now()) | 0;
}

/** Moves a clock word forward to `now` (never back: another worker may have written a later time). */
function advance(words: Int32Array, at: number, now: number): void {
  for (;;) {
    // Pairs with the other writers' compareExchange; readers' plain loads see old or new.
    const old = Atomics.load(words, at);
    if (((now - old) | 0) <= 0) return;
    if (Atomics.compareExchange(words, at, old, now) === old) return;
  }
}

/** Main thread (setup()): seeds the clock map's word; the workers keep it current (refreshClocks). */
export function startKtime(map: XdpMap): void {
  const m = map as ArrayMap;
  advance(m.words, m.valueWord(0), wallMs());
}

/**
 * The clock words the programs of this thread read, one entry per map (a replaced program's
 * map stays behind: one entry, a few bytes).
 */
const clocks = new Map<ArrayBufferLike, { words: Int32Array; at: number }>();
let clockList: { words: Int32Array; at: number }[] = [];

/**
 * Queue workers, before each pass over their queues: brings every clock word this thread's
 * programs read up to now. Nothing to do (no performance.now()) in a thread without any.
 */
export function refreshClocks(): void {
  const list = clockList;
  if (list.length === 0) return;
  const now = wallMs();
  // Written once a millisecond at most: the word's cache line is read by every packet of
  // every worker, so a store per pass would bounce it between the workers' cores.
  if (now === lastWritten) return;
  lastWritten = now;
  for (let i = 0; i < list.length; i++) advance(list[i].words, list[i].at, now);
}

/** The last time this thread wrote (ms, wrapped). */
let lastWritten = 0;

function register(words: Int32Array, at: number): void {
  if (clocks.has(words.buffer)) return;
  clocks.set(words.buffer, { words, at });
  clockList = [...clocks.values()];
  lastWritten = 0; // the new word is written at the next pass
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
    // The thread that reads the word keeps it current (refreshClocks).
    if (started && this.now === null) register(this.words!, this.at);
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
