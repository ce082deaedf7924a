/**
 * Device side of a split virtqueue (what vhost does): take chains the driver made
 * available, walk and check them, hand their buffers to the caller, return them on the
 * used ring, and decide when to interrupt the driver.
 *
 * Contract: one device thread owns the queue's device side (used ring, avail_event,
 * used flags); the guest owns the rest. The device trusts nothing the guest wrote: every
 * index is bounded by the queue size, every buffer by guest memory, every chain by the
 * queue (or indirect table) size; each descriptor is read once into locals, so a guest
 * rewriting it concurrently cannot make a checked value change under us. A violation
 * returns CHAIN_ERROR with `error` naming it (messages as Linux vhost logs them); the
 * caller marks the device DEVICE_NEEDS_RESET. Nothing here writes guest memory other than
 * the used ring, and nothing reads or writes outside guest memory. Nothing here allocates
 * after construction.
 */
import { GuestMemory } from './virtqueue-memory.js';
import {
  AVAIL_ALIGN,
  AVAIL_FLAGS,
  AVAIL_IDX,
  AVAIL_RING,
  DESC_ALIGN,
  USED_ALIGN,
  USED_FLAGS,
  USED_IDX,
  USED_RING,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_USED_F_NO_NOTIFY,
  availEventOffset,
  availRingBytes,
  descTableBytes,
  isValidQueueSize,
  needEvent,
  usedEventOffset,
  usedRingBytes,
  type SplitLayout,
} from './virtqueue.js';

/** pop(): nothing available. */
export const CHAIN_NONE = -1;
/** pop(): the guest broke a rule; see `error`. */
export const CHAIN_ERROR = -2;

export interface DeviceQueueOptions {
  eventIdx: boolean;
  indirect: boolean;
}

/** Checks a layout the driver wrote before the device uses it; returns what is wrong or null. */
export function checkLayout(mem: GuestMemory, l: SplitLayout): string | null {
  if (!isValidQueueSize(l.size)) return `queue size ${l.size} is not a power of two in 1..32768`;
  if (l.desc % DESC_ALIGN !== 0 || l.avail % AVAIL_ALIGN !== 0 || l.used % USED_ALIGN !== 0)
    return `queue areas misaligned (desc 0x${l.desc.toString(16)}, avail 0x${l.avail.toString(16)}, used 0x${l.used.toString(16)})`;
  if (!mem.contains(l.desc, descTableBytes(l.size)) || !mem.contains(l.avail, availRingBytes(l.size)) || !mem.contains(l.used, usedRingBytes(l.size)))
    return 'queue areas lie outside guest memory';
  return null;
}

export class SplitDeviceQueue {
  readonly size: number;
  readonly mask: number;
  /** Next available-ring index to consume (u16, free-running). */
  lastAvail = 0;
  /** Why the last pop() returned CHAIN_ERROR (a constant string; no allocation). */
  error = '';

  // The chain pop() returned: segments in order, readable ones first.
  readonly segAddr: Uint32Array;
  readonly segLen: Uint32Array;
  segCount = 0;
  /** Number of leading readable segments (the rest are writable). */
  readableCount = 0;
  readableBytes = 0;
  writableBytes = 0;

  private readonly m: GuestMemory;
  private readonly desc: number;
  private readonly avail: number;
  private readonly used: number;
  private readonly wAvailIdx: number;
  private readonly wAvailFlags: number;
  private readonly wUsedIdx: number;
  private readonly wUsedFlags: number;
  private readonly wUsedEvent: number;
  private readonly wAvailEvent: number;
  private readonly eventIdx: boolean;
  private readonly indirect: boolean;
  /** Next used-ring index to write (u16). */
  private usedShadow = 0;
  /** Used index last published (u16). */
  private usedPublished = 0;
  /** avail idx as last loaded and checked (u16). */
  private availCached = 0;

