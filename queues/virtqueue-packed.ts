/**
 * The virtio 1.x packed virtqueue (RING_PACKED, §2.8): one ring of 16-byte descriptors
 * both sides write, plus two 4-byte event suppression structures. Device side (the
 * switch) and driver side (the guest) in one file, as they share every rule.
 *
 *   descriptor ring (align 16, 16·Q bytes)
 *   ┌──── addr le64 ────┬ len le32 ┬ id le16 ┬ flags le16 ┐ × Q     flags: NEXT 1, WRITE 2,
 *                                                                  INDIRECT 4, AVAIL 1<<7, USED 1<<15
 *   driver event suppression (align 4): off_wrap le16, flags le16   written by the driver
 *   device event suppression (align 4): off_wrap le16, flags le16   written by the device
 *
 * Each side keeps a 1-bit wrap counter starting at 1. A descriptor is available when its
 * AVAIL bit equals the driver's wrap counter and USED differs; used when both equal the
 * device's. A chain is consecutive descriptors (NEXT on all but the last); its buffer id
 * is in the last one; the device writes one used descriptor per chain, at its own
 * position, and steps over the whole chain. The first descriptor's flags are written
 * last, with Atomics.store (the driver) / read first with Atomics.load (the device).
 *
 * The device trusts nothing: buffer ids, chain lengths, indirect tables and addresses are
 * checked as for split rings (queues/virtqueue-device.ts). Nothing allocates after
 * construction.
 */
import { GuestMemory } from './virtqueue-memory.js';
import { CHAIN_ERROR, CHAIN_NONE, type DeviceQueueOptions } from './virtqueue-device.js';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, isValidQueueSize, needEvent, type SplitLayout } from './virtqueue.js';

export const PACKED_DESC_F_AVAIL = 1 << 7;
export const PACKED_DESC_F_USED = 1 << 15;
export const EVENT_FLAG_ENABLE = 0;
export const EVENT_FLAG_DISABLE = 1;
export const EVENT_FLAG_DESC = 2;
export const PACKED_EVENT_BYTES = 4;

/** For a packed queue the transport's desc/driver/device registers are ring / driver event / device event. */
export function checkPackedLayout(mem: GuestMemory, l: SplitLayout): string | null {
  if (!isValidQueueSize(l.size)) return `queue size ${l.size} is not a power of two in 1..32768`;
  if (l.desc % 16 !== 0 || l.avail % 4 !== 0 || l.used % 4 !== 0) return 'packed queue areas misaligned';
  if (!mem.contains(l.desc, 16 * l.size) || !mem.contains(l.avail, PACKED_EVENT_BYTES) || !mem.contains(l.used, PACKED_EVENT_BYTES)) return 'packed queue areas lie outside guest memory';
  return null;
}

/** Ring, then the two event structures. */
export function packedLayout(base: number, size: number): SplitLayout {
  return { size, desc: base, avail: base + 16 * size, used: base + 16 * size + PACKED_EVENT_BYTES };
}
export function packedLayoutBytes(size: number): number {
  return 16 * size + 2 * PACKED_EVENT_BYTES;
}

function availBits(wrap: number): number {
  return wrap === 1 ? PACKED_DESC_F_AVAIL : PACKED_DESC_F_USED;
}
function usedBits(wrap: number): number {
  return wrap === 1 ? PACKED_DESC_F_AVAIL | PACKED_DESC_F_USED : 0;
}

/** Event off_wrap test (Linux vhost_vring_packed_need_event). */
function packedNeedEvent(offWrap: number, wrap: number, size: number, now: number, old: number): boolean {
  let event = offWrap & 0x7fff;
  if (offWrap >>> 15 !== wrap) event -= size;
  return needEvent(event & 0xffff, now, old);
}

export class PackedDeviceQueue {
  readonly size: number;
  readonly mask: number;
  error = '';
  readonly segAddr: Uint32Array;
  readonly segLen: Uint32Array;
  segCount = 0;
  readableCount = 0;
  readableBytes = 0;
  writableBytes = 0;

  private readonly m: GuestMemory;
  private readonly ring: number;
  private readonly wDriverOff: number;
  private readonly wDriverFlags: number;
  private readonly wDeviceOff: number;
  private readonly wDeviceFlags: number;
  private readonly eventIdx: boolean;
  private readonly indirect: boolean;
  private nextAvail = 0;
  private availWrap = 1;
  private nextUsed = 0;
  private usedWrap = 1;
  private publishedUsed = 0;
  private usedSincePublish = 0;
  // Descriptor counts of chains popped but not yet used, in pop order (a FIFO of ≤ Q).
  private readonly fifo: Uint16Array;
  private fifoHead = 0;
  private fifoCount = 0;

