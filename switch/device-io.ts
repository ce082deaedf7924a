/**
 * A device's two directions, as its port sees them (PortIO) and as its thread drives them.
 *
 * Ingress: receive()/submit() put a frame in a pool frame, steer it, and stage its
 * descriptor on the chosen queue's rx ring; flush() publishes each ring with one store.
 * Egress: drain() takes descriptors from every queue's tx ring into port.transmit(), then
 * returns each frame to the pool it came from (one submit per recycle ring per drain).
 *
 * Counting: every frame received is counted in rx_packets and then in exactly one of a
 * queue's rx<q>_packets (by the queue worker), rx_no_buffer, rx_ring_full, rx_flow_drop or
 * rx_dropped; every frame drained is counted in tx_packets or tx_dropped.
 *
 * Offloads (virtio_net_hdr semantics, queues/frame-vnet.ts): receiveOffload() cuts a
 * super-frame into segments as it enters (programs see segments, as XDP does) and lets a
 * partial checksum ride with each; drain() hands a frame with a header to a port that takes
 * it, else cuts the super-frame (tx_gso_segments) or completes the checksum (tx_csum_sw)
 * first. The port's offloads() are published for the queue workers' GRO each drain.
 */
import { Ring } from '../queues/ring.js';
import { Doorbell } from '../queues/doorbell.js';
import { D_FRAME, D_HASH, D_META, D_OFFLEN, SUPER_FRAME_HEADROOM, SUPER_FRAME_MAX, XDP_PACKET_HEADROOM, packMeta, packOffLen } from '../queues/frames.js';
import { FramePool, RecycleRing } from '../queues/pool.js';
import { CounterBlock } from '../lib/counters.js';
import { P } from './counters.js';
import { CTL_DOORBELL, CTL_WORDS, offloadsGeneration, queueDoorbell, type SharedLayout } from './layout.js';
import type { Port, PortIO } from './ports/port.js';
import type { Steerer } from '../flows/rss.js';
import { ByteCopier } from '../queues/copy.js';
import { F_VNET, loadFrameVnet, offloadsFor, storeFrameVnet } from '../queues/frame-vnet.js';
import { GsoPlan, gsoErrorText } from '../lib/net/gso.js';
import { completeChecksum, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_NONE, VnetHdr } from '../lib/net/vnet-hdr.js';

export class DeviceIO implements PortIO {
  readonly name: string;
  readonly ifindex: number;
  readonly frameSize: number;
  readonly maxFrameLength: number;
  readonly area: Uint8Array;
  readonly counters: Float64Array;
  readonly doorbell: Doorbell;
  readonly shared: SharedArrayBuffer | null;
  private readonly queueBells: Doorbell[];
  steerer: Steerer;
  /** False once the switch is stopping: frames still arriving are counted rx_dropped. */
  ingressOpen = true;
  /** The queue workers receive this port's RX queues (run to completion): set by the device thread. */
  rxOnQueues = false;

  private readonly port: number;
  private readonly pool: FramePool;
  private readonly copier = new ByteCopier();
  private readonly rx: Ring[];
  private readonly rxStaged: Int32Array;
  private readonly tx: Ring[];
  private readonly recycle: (RecycleRing | null)[];
  private readonly poolFrames: number;
  /** Ordinary frame slots of all pools; super-frames follow, superStride slots per pool. */
  private readonly smallSlots: number;
  private readonly superStride: number;
  private readonly block: CounterBlock;
  private readonly offloads: Int32Array;
  private readonly offloadsGen: number;
  /** Per queue: its chain takes super-frames whole (QueueEngine.setProgram). */
  private readonly frags: Int32Array;
  private published = 0;
  private readonly gso = new GsoPlan();
  private readonly hdr = new VnetHdr();
  private readonly segHdr = new VnetHdr();
  private lastGsoLog = -Infinity;
  private readonly logFn: (level: 'info' | 'warn' | 'error', message: string) => void;

