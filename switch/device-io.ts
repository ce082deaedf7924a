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
 */
import { Ring } from '../queues/ring.js';
import { Doorbell } from '../queues/doorbell.js';
import { D_FRAME, D_HASH, D_META, D_OFFLEN, XDP_PACKET_HEADROOM } from '../queues/frames.js';
import { FramePool, RecycleRing } from '../queues/pool.js';
import { CounterBlock } from '../lib/counters.js';
import { P } from './counters.js';
import { CTL_DOORBELL, CTL_WORDS, queueDoorbell, type SharedLayout } from './layout.js';
import type { Port, PortIO } from './ports/port.js';
import type { Steerer } from '../flows/rss.js';
import { ByteCopier } from './endpoints/copy.js';

export class DeviceIO implements PortIO {
  readonly name: string;
  readonly ifindex: number;
  readonly frameSize: number;
  readonly maxFrameLength: number;
  readonly area: Uint8Array;
  readonly counters: Float64Array;
  readonly doorbell: Doorbell;
  steerer: Steerer;
  /** False once the switch is stopping: frames still arriving are counted rx_dropped. */
  ingressOpen = true;

  private readonly port: number;
  private readonly pool: FramePool;
  private readonly copier = new ByteCopier();
  private readonly rx: Ring[];
  private readonly rxStaged: Int32Array;
  private readonly tx: Ring[];
  private readonly recycle: (RecycleRing | null)[];
  private readonly poolFrames: number;
  private readonly block: CounterBlock;
  private readonly logFn: (level: 'info' | 'warn' | 'error', message: string) => void;

  constructor(
    layout: SharedLayout,
    port: number,
    name: string,
    steerer: Steerer,
    log: (level: 'info' | 'warn' | 'error', message: string) => void,
  ) {
    this.port = port;
    this.name = name;
    this.ifindex = port + 1;
    this.frameSize = layout.frameSize;
    this.maxFrameLength = layout.frameSize - XDP_PACKET_HEADROOM;
    this.area = new Uint8Array(layout.area);
    this.poolFrames = layout.poolFrames;
    this.steerer = steerer;
    this.logFn = log;
    const ctl = new Int32Array(layout.control);
    this.doorbell = new Doorbell(ctl, port * CTL_WORDS + CTL_DOORBELL);
    this.pool = new FramePool(layout.pools[port]);
    this.rx = layout.rx[port].map((sab, q) => {
      const ring = new Ring(sab);
      ring.attachDoorbell(new Doorbell(ctl, queueDoorbell(layout, q)));
      return ring;
    });
    this.rxStaged = new Int32Array(layout.queues);
    this.tx = layout.tx.map((perPort) => new Ring(perPort[port]));
    this.recycle = layout.pools.map((pool, o) => (o === port ? null : new RecycleRing(pool.rings[port])));
    this.block = CounterBlock.fromShared(layout.portCounters[port]);
    this.counters = this.block.values;
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
    return this.enqueue(frame, length);
  }

  private enqueue(frame: number, length: number): boolean {
    const off = frame * this.frameSize + XDP_PACKET_HEADROOM;
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
    w[o + D_OFFLEN] = XDP_PACKET_HEADROOM | (length << 16);
    w[o + D_HASH] = this.steerer.hash;
    w[o + D_META] = this.port;
    this.rxStaged[q] = s + 1;
    this.counters[P.rx_rps]++;
    return true;
  }

  flush(): void {
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
    for (let q = 0; q < this.tx.length; q++) {
      const ring = this.tx[q];
      const n = ring.peek(budget);
      if (n === 0) continue;
      const w = ring.words;
      for (let k = 0; k < n; k++) {
        const o = ring.entryOf(k);
        const frame = w[o + D_FRAME];
        const offLen = w[o + D_OFFLEN];
        const len = offLen >>> 16;
        let sent: boolean;
        try {
          sent = port.transmit(this.area, frame * fs + (offLen & 0xffff), len, q);
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

  private free(frame: number): void {
    const owner = (frame / this.poolFrames) | 0;
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
    const i = this.block.index.get(name);
    if (i === undefined) throw new Error(`port ${this.name}: no counter named ${name} (declare it in the PortType's counters)`);
    return i;
  }

  log(level: 'info' | 'warn' | 'error', message: string): void {
    this.logFn(level, message);
  }
}