  constructor(mem: GuestMemory, layout: SplitLayout, opts: DeviceQueueOptions) {
    this.m = mem;
    this.size = layout.size;
    this.mask = layout.size - 1;
    this.ring = layout.desc;
    this.wDriverOff = layout.avail >>> 1;
    this.wDriverFlags = (layout.avail + 2) >>> 1;
    this.wDeviceOff = layout.used >>> 1;
    this.wDeviceFlags = (layout.used + 2) >>> 1;
    this.eventIdx = opts.eventIdx;
    this.indirect = opts.indirect;
    this.segAddr = new Uint32Array(layout.size);
    this.segLen = new Uint32Array(layout.size);
    this.fifo = new Uint16Array(layout.size);
  }

  private isAvail(i: number, wrap: number): boolean {
    // Pairs with the driver's Atomics.store of the head's flags after the rest of the chain.
    const f = Atomics.load(this.m.u16, (this.ring + 16 * i + 14) >>> 1);
    return (f & (PACKED_DESC_F_AVAIL | PACKED_DESC_F_USED)) === availBits(wrap);
  }

  /**
   * Where the ring stands for the driver's next chain, as vhost-user's vring base encodes a
   * packed ring (vhost-user.rst, "Vring descriptor indices for packed virtqueues"): the
   * next descriptor to consume in bits 0–14, the avail wrap counter in bit 15.
   */
  get lastAvail(): number {
    return this.nextAvail | (this.availWrap << 15);
  }

  /** Where the next used descriptor goes, same encoding (equal to lastAvail once every popped chain is used). */
  get lastUsed(): number {
    return this.nextUsed | (this.usedWrap << 15);
  }

  /**
   * Continues a ring the driver has been using at `base` (lastAvail's encoding; a fresh ring
   * is 0x8000: index 0, wrap counter 1). The position is not in the ring itself, so the
   * front-end or the thread that served it before must say. Every chain before it is used
   * (a device stops only after it used what it popped), so used continues there too.
   * Call before the first pop(); `base & 0x7fff` must be below the queue size.
   */
  resume(base: number): void {
    this.nextAvail = base & 0x7fff;
    this.availWrap = (base >>> 15) & 1;
    this.nextUsed = this.nextAvail;
    this.usedWrap = this.availWrap;
    this.publishedUsed = this.nextUsed;
    this.usedSincePublish = 0;
    this.fifoHead = 0;
    this.fifoCount = 0;
  }

  pending(): number {
    return this.fifoCount < this.size && this.isAvail(this.nextAvail, this.availWrap) ? 1 : 0;
  }

