/**
 * The capture tap: what a queue worker calls for every packet, after its program, while a
 * capture is armed on that queue (switch/queue-engine.ts PacketTap; the supervisor's
 * setTap loads this module in the worker and calls openTap). It copies the packet and its
 * verdict into the capture ring (ring.ts) and returns; a full ring drops the copy and
 * counts it — the switch never waits for a capture.
 *
 * Allocates nothing per packet: views are made once in the constructor.
 */
import type { XdpContext } from '../../programs/context.js';
import { FlowSteerer, type SharedSteering } from '../../flows/index.js';
import type { PacketTap } from '../queue-engine.js';
import { ByteCopier } from '../../queues/copy.js';
import {
  align8,
  HEADER_BYTES,
  kDropped,
  kHead,
  kBaseByte,
  kClock,
  kPort,
  kSkip,
  kSnap,
  kTail,
  kUnlimited,
  kVerdicts,
  RECORD_HEADER,
  type SharedCaptureRing,
} from './ring.js';

/** Every queue's tap shares one count word, so `-c 100` means 100 in all. */
export interface SharedTap {
  ring: SharedCaptureRing;
  /** Int32Array-sized SharedArrayBuffer holding the shared remaining-packets word. */
  budget: SharedArrayBuffer;
  queue: number;
  /** `--filter`: a one-rule steering table; a packet is kept when that rule matches it. */
  filter: SharedSteering | null;
}

export class CaptureTap implements PacketTap {
  private readonly w: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly budget: Int32Array;
  private readonly size: number;
  private readonly mask: number;
  private readonly port: number;
  private readonly verdicts: number;
  private readonly snap: number;
  private readonly queue: number;
  private head: number;
  private readonly base: number;
  private readonly filter: FlowSteerer | null;
  /** Frame area → this tap's ring: both stay the same, so the copier's views are made once. */
  private readonly copier = new ByteCopier();

  constructor(s: SharedTap) {
    this.w = new Int32Array(s.ring.sab, 0, HEADER_BYTES / 4);
    this.bytes = new Uint8Array(s.ring.sab, HEADER_BYTES, s.ring.size);
    this.view = new DataView(s.ring.sab, HEADER_BYTES, s.ring.size);
    this.budget = new Int32Array(s.budget);
    this.size = s.ring.size;
    this.mask = s.ring.size - 1;
    this.port = this.w[kPort];
    this.verdicts = this.w[kVerdicts];
    this.snap = this.w[kSnap];
    this.queue = s.queue;
    this.head = this.w[kHead];
    this.base = new Float64Array(s.ring.sab, kBaseByte, 1)[0];
    // counts: false — several queues share this filter; only device threads own the steering counters.
    this.filter = s.filter ? new FlowSteerer(s.filter, { counts: false }) : null;
  }

  observe(ctx: XdpContext, verdict: number): void {
    if (this.port !== 0 && ctx.ingressIfindex !== this.port) return;
    if (((this.verdicts >>> verdict) & 1) === 0) return;
    // The filter is ethtool's ntuple matcher (flows/): the packet as the program left it.
    if (this.filter !== null) {
      this.filter.steer(ctx.packet, ctx.data, ctx.dataEnd - ctx.data);
      if (this.filter.lastRule < 0) return;
    }
    // Pairs with the other queues' taps: together they take at most `count` packets.
    if (this.budget[0] !== kUnlimited && Atomics.sub(this.budget, 0, 1) <= 0) return;
    const len = ctx.dataEnd - ctx.data;
    const cap = len < this.snap ? len : this.snap;
    const need = align8(RECORD_HEADER + cap);
    // Pairs with the drain's Atomics.store(kTail) after it has read records: space it freed.
    const tail = Atomics.load(this.w, kTail);
    let head = this.head;
    let pos = head & this.mask;
    let free = this.size - ((head - tail) >>> 0);
    if (pos + need > this.size) {
      // Not enough room before the end: a skip record, then start again at byte 0.
      const skip = this.size - pos;
      if (free < skip + need) return this.drop();
      this.view.setUint32(pos, (kSkip | skip) >>> 0, true);
      head = (head + skip) >>> 0;
      free -= skip;
      pos = 0;
    }
    if (free < need) return this.drop();
    const v = this.view;
    v.setUint32(pos, need, true);
    v.setUint32(pos + 4, len, true);
    v.setUint32(pos + 8, cap, true);
    v.setUint8(pos + 12, verdict);
    v.setUint8(pos + 13, ctx.ingressIfindex);
    v.setUint16(pos + 14, this.queue, true);
    // Pairs with the main thread's Atomics.store of the clock every millisecond.
    v.setFloat64(pos + 16, this.base + Atomics.load(this.w, kClock), true);
    this.copier.copy(this.bytes, pos + RECORD_HEADER, ctx.packet, ctx.data, cap);
    this.head = (head + need) >>> 0;
    // Publishes the record; pairs with the drain's Atomics.load(kHead).
    Atomics.store(this.w, kHead, this.head);
  }

  private drop(): void {
    // Pairs with the main thread's Atomics.load for the report; several taps never share a ring.
    Atomics.add(this.w, kDropped, 1);
  }
}

/** The entry point the queue worker imports (setTap's module). */
export function openTap(shared: unknown): PacketTap {
  return new CaptureTap(shared as SharedTap);
}
