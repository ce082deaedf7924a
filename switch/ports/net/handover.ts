/**
 * Handover of received frames from the thread that owns a socket to another port's device
 * thread (VXLAN: one UDP socket, one switch port per VNI, one device thread per port).
 *
 *   owner thread (producer)                        member thread (consumer)
 *   socket 'message' → put() ─▶ ring of lengths ─▶ drain() → io.receive()
 *                               data slots (slot k holds the frame of ring slot k)
 *                               drops: kOversize, kFull  (owner adds, member folds into
 *                                                         its own counters)
 *                               doorbell ─────────────▶ member sleeps on it (waitAsync)
 *
 * The ring is the SPSC ring of queues/ring.ts with one-word entries (the frame length);
 * the entry's slot number indexes the data slots, so data never moves twice. The member
 * counts every frame handed to it (its own rx_packets), including those the owner had to
 * drop on its behalf, so each port's accounting stays complete.
 */
import { copyBytes } from '../../../queues/copy.js';
import { Ring } from '../../../queues/ring.js';
import { Doorbell } from '../../../queues/doorbell.js';

const kOversize = 0; // frames too large for a data slot (owner: Atomics.add; member: Atomics.exchange)
const kFull = 1; // frames dropped because the ring was full
const kDoorbell = 2; // the member's doorbell word
const kStatWords = 4;

export interface SharedHandover {
  ring: SharedArrayBuffer;
  data: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  slotSize: number;
}

/** Created by the member (consumer) and sent to the owner. */
export function createHandover(slots: number, slotSize: number): SharedHandover {
  return {
    ring: Ring.create(slots, 1).sab,
    data: new SharedArrayBuffer(slots * slotSize),
    stats: new SharedArrayBuffer(kStatWords * 4),
    slotSize,
  };
}

export class HandoverProducer {
  private readonly ring: Ring;
  private readonly data: Uint8Array;
  private readonly stats: Int32Array;
  private readonly slotSize: number;
  private pending = 0;

  constructor(s: SharedHandover) {
    this.ring = new Ring(s.ring);
    this.data = new Uint8Array(s.data);
    this.stats = new Int32Array(s.stats);
    this.slotSize = s.slotSize;
    this.ring.attachDoorbell(new Doorbell(this.stats, kDoorbell));
  }

  /** Stages a copy of src[off, off + len); publish with flush(). Allocation: see copy.ts (none for small frames). */
  put(src: Uint8Array, off: number, len: number): void {
    if (len > this.slotSize) {
      // Pairs with Atomics.exchange in HandoverConsumer.takeDrops().
      Atomics.add(this.stats, kOversize, 1);
      return;
    }
    if (this.ring.reserve(this.pending + 1) <= this.pending) {
      Atomics.add(this.stats, kFull, 1); // pairs with Atomics.exchange in takeDrops()
      return;
    }
    const w = this.ring.slotOf(this.pending);
    const slot = (w - this.ring.base) / this.ring.width;
    copyBytes(src, off, this.data, slot * this.slotSize, len);
    this.ring.words[w] = len;
    this.pending++;
  }

  /** Counts a frame too large to hand over that the caller did not copy (a truncated datagram). */
  dropOversize(): void {
    Atomics.add(this.stats, kOversize, 1); // pairs with Atomics.exchange in takeOversize()
  }

  /** Publishes the staged frames (one store) and wakes the member if it sleeps. */
  flush(): void {
    if (this.pending === 0) return;
    this.ring.submit(this.pending);
    this.pending = 0;
  }
}

export class HandoverConsumer {
  readonly ring: Ring;
  readonly data: Uint8Array;
  private readonly stats: Int32Array;
  private readonly slotSize: number;
  readonly doorbell: Doorbell;

  constructor(s: SharedHandover) {
    this.ring = new Ring(s.ring);
    this.data = new Uint8Array(s.data);
    this.stats = new Int32Array(s.stats);
    this.slotSize = s.slotSize;
    this.doorbell = new Doorbell(this.stats, kDoorbell);
  }

  /**
   * Hands up to `budget` frames to `deliver(bytes, offset, length)` and releases them.
   * Returns how many. Does not allocate.
   */
  drain(budget: number, deliver: (b: Uint8Array, o: number, len: number) => void): number {
    const n = this.ring.peek(budget);
    for (let k = 0; k < n; k++) {
      const w = this.ring.entryOf(k);
      const slot = (w - this.ring.base) / this.ring.width;
      deliver(this.data, slot * this.slotSize, this.ring.words[w]);
    }
    this.ring.release(n);
    return n;
  }

  /** Drops the owner counted since the last call: [oversize, ring full]. */
  takeOversize(): number {
    // Pairs with Atomics.add in HandoverProducer.put().
    return Atomics.exchange(this.stats, kOversize, 0);
  }
  takeFull(): number {
    return Atomics.exchange(this.stats, kFull, 0);
  }

  /**
   * Waits until the owner publishes (or timeoutMs passes) without blocking the event loop.
   * Sets NEEDS_WAKEUP, re-checks the ring (closing the lost-wakeup race with submit()),
   * then sleeps on the doorbell.
   */
  async wait(timeoutMs: number): Promise<void> {
    const seen = this.doorbell.read();
    this.ring.setNeedsWakeup();
    if (this.ring.peek(1) === 0) await this.doorbell.sleepAsync(seen, timeoutMs);
    this.ring.clearNeedsWakeup();
  }
}