  pop(): number {
    if (this.fifoCount === this.size || !this.isAvail(this.nextAvail, this.availWrap)) return CHAIN_NONE;
    const dv = this.m.view;
    const m = this.m;
    let i = this.nextAvail;
    let count = 0;
    let segs = 0;
    let readable = 0;
    let writable = 0;
    let readableCount = 0;
    let id = 0;
    let wrap = this.availWrap;
    for (;;) {
      if (++count > this.size) return this.fail('Loop detected: packed chain longer than the queue');
      const d = this.ring + 16 * i;
      const lo = dv.getUint32(d, true);
      const hi = dv.getUint32(d + 4, true);
      const len = dv.getUint32(d + 8, true);
      id = dv.getUint16(d + 12, true);
      const flags = dv.getUint16(d + 14, true);
      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
        if (!this.indirect) return this.fail('Indirect descriptor without INDIRECT_DESC negotiated');
        if ((flags & VIRTQ_DESC_F_NEXT) !== 0 || count !== 1) return this.fail('Indirect descriptor chained to others');
        if (len === 0 || len % 16 !== 0) return this.fail('Invalid size for indirect buffer table');
        if (len / 16 > this.size) return this.fail('Indirect buffer table larger than the queue');
        // Only the size is checked, as QEMU and vhost do: the table need not be 16-aligned
        // (the spec asks no alignment of it, and reads here are byte-addressed).
        if (hi !== 0 || !m.contains(lo, len)) return this.fail('Indirect table address outside guest memory');
        for (let k = 0; k < len / 16; k++) {
          const t = lo + 16 * k;
          const ta = dv.getUint32(t, true);
          const th = dv.getUint32(t + 4, true);
          const tl = dv.getUint32(t + 8, true);
          // In a packed indirect table WRITE is the only valid flag; the others (INDIRECT and
          // NEXT among them) and the buffer id are reserved and ignored by the device
          // (virtio 1.2 §2.8.7, "Indirect Flag: Scatter-Gather Support"), as QEMU's
          // virtqueue_packed_pop does: such an entry is a plain buffer, not a nested table.
          const tf = dv.getUint16(t + 14, true);
          if (th !== 0 || !m.contains(ta, tl)) return this.fail('Descriptor address outside guest memory');
          if ((tf & VIRTQ_DESC_F_WRITE) !== 0) writable += tl;
          else {
            if (writable !== 0 || segs !== readableCount) return this.fail('Descriptor has out after in');
            readable += tl;
            readableCount++;
          }
          this.segAddr[segs] = ta;
          this.segLen[segs] = tl;
          segs++;
        }
        break;
      }
      if (hi !== 0 || !m.contains(lo, len)) return this.fail('Descriptor address outside guest memory');
      if ((flags & VIRTQ_DESC_F_WRITE) !== 0) writable += len;
      else {
        if (writable !== 0 || segs !== readableCount) return this.fail('Descriptor has out after in');
        readable += len;
        readableCount++;
      }
      this.segAddr[segs] = lo;
      this.segLen[segs] = len;
      segs++;
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) break;
      i = (i + 1) & this.mask;
      if (i === 0) wrap ^= 1;
      // A chain continues only through descriptors the driver also made available.
      if (!this.isAvail(i, wrap)) return this.fail('Packed chain runs into a descriptor that is not available');
    }
    if (id >= this.size) return this.fail('Buffer id ≥ queue size');
    this.advanceAvail(count);
    this.fifo[(this.fifoHead + this.fifoCount) & this.mask] = count;
    this.fifoCount++;
    this.segCount = segs;
    this.readableCount = readableCount;
    this.readableBytes = readable;
    this.writableBytes = writable;
    return id;
  }

  unpop(n: number): void {
    for (let k = 0; k < n; k++) {
      this.fifoCount--;
      const back = this.fifo[(this.fifoHead + this.fifoCount) & this.mask];
      let a = this.nextAvail - back;
      if (a < 0) {
        a += this.size;
        this.availWrap ^= 1;
      }
      this.nextAvail = a;
    }
  }

  addUsed(id: number, len: number): void {
    const d = this.ring + 16 * this.nextUsed;
    this.m.view.setUint32(d + 8, len, true);
    this.m.view.setUint16(d + 12, id, true);
    // Pairs with the driver's Atomics.load of the flags in getUsed(): id and len first.
    Atomics.store(this.m.u16, (d + 14) >>> 1, usedBits(this.usedWrap) | (len !== 0 ? VIRTQ_DESC_F_WRITE : 0));
    const count = this.fifo[this.fifoHead];
    this.fifoHead = (this.fifoHead + 1) & this.mask;
    this.fifoCount--;
    this.nextUsed += count;
    if (this.nextUsed >= this.size) {
      this.nextUsed -= this.size;
      this.usedWrap ^= 1;
    }
    this.usedSincePublish++;
  }

  unpublished(): number {
    return this.usedSincePublish;
  }

  publishUsed(): boolean {
    if (this.usedSincePublish === 0) return false;
    this.usedSincePublish = 0;
    const old = this.publishedUsed;
    this.publishedUsed = this.nextUsed;
    // Pairs with the driver's Atomics.store of its event structure when it re-enables.
    const flags = Atomics.load(this.m.u16, this.wDriverFlags);
    if (flags === EVENT_FLAG_DISABLE) return false;
    if (flags !== EVENT_FLAG_DESC || !this.eventIdx) return true;
    // Same pairing for the event offset (written before the flags by enableInterrupts()).
    return packedNeedEvent(Atomics.load(this.m.u16, this.wDriverOff), this.usedWrap, this.size, this.nextUsed, old);
  }

  enableKicks(): boolean {
    // Pairs with the driver's Atomics.load of the device event structure in publish(): either
    // it sees this request and kicks, or our re-check (pending) sees its chain.
    if (this.eventIdx) {
      Atomics.store(this.m.u16, this.wDeviceOff, this.nextAvail | (this.availWrap << 15));
      Atomics.store(this.m.u16, this.wDeviceFlags, EVENT_FLAG_DESC);
    } else Atomics.store(this.m.u16, this.wDeviceFlags, EVENT_FLAG_ENABLE);
    return this.pending() !== 0;
  }

  disableKicks(): void {
    // Pairs with the driver's Atomics.load in publish(); a kick racing this is harmless.
    Atomics.store(this.m.u16, this.wDeviceFlags, EVENT_FLAG_DISABLE);
  }

  private advanceAvail(n: number): void {
    this.nextAvail += n;
    if (this.nextAvail >= this.size) {
      this.nextAvail -= this.size;
      this.availWrap ^= 1;
    }
  }

  private fail(why: string): number {
    this.error = why;
    return CHAIN_ERROR;
  }
}

