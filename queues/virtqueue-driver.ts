/**
 * Driver side of a split virtqueue (what a guest's virtio driver does): lay the queue out
 * in guest memory, make buffers available, decide when to kick the device, and take
 * buffers back from the used ring.
 *
 * Contract: one guest thread owns the driver side (descriptor table, available ring,
 * used_event); the device owns the used ring. The free-descriptor list is driver-private
 * state (a plain array in this thread, not guest memory), as in Linux virtio_ring.c.
 * Nothing here allocates after construction.
 */
import { GuestMemory } from './virtqueue-memory.js';
import {
  AVAIL_FLAGS,
  AVAIL_IDX,
  AVAIL_RING,
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

export class SplitDriverQueue {
  readonly size: number;
  readonly mask: number;
  readonly layout: SplitLayout;
  /** Descriptors not in any chain the device holds. */
  freeCount: number;
  /** Filled by getUsed(): the chain head and the length the device wrote. */
  usedId = 0;
  usedLen = 0;

  private readonly m: GuestMemory;
  private readonly eventIdx: boolean;
  private readonly next: Uint16Array; // driver-private free list links
  private readonly chainLen: Uint16Array; // descriptors per chain, by head
  private freeHead = 0;
  private availShadow = 0; // next avail idx (u16)
  private availKicked = 0; // avail idx at the last kick decision
  private lastUsed = 0; // next used idx to read (u16)
  private usedSeen = 0; // used idx as last loaded (u16): entries before it need no new load
  private readonly wAvailIdx: number;
  private readonly wAvailFlags: number;
  private readonly wUsedEvent: number;
  private readonly wUsedIdx: number;
  private readonly wUsedFlags: number;
  private readonly wAvailEvent: number;

  /** Lays the queue out at `layout` and zeroes its areas (what a driver does before DRIVER_OK). */
  constructor(mem: GuestMemory, layout: SplitLayout, eventIdx: boolean) {
    if (!isValidQueueSize(layout.size)) throw new RangeError(`queue size ${layout.size} is not a power of two in 1..32768`);
    this.m = mem;
    this.layout = layout;
    this.size = layout.size;
    this.mask = layout.size - 1;
    this.eventIdx = eventIdx;
    mem.bytes.fill(0, layout.desc, layout.desc + descTableBytes(layout.size));
    mem.bytes.fill(0, layout.avail, layout.avail + availRingBytes(layout.size));
    mem.bytes.fill(0, layout.used, layout.used + usedRingBytes(layout.size));
    this.next = new Uint16Array(layout.size);
    this.chainLen = new Uint16Array(layout.size);
    for (let i = 0; i < layout.size; i++) this.next[i] = (i + 1) & this.mask;
    this.freeCount = layout.size;
    this.wAvailFlags = (layout.avail + AVAIL_FLAGS) >>> 1;
    this.wAvailIdx = (layout.avail + AVAIL_IDX) >>> 1;
    this.wUsedEvent = (layout.avail + usedEventOffset(layout.size)) >>> 1;
    this.wUsedFlags = (layout.used + USED_FLAGS) >>> 1;
    this.wUsedIdx = (layout.used + USED_IDX) >>> 1;
    this.wAvailEvent = (layout.used + availEventOffset(layout.size)) >>> 1;
  }

  /**
   * Makes one chain of `n` buffers available: segments addr[k]/len[k], the last `writable`
   * of them device-writable. Returns the head, or -1 when too few descriptors are free.
   * Visible to the device only after publish().
   */
  add(addr: ArrayLike<number>, len: ArrayLike<number>, n: number, writable: number): number {
    if (n < 1 || n > this.freeCount) return -1;
    const dv = this.m.view;
    const head = this.freeHead;
    let i = head;
    for (let k = 0; k < n; k++) {
      const d = this.layout.desc + 16 * i;
      dv.setUint32(d, addr[k], true);
      dv.setUint32(d + 4, 0, true);
      dv.setUint32(d + 8, len[k], true);
      let flags = k >= n - writable ? VIRTQ_DESC_F_WRITE : 0;
      const nx = this.next[i];
      if (k < n - 1) flags |= VIRTQ_DESC_F_NEXT;
      dv.setUint16(d + 12, flags, true);
      dv.setUint16(d + 14, k < n - 1 ? nx : 0, true);
      if (k < n - 1) i = nx;
      else this.freeHead = nx;
    }
    this.freeCount -= n;
    this.chainLen[head] = n;
    this.pushAvail(head);
    return head;
  }

  /** One buffer: the common case, without arrays. */
  addOne(addr: number, len: number, writable: boolean): number {
    if (this.freeCount < 1) return -1;
    const head = this.freeHead;
    const d = this.layout.desc + 16 * head;
    const dv = this.m.view;
    dv.setUint32(d, addr, true);
    dv.setUint32(d + 4, 0, true);
    dv.setUint32(d + 8, len, true);
    dv.setUint16(d + 12, writable ? VIRTQ_DESC_F_WRITE : 0, true);
    dv.setUint16(d + 14, 0, true);
    this.freeHead = this.next[head];
    this.freeCount--;
    this.chainLen[head] = 1;
    this.pushAvail(head);
    return head;
  }

  /**
   * One descriptor pointing at an indirect table the caller already wrote at `table`
   * (`entries` descriptors of 16 bytes, 16-aligned, in guest memory).
   */
  addIndirect(table: number, entries: number): number {
    if (this.freeCount < 1) return -1;
    const head = this.freeHead;
    const d = this.layout.desc + 16 * head;
    const dv = this.m.view;
    dv.setUint32(d, table, true);
    dv.setUint32(d + 4, 0, true);
    dv.setUint32(d + 8, entries * 16, true);
    dv.setUint16(d + 12, VIRTQ_DESC_F_INDIRECT, true);
    dv.setUint16(d + 14, 0, true);
    this.freeHead = this.next[head];
    this.freeCount--;
    this.chainLen[head] = 1;
    this.pushAvail(head);
    return head;
  }

  /** Writes an indirect table entry (for addIndirect). */
  writeTableEntry(table: number, k: number, addr: number, len: number, flags: number, next: number): void {
    const d = table + 16 * k;
    const dv = this.m.view;
    dv.setUint32(d, addr, true);
    dv.setUint32(d + 4, 0, true);
    dv.setUint32(d + 8, len, true);
    dv.setUint16(d + 12, flags, true);
    dv.setUint16(d + 14, next, true);
  }

  /**
   * Publishes the chains added since the last publish with one store; returns true when
   * the device wants a kick (EVENT_IDX avail_event, else its NO_NOTIFY flag).
   */
  publish(): boolean {
    const old = this.availKicked;
    const now = this.availShadow;
    if (old === now) return false;
    // Pairs with the device's Atomics.load of avail idx in pending(): ring entries and
    // descriptors written above are visible first. Seq-cst also orders it before the
    // avail_event/flags load below (virtio_mb before vring_need_event).
    Atomics.store(this.m.u16, this.wAvailIdx, now);
    this.availKicked = now;
    if (this.eventIdx) {
      // Pairs with the device's Atomics.store of avail_event in enableKicks().
      return needEvent(Atomics.load(this.m.u16, this.wAvailEvent), now, old);
    }
    return (Atomics.load(this.m.u16, this.wUsedFlags) & VIRTQ_USED_F_NO_NOTIFY) === 0;
  }

  /** Used entries waiting. */
  usedPending(): number {
    // Pairs with the device's Atomics.store of used idx in publishUsed().
    return (Atomics.load(this.m.u16, this.wUsedIdx) - this.lastUsed) & 0xffff;
  }

  /**
   * Takes one used entry: sets usedId/usedLen, frees its descriptors, returns true; false
   * when none is waiting. A device that returns a bad id is a device bug: thrown.
   * Used idx is loaded once per run of entries (what DPDK's virtio PMD does per burst),
   * not once per entry: the entries before the idx last loaded are already visible.
   */
  getUsed(): boolean {
    if (this.lastUsed === this.usedSeen) {
      // Pairs with the device's Atomics.store of used idx in publishUsed().
      this.usedSeen = Atomics.load(this.m.u16, this.wUsedIdx);
      if (this.lastUsed === this.usedSeen) return false;
    }
    const e = this.layout.used + USED_RING + 8 * (this.lastUsed & this.mask);
    const id = this.m.view.getUint32(e, true);
    const len = this.m.view.getUint32(e + 4, true);
    this.lastUsed = (this.lastUsed + 1) & 0xffff;
    if (id >= this.size || this.chainLen[id] === 0) throw new Error(`device returned descriptor ${id}, which it does not own`);
    this.usedId = id;
    this.usedLen = len;
    // Give the chain's descriptors back to the free list (follow our own links, not the
    // table in guest memory, which the device could have been tricked into reading only).
    const n = this.chainLen[id];
    this.chainLen[id] = 0;
    let last = id;
    for (let k = 1; k < n; k++) last = this.next[last];
    this.next[last] = this.freeHead;
    this.freeHead = id;
    this.freeCount += n;
    return true;
  }

  /**
   * Asks for an interrupt at the next used entry; returns true when entries arrived
   * meanwhile (do not sleep then).
   */
  enableInterrupts(): boolean {
    return this.enableInterruptsAfter(0);
  }

  /**
   * enableInterrupts() that, with EVENT_IDX, asks to be interrupted only once `more` + 1
   * further entries are used (interrupt coalescing by rx-frames, as Linux's
   * virtqueue_enable_cb_delayed does for TX): the driver must then also wake on a timer,
   * or the last frames of a burst wait. Without EVENT_IDX the device interrupts at the next
   * entry. Returns true when entries arrived meanwhile (do not sleep then).
   */
  enableInterruptsAfter(more: number): boolean {
    // Pairs with the device's Atomics.load of used_event / avail flags in publishUsed().
    if (this.eventIdx) Atomics.store(this.m.u16, this.wUsedEvent, (this.lastUsed + more) & 0xffff);
    else Atomics.store(this.m.u16, this.wAvailFlags, 0);
    return this.usedPending() !== 0;
  }

  disableInterrupts(): void {
    // Pairs with the device's Atomics.load of avail flags in publishUsed(); a racing interrupt is harmless.
    if (!this.eventIdx) Atomics.store(this.m.u16, this.wAvailFlags, VIRTQ_AVAIL_F_NO_INTERRUPT);
  }

  /** The head the next add()/addOne()/addIndirect() will use (its buffer can be written first). */
  get nextHead(): number {
    return this.freeHead;
  }

  /** The avail idx the driver published last (for tests). */
  get availIdx(): number {
    return this.availShadow;
  }

  private pushAvail(head: number): void {
    this.m.view.setUint16(this.layout.avail + AVAIL_RING + 2 * (this.availShadow & this.mask), head, true);
    this.availShadow = (this.availShadow + 1) & 0xffff;
  }
}
