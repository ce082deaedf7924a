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
 *
 * Super-frames (GSO/GRO, up to 64 KB): a pool may also own `large` frames of `span`
 * consecutive frame slots each, in a region of the area after every pool's ordinary
 * frames, each named by its first slot:
 *
 *   [first, first+count)                      ordinary frames (alloc)
 *   [largeFirst, largeFirst+large·span)       super-frames, one per span slots (allocLarge)
 *
 * frame × frameSize still finds a super-frame's bytes, so rings, copies and the accounting
 * treat it as any frame; only the owner tells the two apart (by index) to put it back on
 * its own free stack. A pool without super-frames is exactly as before.
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
  /** Super-frames from slot largeFirst on, `span` slots each (0 when none). */
  largeFirst: number;
  large: number;
  span: number;
  stack: SharedArrayBuffer;
  /** The super-frames' free stack (same layout as `stack`). */
  largeStack: SharedArrayBuffer;
  rings: SharedArrayBuffer[];
  counters: SharedCounters;
}

export function recycleRingSize(count: number): number {
  let n = 2;
  while (n < count) n *= 2;
  return n;
}

/**
 * Creates a pool over frames [first, first+count) with `returners` recycle rings, all frames
 * free, and `large` super-frames of `span` slots each from slot `largeFirst` on.
 */
