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