  /** `layout` must have passed checkLayout(). */
  constructor(mem: GuestMemory, layout: SplitLayout, opts: DeviceQueueOptions) {
    this.m = mem;
    this.size = layout.size;
    this.mask = layout.size - 1;
    this.desc = layout.desc;
    this.avail = layout.avail;
    this.used = layout.used;
    this.wAvailFlags = (layout.avail + AVAIL_FLAGS) >>> 1;
    this.wAvailIdx = (layout.avail + AVAIL_IDX) >>> 1;
    this.wUsedEvent = (layout.avail + usedEventOffset(layout.size)) >>> 1;
    this.wUsedFlags = (layout.used + USED_FLAGS) >>> 1;
    this.wUsedIdx = (layout.used + USED_IDX) >>> 1;
    this.wAvailEvent = (layout.used + availEventOffset(layout.size)) >>> 1;
    this.eventIdx = opts.eventIdx;
    this.indirect = opts.indirect;
    // A direct chain has at most Q descriptors, plus at most Q in one indirect table.
    this.segAddr = new Uint32Array(2 * layout.size);
    this.segLen = new Uint32Array(2 * layout.size);
    // A queue starts at index 0 on both rings (the driver zeroes them before DRIVER_OK;
    // we take its avail idx as-is and check every later move against it).
    this.lastAvail = 0;
    this.usedShadow = 0;
    this.usedPublished = 0;
  }

  /**
   * Chains waiting, or -1 when the driver moved avail idx by more than Q (a violation; sets
   * `error`). Does not allocate.
   */
  pending(): number {
    // Chains already seen at the last load need no new one (one Atomics.load per batch).
    const cached = (this.availCached - this.lastAvail) & 0xffff;
    if (cached !== 0) return cached;
    // Pairs with the driver's Atomics.store of avail idx after it wrote the ring entries
    // and descriptors: what we read from them below is at least that new.
    const idx = Atomics.load(this.m.u16, this.wAvailIdx);
    const n = (idx - this.lastAvail) & 0xffff;
    if (n > this.size) {
      this.error = 'Guest moved avail index by more than the queue size';
      return -1;
    }
    this.availCached = idx;
    return n;
  }