export function createPool(first: number, count: number, returners: number, large = 0, span = 0, largeFirst = first + count): SharedPool {
  const stack = new SharedArrayBuffer((count + 1) * 4);
  const s = new Int32Array(stack);
  // Lowest frame on top: the first allocations walk the area in order.
  for (let i = 0; i < count; i++) s[1 + i] = first + count - 1 - i;
  s[kTop] = count;
  const largeStack = new SharedArrayBuffer((large + 1) * 4);
  const l = new Int32Array(largeStack);
  for (let i = 0; i < large; i++) l[1 + i] = largeFirst + (large - 1 - i) * span;
  l[kTop] = large;
  const rings: SharedArrayBuffer[] = [];
  for (let r = 0; r < returners; r++) rings.push(Ring.create(recycleRingSize(count + large), 1).sab);
  return { first, count, largeFirst, large, span, stack, largeStack, rings, counters: new CounterBlock(POOL_COUNTERS).toShared() };
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
  /** First super-frame slot and the end of the super-frames' slots. */
  private readonly largeFirst: number;
  private readonly largeEnd: number;
  private readonly span: number;
  private readonly largeStack: Int32Array;
  private largeTop: number;
  /**
   * recycle_cached since the last publish(): an integer in this object, added to the shared
   * counter once per publish (a Float64Array element incremented per packet costs a load, a
   * float add and a store in shared memory, per packet). alloc_fast is not counted per
   * packet at all: publish() derives it from the stack's depth, which moves only by pops
   * (alloc), pushes (free: `cached`) and refills (`refilled`, `refillAllocs`).
   */
  private cached = 0;
  /** The stack's depth at the last publish (or resync). */
  private topSeen: number;
  /** Frames refill() put on the stack, and allocations that followed a refill, since then. */
  private refilled = 0;
  private refillAllocs = 0;

  constructor(shared: SharedPool) {
    this.first = shared.first;
    this.count = shared.count;
    this.span = shared.span;
    this.largeFirst = shared.largeFirst;
    this.largeEnd = this.largeFirst + shared.large * shared.span;
    this.largeStack = new Int32Array(shared.largeStack);
    this.largeTop = this.largeStack[kTop];
    this.stack = new Int32Array(shared.stack);
    this.rings = shared.rings.map((sab) => new Ring(sab));
    this.counters = CounterBlock.fromShared(shared.counters);
    this.c = this.counters.values;
    this.top = this.stack[kTop];
    this.topSeen = this.top;
  }

  /** A free frame index, or -1 when the pool is empty (back-pressure). Does not allocate. */
  alloc(): number {
    if (this.top === 0) {
      if (this.refill() === 0 || this.top === 0) {
        this.c[PP.alloc_empty]++;
        return -1;
      }
      this.c[PP.alloc_refill]++;
      this.refillAllocs++;
    }
    const f = this.stack[this.top];
    this.top--;
    return f;
  }

  /**
   * A free super-frame (its first slot), or -1 when none is free (the caller goes on with
   * ordinary frames: GRO delivers segments as they came). Does not allocate.
   */
  allocLarge(): number {
    if (this.largeTop === 0 && (this.largeFirst === this.largeEnd || this.refill() === 0 || this.largeTop === 0)) return -1;
    return this.largeStack[this.largeTop--];
  }

  /** Returns a frame from the owner's own thread (XDP_DROP at the device, a failed enqueue). */
  free(frame: number): void {
    if (frame >= this.largeFirst) return this.freeLarge(frame);
    // A full stack or a frame of another pool can only be a switch bug (a frame freed twice,
    // or freed to the wrong owner); past the stack's end the store would vanish and alloc()
    // would later hand out `undefined`. Reported as loudly as RecycleRing.put does.
    if (this.top >= this.count || !(frame >= this.first && frame < this.first + this.count)) this.misfreed(frame, " or not this pool's");
    this.top++;
    this.stack[this.top] = frame;
    this.cached++;
  }

  /**
   * free() of a frame the caller knows is one of this pool's ordinary frames (the queue
   * engine's one unsigned compare already said so): only the double-free guard remains.
   */
  freeOwn(frame: number): void {
    if (this.top >= this.count) this.misfreed(frame, '');
    this.stack[++this.top] = frame;
    this.cached++;
  }

  /**
   * The error of a frame freed twice (or to the wrong pool), out of line: the message's
   * template kept inside free() and freeOwn() made them too large for V8 to inline into
   * the packet loops that call them.
   */
  private misfreed(frame: number, more: string): never {
    throw new Error(`frame pool ${this.first}…${this.first + this.count - 1}: frame ${frame} freed twice${more}`);
  }

  private freeLarge(frame: number): void {
    if (this.largeTop >= this.largeEnd - this.largeFirst || frame >= this.largeEnd || (frame - this.largeFirst) % this.span !== 0) {
      throw new Error(`frame pool ${this.first}…${this.largeEnd - 1}: super-frame ${frame} freed twice or not this pool's`);
    }
    this.largeStack[++this.largeTop] = frame;
  }

  /** Pulls every frame waiting in the recycle rings onto the free stacks; returns how many. */
  refill(): number {
    let total = 0;
    const largeFirst = this.largeFirst;
    const before = this.top;
    for (let r = 0; r < this.rings.length; r++) {
      const ring = this.rings[r];
      const n = ring.peek(this.count + this.largeStack.length);
      if (n === 0) continue;
      const w = ring.words;
      for (let k = 0; k < n; k++) {
        const f = w[ring.entryOf(k)];
        if (f >= largeFirst) this.largeStack[++this.largeTop] = f;
        else this.stack[++this.top] = f;
      }
      ring.release(n);
      total += n;
    }
    this.c[PP.recycle_ring] += total;
    this.refilled += this.top - before;
    return total;
  }

  /**
   * Publishes the free-stack depth to shared memory (for accounting after a stop), and the
   * fast-path counts (alloc_fast, recycle_cached) kept since the last publish. The owner
   * publishes once per batch (a breath, a device's poll), so the counters lag by one batch.
   */
  publish(): void {
    this.stack[kTop] = this.top;
    this.largeStack[kTop] = this.largeTop;
    // Every pop since the last publish, less those that followed a refill.
    const fast = this.topSeen + this.cached + this.refilled - this.top - this.refillAllocs;
    if (fast !== 0) this.c[PP.alloc_fast] += fast;
    this.topSeen = this.top;
    this.refilled = this.refillAllocs = 0;
    if (this.cached !== 0) {
      this.c[PP.recycle_cached] += this.cached;
      this.cached = 0;
    }
  }

  /** The words publish() stores the depths in (a breath journal names them): [stack, super-frame stack], word 0 each. */
  depthWords(): [Int32Array, Int32Array] {
    return [this.stack, this.largeStack];
  }

  /** A successor replayed its predecessor's depths: take them as its own. */
  resync(): void {
    this.top = this.stack[kTop];
    this.largeTop = this.largeStack[kTop];
    this.topSeen = this.top;
    this.cached = this.refilled = this.refillAllocs = 0;
  }

  /** Frames on the free stack now (owner's view). */
  available(): number {
    return this.top;
  }

  /** Super-frames on their free stack now (owner's view). */
  largeAvailable(): number {
    return this.largeTop;
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

  /** The ring flush() submits on (a breath journal names its producer word). */
  get shared(): Ring {
    return this.ring;
  }

  /** Frames put since the last flush. */
  get pending(): number {
    return this.staged;
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
