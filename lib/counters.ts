/**
 * Counters in shared memory, named as `ethtool -S` names them.
 *
 * A CounterBlock is a Float64Array over a SharedArrayBuffer (exact to 2^53) with a fixed
 * list of names. Each block has one writer (a queue worker, a device thread) that adds
 * locally during a breath and publishes once per breath with plain stores; any thread may
 * read at any time and sees values at most one breath old. No counter has two writers (a
 * pool's counters are its owner's: see queues/pool.ts), so none needs Atomics.
 *
 * A writer whose counters must agree with each other in every read (a queue's packets and
 * its exit counters: packets = Σ exits after each breath) brackets its stores with
 * beginWrite()/endWrite(), a sequence count as the kernel's u64_stats_sync keeps: odd while
 * a publish is under way. snapshot() then reads again until it saw one whole publish, so
 * `ethtool -S` never shows a breath's packets without its exits. Writers that do not
 * bracket leave the sequence at 0 and are read at once.
 *
 *   bytes [0, 8n)      the n counters (Float64)
 *         [8n, 8n+4)   the sequence (Int32): even at rest, odd while publishing
 */
export class CounterBlock {
  readonly values: Float64Array;
  readonly index: ReadonlyMap<string, number>;
  private readonly seq: Int32Array;

  constructor(
    readonly names: readonly string[],
    readonly sab: SharedArrayBuffer = new SharedArrayBuffer(names.length * 8 + 8),
  ) {
    this.values = new Float64Array(sab, 0, names.length);
    this.seq = new Int32Array(sab, names.length * 8, 1);
    this.index = new Map(names.map((n, i) => [n, i]));
  }

  /**
   * A publish begins (the one writer only). A writer that ended between begin and end left
   * the sequence odd; its successor's publish keeps it odd rather than making it even early.
   */
  beginWrite(): void {
    const s = this.seq[0]; // only this thread (or a predecessor that has ended) writes it
    // Pairs with snapshot()'s first Atomics.load: readers see odd before any counter moves.
    if ((s & 1) === 0) Atomics.store(this.seq, 0, s + 1);
  }

  /** The publish is whole: the next even sequence. */
  endWrite(): void {
    // Pairs with snapshot()'s second Atomics.load: the counters stored above are visible
    // to a reader that sees this value.
    Atomics.store(this.seq, 0, (this.seq[0] | 1) + 1);
  }

  /** Index of counter `name` (off the hot path); `owner` names whose counters these are in the error. */
  indexOf(name: string, owner: string): number {
    const i = this.index.get(name);
    if (i === undefined) throw new Error(`${owner}: no counter named ${name} (declare it in the PortType's counters)`);
    return i;
  }

  get(name: string): number {
    const i = this.index.get(name);
    if (i === undefined) throw new Error(`no counter named ${name}`);
    return this.values[i];
  }

  /**
   * Copies name → value pairs out (control plane, tests; allocates): one whole publish.
   * Reads again while a publish is under way, for at most 20 ms: past that the writer has
   * ended mid-publish (its successor will finish it) or is descheduled, and the values
   * are returned as they are, at most one breath apart.
   */
  snapshot(prefix = ''): Record<string, number> {
    const out: Record<string, number> = {};
    const deadline = performance.now() + 20;
    for (;;) {
      // Pairs with beginWrite()'s/endWrite()'s Atomics.store.
      const before = Atomics.load(this.seq, 0);
      for (let i = 0; i < this.names.length; i++) out[prefix + this.names[i]] = this.values[i];
      if (((before & 1) === 0 && Atomics.load(this.seq, 0) === before) || performance.now() > deadline) return out;
    }
  }

  /** The shape a block crosses a thread boundary in. */
  toShared(): SharedCounters {
    return { names: [...this.names], sab: this.sab };
  }

  static fromShared(s: SharedCounters): CounterBlock {
    return new CounterBlock(s.names, s.sab);
  }
}

export interface SharedCounters {
  names: string[];
  sab: SharedArrayBuffer;
}

/**
 * Compile-time proof that a counter name list and the index enum the hot path uses agree:
 * every member indexes its own name, and every name has a member. A reorder or a rename on
 * one side only fails `tsc`, so `ethtool -S` cannot print a count under another's name.
 *
 *   type _ = MustAgree<NamesAgree<typeof QUEUE_COUNTERS, typeof Q>>;
 */
export type MustAgree<T extends true> = T;
export type NamesAgree<L extends readonly string[], E> = [
  { [K in Extract<keyof E, string>]: E[K] extends number ? ([L[E[K]]] extends [K] ? true : false) : false }[Extract<keyof E, string>],
] extends [true]
  ? [L[number]] extends [Extract<keyof E, string>]
    ? true
    : false
  : false;

// The check is itself checked: two names in opposite orders must not compile.
declare const SWAPPED: readonly ['a', 'b'];
const enum Swapped {
  b,
  a,
}
// @ts-expect-error a and b are in opposite orders
type _SwappedFails = MustAgree<NamesAgree<typeof SWAPPED, typeof Swapped>>;