  constructor(
    layout: SharedLayout,
    port: number,
    name: string,
    steerer: Steerer,
    log: (level: 'info' | 'warn' | 'error', message: string) => void,
    shared: SharedArrayBuffer | null = null,
  ) {
    this.shared = shared;
    this.queueBells = Array.from({ length: layout.queues }, (_, q) => new Doorbell(new Int32Array(layout.control), queueDoorbell(layout, q)));
    this.port = port;
    this.name = name;
    this.ifindex = port + 1;
    this.frameSize = layout.frameSize;
    this.maxFrameLength = layout.frameSize - XDP_PACKET_HEADROOM;
    this.area = new Uint8Array(layout.area);
    this.poolFrames = layout.poolFrames;
    this.smallSlots = layout.smallSlots;
    this.superStride = layout.superFrames * layout.superSpan;
    this.steerer = steerer;
    this.logFn = log;
    const ctl = new Int32Array(layout.control);
    this.doorbell = new Doorbell(ctl, port * CTL_WORDS + CTL_DOORBELL);
    this.pool = new FramePool(layout.pools[port]);
    this.rx = layout.rx[port].map((sab, q) => {
      const ring = new Ring(sab);
      ring.attachDoorbell(this.queueBells[q]);
      return ring;
    });
    this.rxStaged = new Int32Array(layout.queues);
    this.tx = layout.tx.map((perPort) => new Ring(perPort[port]));
    this.recycle = layout.pools.map((pool, o) => (o === port ? null : new RecycleRing(pool.rings[port])));
    this.block = CounterBlock.fromShared(layout.portCounters[port]);
    this.offloads = new Int32Array(layout.offloads);
    this.offloadsGen = offloadsGeneration(layout);
    this.frags = new Int32Array(layout.frags);
    this.counters = this.block.values;
  }

  wakeQueue(q: number): void {
    this.queueBells[q].ring();
  }

  queueBell(q: number): { words: Int32Array; index: number } {
    return this.queueBells[q];
  }

  resumeRx(): void {
    // Pairs with the queue workers' last Ring.submit before they acknowledged the handover.
    for (let q = 0; q < this.rx.length; q++) this.rx[q].resync();
  }

  // ── ingress ────────────────────────────────────────────────────────────────

  receive(src: Uint8Array, offset: number, length: number): boolean {
    const c = this.counters;
    c[P.rx_packets]++;
    // `x >>> 0 === x` holds for integers 0…2^32−1 only: NaN, fractions and negatives fail it
    // (NaN would pass every < and > test below and poison rx_bytes).
    if ((length >>> 0) !== length) {
      c[P.rx_dropped]++;
      return false;
    }
    c[P.rx_bytes] += length;
    if (!this.ingressOpen || length > this.maxFrameLength || length < 14 || (offset >>> 0) !== offset || offset + length > src.length) {
      c[P.rx_dropped]++;
      return false;
    }
    const f = this.pool.alloc();
    if (f < 0) {
      c[P.rx_no_buffer]++;
      return false;
    }
    const dst = f * this.frameSize + XDP_PACKET_HEADROOM;
    // Buffer.copy and Uint8Array.set(subarray) each make a view per call on Node 20; the
    // copier moves words through views it made once.
    this.copier.copy(this.area, dst, src, offset, length);
    return this.enqueue(f, length);
  }

