/**
 * Counters in shared memory, named as `ethtool -S` names them.
 *
 * A CounterBlock is a Float64Array over a SharedArrayBuffer (exact to 2^53) with a fixed
 * list of names. Each block has one writer (a queue worker, a device thread) that adds
 * locally during a breath and publishes once per breath with plain stores; any thread may
 * read at any time and sees values at most one breath old. No counter has two writers (a
 * pool's counters are its owner's: see queues/pool.ts), so none needs Atomics.
 */
export class CounterBlock {
  readonly values: Float64Array;
  readonly index: ReadonlyMap<string, number>;

  constructor(
    readonly names: readonly string[],
    readonly sab: SharedArrayBuffer = new SharedArrayBuffer(names.length * 8),
  ) {
    this.values = new Float64Array(sab);
    this.index = new Map(names.map((n, i) => [n, i]));
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

  /** Copies name → value pairs out (control plane, tests; allocates). */
  snapshot(prefix = ''): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < this.names.length; i++) out[prefix + this.names[i]] = this.values[i];
    return out;
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