export class PackedDriverQueue {
  readonly size: number;
  readonly mask: number;
  readonly layout: SplitLayout;
  freeCount: number;
  usedId = 0;
  usedLen = 0;

  private readonly m: GuestMemory;
  private readonly eventIdx: boolean;
  private readonly ids: Uint16Array; // free buffer ids (a stack)
  private idTop: number;
  private readonly idDescs: Uint16Array; // descriptors per buffer id in flight (0 = free)
  private nextAvail = 0;
  private availWrap = 1;
  private nextUsed = 0;
  private usedWrap = 1;
  private publishedAvail = 0; // descriptors made available since the last publish
  private kickOld = 0;
  private pendingHead = -1;
  private pendingHeadFlags = 0;

  constructor(mem: GuestMemory, layout: SplitLayout, eventIdx: boolean) {
    if (!isValidQueueSize(layout.size)) throw new RangeError(`queue size ${layout.size} is not a power of two in 1..32768`);
    this.m = mem;
    this.layout = layout;
    this.size = layout.size;
    this.mask = layout.size - 1;
    this.eventIdx = eventIdx;
    mem.bytes.fill(0, layout.desc, layout.desc + 16 * layout.size);
    mem.bytes.fill(0, layout.avail, layout.avail + PACKED_EVENT_BYTES);
    mem.bytes.fill(0, layout.used, layout.used + PACKED_EVENT_BYTES);
    this.ids = new Uint16Array(layout.size);
    for (let i = 0; i < layout.size; i++) this.ids[i] = layout.size - 1 - i;
    this.idTop = layout.size;
    this.idDescs = new Uint16Array(layout.size);
    this.freeCount = layout.size;
  }

  /** The buffer id the next add will use. */
  get nextHead(): number {
    return this.idTop > 0 ? this.ids[this.idTop - 1] : -1;
  }

  add(addr: ArrayLike<number>, len: ArrayLike<number>, n: number, writable: number): number {
    if (n < 1 || n > this.freeCount || this.idTop === 0) return -1;
    const id = this.ids[--this.idTop];
    for (let k = 0; k < n; k++) {
      let flags = k >= n - writable ? VIRTQ_DESC_F_WRITE : 0;
      if (k < n - 1) flags |= VIRTQ_DESC_F_NEXT;
      this.writeDesc(addr[k], len[k], id, flags, k === 0);
    }
    this.idDescs[id] = n;
    this.freeCount -= n;
    return id;
  }

  addOne(addr: number, len: number, writable: boolean): number {
    if (this.freeCount < 1 || this.idTop === 0) return -1;
    const id = this.ids[--this.idTop];
    this.writeDesc(addr, len, id, writable ? VIRTQ_DESC_F_WRITE : 0, true);
    this.idDescs[id] = 1;
    this.freeCount--;
    return id;
  }

  addIndirect(table: number, entries: number): number {
    if (this.freeCount < 1 || this.idTop === 0) return -1;
    const id = this.ids[--this.idTop];
    this.writeDesc(table, entries * 16, id, VIRTQ_DESC_F_INDIRECT, true);
    this.idDescs[id] = 1;
    this.freeCount--;
    return id;
  }

  /** An indirect table entry (packed format; NEXT is ignored inside a table). */
  writeTableEntry(table: number, k: number, addr: number, len: number, flags: number, _next: number): void {
    const d = table + 16 * k;
    const dv = this.m.view;
    dv.setUint32(d, addr, true);
    dv.setUint32(d + 4, 0, true);
    dv.setUint32(d + 8, len, true);
    dv.setUint16(d + 12, 0, true);
    dv.setUint16(d + 14, flags & ~VIRTQ_DESC_F_NEXT, true);
  }