  /**
   * Takes the next available chain and checks it. Returns its head index, CHAIN_NONE, or
   * CHAIN_ERROR. On success the segments are in segAddr/segLen[0, segCount). Does not allocate.
   */
  pop(): number {
    const n = this.pending();
    if (n < 0) return CHAIN_ERROR;
    if (n === 0) return CHAIN_NONE;
    const dv = this.m.view;
    const m = this.m;
    const head = dv.getUint16(this.avail + AVAIL_RING + 2 * (this.lastAvail & this.mask), true);
    if (head >= this.size) return this.fail('Guest says index is available: head ≥ queue size');

    let table = this.desc;
    let tableSize = this.size;
    let inIndirect = false;
    let count = 0;
    let segs = 0;
    let readable = 0;
    let writable = 0;
    let readableCount = 0;
    let i = head;
    for (;;) {
      if (i >= tableSize) return this.fail('Desc next is out of range (≥ table size)');
      if (++count > tableSize) return this.fail('Loop detected: chain longer than the queue');
      const d = table + 16 * i;
      const lo = dv.getUint32(d, true);
      const hi = dv.getUint32(d + 4, true);
      const len = dv.getUint32(d + 8, true);
      const flags = dv.getUint16(d + 12, true);
      const next = dv.getUint16(d + 14, true);
      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
        if (!this.indirect) return this.fail('Indirect descriptor without INDIRECT_DESC negotiated');
        if (inIndirect) return this.fail('Nested indirect descriptor');
        if ((flags & VIRTQ_DESC_F_NEXT) !== 0) return this.fail('Indirect descriptor with NEXT set');
        if (len === 0 || len % 16 !== 0) return this.fail('Invalid size for indirect buffer table');
        if (len / 16 > this.size) return this.fail('Indirect buffer table larger than the queue');
        // Only the size is checked, as QEMU and vhost do: the table need not be 16-aligned
        // (the spec asks no alignment of it, and reads here are byte-addressed).
        if (hi !== 0 || !m.contains(lo, len)) return this.fail('Indirect table address outside guest memory');
        table = lo;
        tableSize = len / 16;
        inIndirect = true;
        count = 0;
        i = 0;
        continue;
      }
      if (hi !== 0 || !m.contains(lo, len)) return this.fail('Descriptor address outside guest memory');
      if ((flags & VIRTQ_DESC_F_WRITE) !== 0) {
        writable += len;
      } else {
        if (writable !== 0 || segs !== readableCount) return this.fail('Descriptor has out after in');
        readable += len;
        readableCount++;
      }
      this.segAddr[segs] = lo;
      this.segLen[segs] = len;
      segs++;
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) break;
      i = next;
    }
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    this.segCount = segs;
    this.readableCount = readableCount;
    this.readableBytes = readable;
    this.writableBytes = writable;
    return head;
  }

  /**
   * Continues a ring the driver has been using (vhost-user SET_VRING_BASE): `base` is the
   * next available index to consume; used entries continue from the ring's own used idx.
   * Call before the first pop().
   */
  resume(base: number): void {
    this.lastAvail = base & 0xffff;
    this.availCached = this.lastAvail;
    // The device alone writes used idx; this reads what it (or an earlier device) last published.
    const used = Atomics.load(this.m.u16, this.wUsedIdx);
    this.usedShadow = used;
    this.usedPublished = used;
  }

  /**
   * Continues an RX ring from its published used idx: every chain an RX ring pops becomes
   * one used entry, in order, so that is where the next available chain is — also when the
   * thread that served it died between its pops and its publish (those chains are popped
   * again; the guest never saw them used).
   */
  resumeAtUsed(): void {
    // The device alone writes used idx (pairs with the Atomics.store in publishUsed()).
    this.resume(Atomics.load(this.m.u16, this.wUsedIdx));
  }

  /** Gives back the last `n` popped chains not yet used (MRG_RXBUF ran out of buffers midway). */
  unpop(n: number): void {
    this.lastAvail = (this.lastAvail - n) & 0xffff;
  }

  /** Queues a used entry (published by publishUsed). `len` = bytes written into the chain. */
  addUsed(head: number, len: number): void {
    const e = this.used + USED_RING + 8 * (this.usedShadow & this.mask);
    this.m.view.setUint32(e, head, true);
    this.m.view.setUint32(e + 4, len, true);
    this.usedShadow = (this.usedShadow + 1) & 0xffff;
  }

  /** Used entries queued but not yet published. */
  unpublished(): number {
    return (this.usedShadow - this.usedPublished) & 0xffff;
  }

  /**
   * Publishes queued used entries with one store; returns true when the driver wants an
   * interrupt for them (EVENT_IDX used_event, else the NO_INTERRUPT flag). Does not allocate.
   */
  publishUsed(): boolean {
    const old = this.usedPublished;
    const now = this.usedShadow;
    if (old === now) return false;
    // Pairs with the driver's Atomics.load of used idx: the entries written in addUsed()
    // are visible before it sees the new index. Seq-cst also orders this store before the
    // used_event load below (the barrier vhost takes before vhost_notify).
    Atomics.store(this.m.u16, this.wUsedIdx, now);
    this.usedPublished = now;
    if (this.eventIdx) {
      // Pairs with the driver's Atomics.store of used_event when it re-enables interrupts.
      return needEvent(Atomics.load(this.m.u16, this.wUsedEvent), now, old);
    }
    return (Atomics.load(this.m.u16, this.wAvailFlags) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  /**
   * Asks the driver to kick when it adds more (before the device sleeps). Returns true when
   * chains arrived meanwhile (do not sleep then).
   */
  enableKicks(): boolean {
    // Pairs with the driver's Atomics.load of avail_event / used flags after its avail idx
    // store: either it sees this request and kicks, or our re-check below sees its chain.
    if (this.eventIdx) Atomics.store(this.m.u16, this.wAvailEvent, this.lastAvail);
    else Atomics.store(this.m.u16, this.wUsedFlags, 0);
    return this.pending() !== 0;
  }

  /** Tells the driver not to kick (the device is polling). */
  disableKicks(): void {
    // With EVENT_IDX a stale avail_event already silences the driver once it moved past it.
    // Pairs with the driver's Atomics.load of used flags in publish(); a kick racing this is harmless.
    if (!this.eventIdx) Atomics.store(this.m.u16, this.wUsedFlags, VIRTQ_USED_F_NO_NOTIFY);
  }

  private fail(why: string): number {
    this.error = why;
    return CHAIN_ERROR;
  }
}