  receiveOffload(src: Uint8Array, offset: number, length: number, hdr: VnetHdr): boolean {
    if (hdr.gsoType === VIRTIO_NET_HDR_GSO_NONE && hdr.flags === 0) return this.receive(src, offset, length);
    const c = this.counters;
    c[P.rx_packets]++;
    if ((length >>> 0) !== length || (offset >>> 0) !== offset || offset + length > src.length) {
      c[P.rx_dropped]++;
      return false;
    }
    c[P.rx_bytes] += length;
    if (!this.ingressOpen || length < 14) {
      c[P.rx_dropped]++;
      return false;
    }
    if (hdr.gsoType === VIRTIO_NET_HDR_GSO_NONE) {
      // One frame whose checksum is partial (or was verified): it rides along with the frame.
      if (length > this.maxFrameLength) {
        c[P.rx_dropped]++;
        return false;
      }
      const f = this.pool.alloc();
      if (f < 0) {
        c[P.rx_no_buffer]++;
        return false;
      }
      const base = f * this.frameSize;
      this.copier.copy(this.area, base + XDP_PACKET_HEADROOM, src, offset, length);
      storeFrameVnet(hdr, this.area, base, XDP_PACKET_HEADROOM);
      return this.enqueue(f, length, F_VNET);
    }
    const plan = this.gso;
    const n = plan.prepare(src, offset, length, hdr.gsoType, hdr.gsoSize);
    if (n < 0 || plan.segmentLength(0) > this.maxFrameLength) {
      c[P.rx_dropped]++;
      this.gsoError(n < 0 ? gsoErrorText(n) : `gso_size ${hdr.gsoSize} makes segments larger than a frame (${this.maxFrameLength} bytes)`);
      return false;
    }
    if (length <= SUPER_FRAME_MAX && this.superStride !== 0) {
      // Programs that take super-frames whole (frags) get it as one frame: steered by its
      // headers (the same flow as its segments), copied once into a super-frame.
      const q = this.steerer.steer(src, offset, length);
      // Pairs with QueueEngine.setProgram's Atomics.store (the queue's chain changed).
      if (q >= 0 && q < this.rx.length && Atomics.load(this.frags, q) !== 0) {
        const f = this.pool.allocLarge();
        if (f >= 0) {
          const base = f * this.frameSize;
          this.copier.copy(this.area, base + SUPER_FRAME_HEADROOM, src, offset, length);
          storeFrameVnet(hdr, this.area, base, SUPER_FRAME_HEADROOM);
          c[P.rx_gso_whole]++;
          return this.enqueue(f, length, F_VNET, SUPER_FRAME_HEADROOM);
        }
        // No super-frame free: cut it as for any other queue.
      }
    }
    c[P.rx_gso_packets]++;
    c[P.rx_gso_segments] += n;
    const sh = this.segHdr;
    const partial = plan.segmentHeader(hdr, sh);
    let all = true;
    for (let i = 0; i < n; i++) {
      const f = this.pool.alloc();
      if (f < 0) {
        c[P.rx_no_buffer] += n - i;
        return false;
      }
      const base = f * this.frameSize;
      const len = plan.write(i, this.area, base + XDP_PACKET_HEADROOM, partial);
      if (sh.flags !== 0) storeFrameVnet(sh, this.area, base, XDP_PACKET_HEADROOM);
      if (!this.enqueue(f, len, sh.flags !== 0 ? F_VNET : 0)) all = false;
    }
    return all;
  }

  private gsoError(why: string): void {
    const now = Date.now();
    if (now - this.lastGsoLog < 1000) return;
    this.lastGsoLog = now;
    this.log('warn', `port ${this.name}: super-frame dropped (rx_dropped): ${why}`);
  }

  room(): number {
    let room = this.pool.available();
    if (room < this.rx[0].size) room += this.pool.refill();
    // A frame may be steered to any queue: the fullest rx ring bounds what surely fits.
    const staged = this.rxStaged;
    for (let q = 0; q < this.rx.length; q++) {
      const ring = this.rx[q];
      const free = ring.reserve(ring.size) - staged[q];
      if (free < room) room = free;
    }
    return room;
  }

  allocFrame(): number {
    const f = this.pool.alloc();
    if (f < 0) {
      this.counters[P.rx_packets]++;
      this.counters[P.rx_no_buffer]++;
    }
    return f;
  }

  freeFrame(frame: number): void {
    if ((frame | 0) === frame && frame >= this.pool.first && frame < this.pool.first + this.pool.count) {
      this.pool.free(frame);
      this.pool.publish(); // a port gives a frame back rarely (at close): publish at once
    }
  }

  dataOffset(frame: number): number {
    return frame * this.frameSize + XDP_PACKET_HEADROOM;
  }