  /** Makes the chains added since the last publish visible; true when the device wants a kick. */
  publish(): boolean {
    if (this.pendingHead < 0) return false;
    // The first descriptor's flags last: pairs with the device's Atomics.load in isAvail().
    Atomics.store(this.m.u16, (this.layout.desc + 16 * this.pendingHead + 14) >>> 1, this.pendingHeadFlags);
    this.pendingHead = -1;
    const old = this.kickOld;
    const now = this.nextAvail;
    this.kickOld = now;
    this.publishedAvail = 0;
    // Pairs with the device's Atomics.store of its event structure in enableKicks()/disableKicks().
    const flags = Atomics.load(this.m.u16, (this.layout.used + 2) >>> 1);
    if (flags === EVENT_FLAG_DISABLE) return false;
    if (flags !== EVENT_FLAG_DESC || !this.eventIdx) return true;
    return packedNeedEvent(Atomics.load(this.m.u16, this.layout.used >>> 1), this.availWrap, this.size, now, old);
  }

  usedPending(): number {
    // Pairs with the device's Atomics.store of the used flags in addUsed(): id and len are written first.
    const f = Atomics.load(this.m.u16, (this.layout.desc + 16 * this.nextUsed + 14) >>> 1);
    return (f & (PACKED_DESC_F_AVAIL | PACKED_DESC_F_USED)) === usedBits(this.usedWrap) ? 1 : 0;
  }

  getUsed(): boolean {
    if (this.usedPending() === 0) return false;
    const d = this.layout.desc + 16 * this.nextUsed;
    const id = this.m.view.getUint16(d + 12, true);
    const len = this.m.view.getUint32(d + 8, true);
    if (id >= this.size || this.idDescs[id] === 0) throw new Error(`device returned buffer id ${id}, which it does not own`);
    const n = this.idDescs[id];
    this.idDescs[id] = 0;
    this.ids[this.idTop++] = id;
    this.freeCount += n;
    this.nextUsed += n;
    if (this.nextUsed >= this.size) {
      this.nextUsed -= this.size;
      this.usedWrap ^= 1;
    }
    this.usedId = id;
    this.usedLen = len;
    return true;
  }

  enableInterrupts(): boolean {
    return this.enableInterruptsAfter(0);
  }

  /** As SplitDriverQueue.enableInterruptsAfter(): with EVENT_IDX, the interrupt comes `more` + 1 descriptors on. */
  enableInterruptsAfter(more: number): boolean {
    let at = this.nextUsed + Math.min(more, this.size - 1);
    let wrap = this.usedWrap;
    if (at >= this.size) {
      at -= this.size;
      wrap ^= 1;
    }
    // Pairs with the device's Atomics.load of the driver event structure in publishUsed().
    if (this.eventIdx) {
      Atomics.store(this.m.u16, this.layout.avail >>> 1, at | (wrap << 15));
      Atomics.store(this.m.u16, (this.layout.avail + 2) >>> 1, EVENT_FLAG_DESC);
    } else Atomics.store(this.m.u16, (this.layout.avail + 2) >>> 1, EVENT_FLAG_ENABLE);
    return this.usedPending() !== 0;
  }

  disableInterrupts(): void {
    // Same pairing as enableInterrupts(); a racing interrupt is harmless.
    Atomics.store(this.m.u16, (this.layout.avail + 2) >>> 1, EVENT_FLAG_DISABLE);
  }

  get availIdx(): number {
    return this.nextAvail;
  }

  private writeDesc(addr: number, len: number, id: number, flags: number, first: boolean): void {
    const i = this.nextAvail;
    const d = this.layout.desc + 16 * i;
    const dv = this.m.view;
    dv.setUint32(d, addr, true);
    dv.setUint32(d + 4, 0, true);
    dv.setUint32(d + 8, len, true);
    dv.setUint16(d + 12, id, true);
    const f = flags | availBits(this.availWrap);
    if (first && this.pendingHead < 0) {
      // The batch's first head is published last (publish()); others go out at once, as
      // the device cannot pass the unpublished head to reach them.
      this.pendingHead = i;
      this.pendingHeadFlags = f;
    } else {
      // Pairs with the device's Atomics.load in isAvail() as it walks a chain.
      Atomics.store(this.m.u16, (d + 14) >>> 1, f);
    }
    this.publishedAvail++;
    this.nextAvail++;
    if (this.nextAvail >= this.size) {
      this.nextAvail = 0;
      this.availWrap ^= 1;
    }
  }
}
