/**
 * A frame pool with recycling, in the manner of Linux page_pool.
 *
 * Contract: one owner thread (the ingress device that allocates) uses alloc()/free(); any
 * number of other threads return frames, each through its own single-producer recycle
 * ring (RecycleRing), which only the owner consumes.
 *
 *   owner thread                                   returners (queue workers, egress devices)
 *   ┌────────────────────────────┐   refill (bulk)   ┌──────────────────────────────┐
 *   │ free stack (no atomics)    │ ◀──────────────── │ recycle ring r (SPSC)        │ ◀─ free
 *   │ alloc(): pop  free(): push │                   └──────────────────────────────┘
 *   └────────────────────────────┘
 *
 * Each pool owns the contiguous frames [first, first + count) of the frame area, so who
 * owns a frame is one division (poolOf). Every recycle ring can hold every frame of the
 * pool, so a return can never fail: frames are never lost and never released; the
 * recycle_ring_full counter exists for the path and stays zero (a test asserts it).
 *
 * The free stack lives in shared memory only so that the supervisor can count it after a
 * stop (the accounting invariant); only the owner touches it while running.
 */
import { Ring } from './ring.js';
import { CounterBlock, type MustAgree, type NamesAgree, type SharedCounters } from '../lib/counters.js';

/** Per-pool counters (Linux page_pool names, printed with the rx_pp_ prefix). */
export const POOL_COUNTERS = [
  'alloc_fast',
  'alloc_refill',
  'alloc_empty',
  'recycle_cached',
  'recycle_ring',
  'recycle_ring_full',
] as const;
export const enum PP {
  alloc_fast,
  alloc_refill,
  alloc_empty,
  recycle_cached,
  recycle_ring,
  recycle_ring_full,
}
type _PoolNamesAgree = MustAgree<NamesAgree<typeof POOL_COUNTERS, typeof PP>>;

const kTop = 0; // Int32 word: number of frames on the free stack; entries follow.

export interface SharedPool {
  first: number;
  count: number;
  stack: SharedArrayBuffer;
  rings: SharedArrayBuffer[];
  counters: SharedCounters;
}

export function recycleRingSize(count: number): number {
  let n = 2;
  while (n < count) n *= 2;
  return n;
}

/** Creates a pool over frames [first, first+count) with `returners` recycle rings, all frames free. */
export function createPool(first: number, count: number, returners: number): SharedPool {
  const stack = new SharedArrayBuffer((count + 1) * 4);
  const s = new Int32Array(stack);
  // Lowest frame on top: the first allocations walk the area in order.
  for (let i = 0; i < count; i++) s[1 + i] = first + count - 1 - i;
  s[kTop] = count;
  const rings: SharedArrayBuffer[] = [];
  for (let r = 0; r < returners; r++) rings.push(Ring.create(recycleRingSize(count), 1).sab);
  return { first, count, stack, rings, counters: new CounterBlock(POOL_COUNTERS).toShared() };
}

/** The owner's handle on a pool. */
export class FramePool {
  readonly first: number;
  readonly count: number;
  readonly counters: CounterBlock;
  private readonly stack: Int32Array;
  private readonly rings: Ring[];
  private top: number;
  private readonly c: Float64Array;

  constructor(shared: SharedPool) {
    this.first = shared.first;
    this.count = shared.count;
    this.stack = new Int32Array(shared.stack);
    this.rings = shared.rings.map((sab) => new Ring(sab));
    this.counters = CounterBlock.fromShared(shared.counters);
    this.c = this.counters.values;
    this.top = this.stack[kTop];
  }

  /** A free frame index, or -1 when the pool is empty (back-pressure). Does not allocate. */
  alloc(): number {
    if (this.top === 0) {
      if (this.refill() === 0) {
        this.c[PP.alloc_empty]++;
        return -1;
      }
      this.c[PP.alloc_refill]++;
    } else {
      this.c[PP.alloc_fast]++;
    }
    const f = this.stack[this.top];
    this.top--;
    return f;
  }

  /** Returns a frame from the owner's own thread (XDP_DROP at the device, a failed enqueue). */
  free(frame: number): void {
    // A full stack or a frame of another pool can only be a switch bug (a frame freed twice,
    // or freed to the wrong owner); past the stack's end the store would vanish and alloc()
    // would later hand out `undefined`. Reported as loudly as RecycleRing.put does.
    if (this.top >= this.count || !(frame >= this.first && frame < this.first + this.count)) {
      throw new Error(`frame pool ${this.first}…${this.first + this.count - 1}: frame ${frame} freed twice or not this pool's`);
    }
    this.top++;
    this.stack[this.top] = frame;
    this.c[PP.recycle_cached]++;
  }

  /** Pulls every frame waiting in the recycle rings onto the free stack; returns how many. */
  refill(): number {
    let total = 0;
    for (let r = 0; r < this.rings.length; r++) {
      const ring = this.rings[r];
      const n = ring.peek(this.count);
      if (n === 0) continue;
      const w = ring.words;
      for (let k = 0; k < n; k++) {
        this.top++;
        this.stack[this.top] = w[ring.entryOf(k)];
      }
      ring.release(n);
      total += n;
    }
    this.c[PP.recycle_ring] += total;
    return total;
  }

  /** Publishes the free-stack depth to shared memory (for accounting after a stop). */
  publish(): void {
    this.stack[kTop] = this.top;
  }

  /** Frames on the free stack now (owner's view). */
  available(): number {
    return this.top;
  }
}

/**
 * A returner's handle on one recycle ring of one pool. Frames are staged locally and
 * published with one submit per flush (once per breath).
 */
export class RecycleRing {
  private readonly ring: Ring;
  private staged = 0;

  constructor(sab: SharedArrayBuffer) {
    this.ring = new Ring(sab);
  }

  /**
   * Stages a frame for return; flush() publishes. Rings are sized to hold the whole pool,
   * so a full ring means a frame was returned twice — a switch bug, reported loudly.
   */
  put(frame: number): void {
    const ring = this.ring;
    if (ring.reserve(this.staged + 1) <= this.staged) throw new Error('recycle ring overflow: a frame was returned twice');
    ring.words[ring.slotOf(this.staged)] = frame;
    this.staged++;
  }

  flush(): void {
    if (this.staged !== 0) {
      this.ring.submit(this.staged);
      this.staged = 0;
    }
  }

  /** Frames published and not yet taken back by the owner. */
  queued(): number {
    return this.ring.count();
  }

  /** For accounting: every frame index sitting in the ring. */
  forEachQueued(fn: (frame: number) => void): void {
    const w = this.ring.words;
    this.ring.forEachQueued((o) => fn(w[o]));
  }

  /** A restarted returner takes over the producer side. */
  resync(): void {
    this.ring.resync();
    this.staged = 0;
  }
}