  submit(frame: number, length: number): boolean {
    const c = this.counters;
    c[P.rx_packets]++;
    // Only a frame of this device's pool can be submitted (allocFrame's); anything else is
    // not ours to queue or to free.
    if ((frame | 0) !== frame || frame < this.pool.first || frame >= this.pool.first + this.pool.count) {
      c[P.rx_dropped]++;
      return false;
    }
    if ((length >>> 0) !== length || length > this.maxFrameLength || length < 14) {
      if ((length >>> 0) === length) c[P.rx_bytes] += length;
      c[P.rx_dropped]++;
      this.pool.free(frame);
      return false;
    }
    c[P.rx_bytes] += length;
    // After stop-ingress the queues may already have drained for the last time: a frame
    // put on their rx ring now would never come back to its pool (as receive() does, drop it).
    if (!this.ingressOpen) {
      c[P.rx_dropped]++;
      this.pool.free(frame);
      return false;
    }
    return this.enqueue(frame, length);
  }

  private enqueue(frame: number, length: number, flags = 0, headroom = XDP_PACKET_HEADROOM): boolean {
    const off = frame * this.frameSize + headroom;
    const q = this.steerer.steer(this.area, off, length);
    if (q < 0 || q >= this.rx.length) {
      this.counters[P.rx_flow_drop]++;
      this.pool.free(frame);
      return false;
    }
    const ring = this.rx[q];
    const s = this.rxStaged[q];
    if (ring.reserve(s + 1) <= s) {
      this.counters[P.rx_ring_full]++;
      this.pool.free(frame);
      return false;
    }
    const w = ring.words;
    const o = ring.slotOf(s);
    w[o + D_FRAME] = frame;
    w[o + D_OFFLEN] = packOffLen(headroom, length);
    w[o + D_HASH] = this.steerer.hash;
    w[o + D_META] = packMeta(this.port, 0, 0) | flags;
    this.rxStaged[q] = s + 1;
    this.counters[P.rx_rps]++;
    return true;
  }

  flush(): void {
    // A socket port's bursts arrive while the device loop sleeps (its doorbell rings for tx
    // only): adopt a newer steering table here too, so a rule change applies from the next
    // burst on, not from the loop's next wake-up (which an idle tx side may not have for a
    // second). One generation load when nothing changed.
    this.steerer.refresh();
    const rx = this.rx;
    const staged = this.rxStaged;
    for (let q = 0; q < rx.length; q++) {
      if (staged[q] !== 0) {
        rx[q].submit(staged[q]);
        staged[q] = 0;
      }
    }
    this.pool.publish();
  }

  // ── egress ─────────────────────────────────────────────────────────────────

  /** Moves up to `budget` descriptors from each queue's tx ring to the port. Returns how many. */
  drain(port: Port, budget: number): number {
    const c = this.counters;
    const fs = this.frameSize;
    let total = 0;
    const takes = port.offloads !== undefined ? port.offloads() : 0;
    if (takes !== this.published) {
      // The port's word, then the generation (seq-cst, in this order): a worker whose
      // Atomics.load of the generation, at the start of a breath, sees the bump loads the
      // port's new word after it (QueueEngine.breathe: GRO on or off).
      Atomics.store(this.offloads, this.port, takes);
      Atomics.add(this.offloads, this.offloadsGen, 1);
      this.published = takes;
    }
    for (let q = 0; q < this.tx.length; q++) {
      const ring = this.tx[q];
      const n = ring.peek(budget);
      if (n === 0) continue;
      // A full ring may hold back a producer that waits for room instead of dropping (a
      // lossless replay, QueueIO.room()): once this drain frees some, ring its worker, as a
      // NIC's TX completion wakes a stopped queue. Checked once per full batch only.
      const wasFull = n === budget && ring.count() >= ring.size;
      const w = ring.words;
      for (let k = 0; k < n; k++) {
        const o = ring.entryOf(k);
        const frame = w[o + D_FRAME];
        const offLen = w[o + D_OFFLEN];
        const len = offLen >>> 16;
        let sent: boolean;
        try {
          if ((w[o + D_META] & F_VNET) === 0) sent = port.transmit(this.area, frame * fs + (offLen & 0xffff), len, q);
          else sent = this.transmitVnet(port, takes, frame, offLen & 0xffff, len, q);
        } catch (e) {
          sent = false;
          this.log('error', `transmit failed: ${(e as Error).message}`);
        }
        if (sent) {
          c[P.tx_packets]++;
          c[P.tx_bytes] += len;
        } else c[P.tx_dropped]++;
        this.free(frame);
      }
      ring.release(n);
      if (wasFull) this.queueBells[q].ring();
      total += n;
    }
    if (total !== 0) {
      for (let o = 0; o < this.recycle.length; o++) {
        const r = this.recycle[o];
        if (r !== null) r.flush();
      }
      this.pool.publish();
      if (port.flushTx !== undefined) port.flushTx();
    }
    return total;
  }

  /**
   * A frame with a virtio_net_hdr: to a port that takes it as it is, else cut (a
   * super-frame) or completed (a partial checksum) here first, as Linux's
   * validate_xmit_skb does for a device without the offload.
   */
  private transmitVnet(port: Port, takes: number, frame: number, off: number, len: number, q: number): boolean {
    const h = this.hdr;
    const area = this.area;
    const base = frame * this.frameSize;
    loadFrameVnet(h, area, base, off);
    const gso = (h.gsoType & ~VIRTIO_NET_HDR_GSO_ECN) !== VIRTIO_NET_HDR_GSO_NONE;
    const partial = (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0;
    const need = offloadsFor(h.gsoType, h.flags);
    if (port.transmitOffload !== undefined && need !== -1 && (takes & need) === need) {
      return port.transmitOffload(area, base + off, len, q, h);
    }
    if (!gso) {
      if (partial) {
        if (!completeChecksum(area, base + off, len, h.csumStart, h.csumOffset)) return false;
        this.counters[P.tx_csum_sw]++;
      }
      return port.transmit(area, base + off, len, q);
    }
    const plan = this.gso;
    const n = plan.prepare(area, base + off, len, h.gsoType, h.gsoSize);
    if (n < 0) {
      this.gsoError(gsoErrorText(n));
      return false;
    }
    // One frame of our own pool holds each segment in turn: transmit() copies it out.
    const seg = this.pool.alloc();
    if (seg < 0) return false;
    const at = seg * this.frameSize + XDP_PACKET_HEADROOM;
    let sent = 0;
    for (let i = 0; i < n; i++) {
      if (plan.segmentLength(i) > this.maxFrameLength) break;
      const sl = plan.write(i, area, at, false);
      if (port.transmit(area, at, sl, q)) sent++;
    }
    this.pool.free(seg);
    this.counters[P.tx_gso_packets]++;
    this.counters[P.tx_gso_segments] += n;
    return sent === n;
  }

  private free(frame: number): void {
    const owner = frame < this.smallSlots ? (frame / this.poolFrames) | 0 : ((frame - this.smallSlots) / this.superStride) | 0;
    const r = this.recycle[owner];
    if (r === null) this.pool.free(frame);
    else r.put(frame);
  }

  /** Sets NEEDS_WAKEUP on every tx ring and reports whether all are empty. */
  prepareSleep(): boolean {
    let empty = true;
    for (const ring of this.tx) {
      ring.setNeedsWakeup();
      if (ring.peek(1) !== 0) empty = false;
    }
    return empty;
  }

  endSleep(): void {
    for (const ring of this.tx) ring.clearNeedsWakeup();
  }

  /** Descriptors waiting in this device's tx rings. */
  txPending(): number {
    let n = 0;
    for (const ring of this.tx) n += ring.count();
    return n;
  }

  // ── port services ──────────────────────────────────────────────────────────

  count(name: string, n = 1): void {
    this.counters[this.counterIndex(name)] += n;
  }

  counterIndex(name: string): number {
    return this.block.indexOf(name, `port ${this.name}`);
  }

  log(level: 'info' | 'warn' | 'error', message: string): void {
    this.logFn(level, message);
  }
}
