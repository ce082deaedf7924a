/**
 * The device side of virtio-net, as vhost-net is: feature negotiation, device status,
 * queue pairs over split virtqueues in the VM's memory, the 12-byte net header, kicks
 * and interrupts through the transport's shared words. switch/ports/virtio.ts makes it a
 * switch port; tests drive it directly.
 *
 *   guest TX queue (2p+1) ──poll()────▶ sink.receive(frame)   (header stripped)
 *   guest RX queue (2p)   ◀─transmit()── switch frame          (header written, MRG_RXBUF)
 *
 * Contract: one thread (the port's device thread) calls every method. The guest is
 * untrusted: a broken rule sets DEVICE_NEEDS_RESET, counts tx_drop_malformed or
 * rx_drop_malformed, and the device stops touching the rings until the driver resets it
 * (status 0); then it serves again. Nothing here throws out of poll()/transmit(), touches
 * memory outside the guest's buffer, or allocates per packet.
 *
 * Counters (named from the guest's side, as virtio_net's ethtool -S is: tx = guest sends):
 * see VIRTIO_COUNTERS.
 */
import { GuestMemory } from '../../queues/virtqueue-memory.js';
import { CHAIN_ERROR, CHAIN_NONE, SplitDeviceQueue, checkLayout } from '../../queues/virtqueue-device.js';
import { PackedDeviceQueue, checkPackedLayout } from '../../queues/virtqueue-packed.js';
import {
  NET_HDR_BYTES,
  NET_HDR_NUM_BUFFERS,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER_OK,
  STATUS_FAILED,
  STATUS_FEATURES_OK,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  featureWords,
  hasFeature,
} from '../../queues/virtqueue.js';
import { ByteCopier } from '../../queues/copy.js';
import * as T from '../../queues/virtio-transport.js';
import type { MustAgree, NamesAgree } from '../../lib/counters.js';

export const VIRTIO_COUNTERS = [
  'tx_drop_malformed', // guest TX chain broke a rule (device now NEEDS_RESET)
  'tx_drop_short', // guest sent less than a header + Ethernet header
  'tx_drop_oversize', // guest sent more than 64 KiB
  'rx_drop_malformed', // guest RX chain broke a rule (device now NEEDS_RESET)
  'rx_drop_no_desc', // guest posted no RX buffer (ring empty)
  'rx_drop_too_big', // guest RX buffers too small for the frame
  'rx_drop_not_ready', // no VM attached, or not DRIVER_OK, or NEEDS_RESET
  'kicks_seen',
  'interrupts',
  'needs_reset',
  'resets',
] as const;
const enum C {
  tx_drop_malformed,
  tx_drop_short,
  tx_drop_oversize,
  rx_drop_malformed,
  rx_drop_no_desc,
  rx_drop_too_big,
  rx_drop_not_ready,
  kicks_seen,
  interrupts,
  needs_reset,
  resets,
}
type _VirtioNamesAgree = MustAgree<NamesAgree<typeof VIRTIO_COUNTERS, typeof C>>;

/** Where frames the guest transmits go (the port's io.receive). */
export interface FrameSink {
  receive(src: Uint8Array, offset: number, length: number): boolean;
}

export interface VirtioNetOptions {
  mac: string;
  maxPairs: number;
  /** Largest queue size the device accepts (QueueNumMax). */
  maxQueueSize: number;
  /** Feature bits to withhold (tests: a device without MRG_RXBUF, EVENT_IDX, …). */
  withhold?: readonly number[];
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

const OFFERED = [
  VIRTIO_F_VERSION_1,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_MQ,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  VIRTIO_F_RING_PACKED,
];
const SCRATCH_BYTES = 65536 + NET_HDR_BYTES;
/** Most RX buffers one frame may span with MRG_RXBUF. */
const MAX_MERGE = 64;

export class VirtioNetDevice {
  private mem: GuestMemory | null = null;
  private memBuf: Uint8Array = new Uint8Array(0);
  private mem32: Int32Array = new Int32Array(0);
  /** Switch frames into guest RX buffers. */
  private readonly copier = new ByteCopier();
  /** Scattered guest TX buffers into the scratch frame (its own copier: another buffer pair). */
  private readonly gather = new ByteCopier();
  private t: Int32Array | null = null;
  private status = 0;
  private ackSeq = 0;
  private featLo = 0;
  private featHi = 0;
  private mrg = false;
  private live = false;
  private pairs = 0;
  private queues: (SplitDeviceQueue | PackedDeviceQueue | null)[] = [];
  private rxDirty: Uint8Array;
  private nextTx = 0;
  private readonly devLo: number;
  private readonly devHi: number;
  private readonly scratch = new Uint8Array(SCRATCH_BYTES);
  private readonly mergeHeads = new Uint16Array(MAX_MERGE);
  private readonly mergeLens = new Uint32Array(MAX_MERGE);
  // Scatter cursor over the current RX chain's segments.
  private segI = 0;
  private segOff = 0;
  private numBufAddr0 = 0;
  private numBufAddr1 = 0;
  private lastLog = -Infinity;
  private suppressed = 0;

  constructor(
    readonly opts: VirtioNetOptions,
    private readonly c: Float64Array = new Float64Array(VIRTIO_COUNTERS.length),
    private readonly base = 0,
  ) {
    if (opts.maxPairs < 1 || opts.maxPairs > T.MAX_QUEUE_PAIRS) throw new RangeError(`queue pairs ${opts.maxPairs} out of range 1..${T.MAX_QUEUE_PAIRS}`);
    T.parseMac(opts.mac);
    const bits = OFFERED.filter((b) => !(opts.withhold ?? []).includes(b));
    [this.devLo, this.devHi] = featureWords(bits);
    this.rxDirty = new Uint8Array(opts.maxPairs);
  }

  /** Counter values by name (control plane). */
  counters(): Record<string, number> {
    const out: Record<string, number> = {};
    VIRTIO_COUNTERS.forEach((n, i) => (out[n] = this.c[this.base + i]));
    return out;
  }

  // ── control ─────────────────────────────────────────────────────────────────

  /** Starts serving a VM; returns an error message or null. */
  attach(memory: SharedArrayBuffer, transport: SharedArrayBuffer): string | null {
    if (!(memory instanceof SharedArrayBuffer) || !(transport instanceof SharedArrayBuffer)) return 'attach needs SharedArrayBuffers for memory and transport';
    if (transport.byteLength < T.transportBytes()) return `transport is ${transport.byteLength} bytes, needs ${T.transportBytes()}`;
    if (memory.byteLength < 4096 || memory.byteLength % 2 !== 0) return 'guest memory must be at least 4096 bytes and even';
    this.detach();
    this.mem = new GuestMemory(memory);
    this.memBuf = this.mem.bytes;
    this.mem32 = new Int32Array(memory, 0, memory.byteLength >>> 2);
    const t = new Int32Array(transport);
    this.t = t;
    const [macLo, macHi] = T.macToWords(this.opts.mac);
    t[T.kDeviceFeaturesLo] = this.devLo | 0;
    t[T.kDeviceFeaturesHi] = this.devHi | 0;
    t[T.kMaxPairs] = this.opts.maxPairs;
    t[T.kMacLo] = macLo | 0;
    t[T.kMacHi] = macHi;
    t[T.kNetStatus] = T.VIRTIO_NET_S_LINK_UP;
    for (let q = 0; q < 2 * T.MAX_QUEUE_PAIRS; q++) t[T.queueWord(q, T.QMAXSIZE)] = q < 2 * this.opts.maxPairs ? this.opts.maxQueueSize : 0;
    this.reset();
    // A request the driver made before we attached is answered by the first poll.
    this.ackSeq = Atomics.load(t, T.kAckSeq);
    // Published before kAttached below, which the guest waits on (pairs with its Atomics.load).
    Atomics.store(t, T.kStatus, 0);
    Atomics.store(t, T.kMagic, T.VIRTIO_MAGIC);
    // Pairs with the guest's Atomics.wait on kAttached before it starts its driver.
    Atomics.store(t, T.kAttached, 1);
    Atomics.notify(t, T.kAttached);
    return null;
  }

  detach(): void {
    if (this.t !== null) {
      // Pairs with the guest driver's Atomics.load(kAttached) in writeStatus(): it stops waiting for us.
      Atomics.store(this.t, T.kAttached, 0);
      Atomics.notify(this.t, T.kAttached);
    }
    this.reset();
    this.mem = null;
    this.t = null;
  }

  get attached(): boolean {
    return this.t !== null;
  }

  /** The word a device thread may sleep on: the guest bumps it on every kick and status write. */
  get bell(): { words: Int32Array; index: number } | null {
    return this.t === null ? null : { words: this.t, index: T.kDeviceBell };
  }

  describe(): Record<string, unknown> {
    return {
      attached: this.t !== null,
      status: this.status,
      features: [this.featLo, this.featHi],
      pairs: this.pairs,
      live: this.live,
      counters: this.counters(),
    };
  }

  // ── data path ───────────────────────────────────────────────────────────────

  /**
   * Applies a pending status write, then moves up to `budget` frames the guest
   * transmitted into `sink`. Returns how many chains it consumed. Never throws.
   */
  poll(budget: number, sink: FrameSink): number {
    const t = this.t;
    if (t === null) return 0;
    // Pairs with the driver's Atomics.add(kReqSeq) after its kStatusReq store.
    if (Atomics.load(t, T.kReqSeq) !== this.ackSeq) this.serviceStatus(t);
    if (!this.live) return 0;
    let done = 0;
    for (let k = 0; k < this.pairs && done < budget; k++) {
      const pair = (this.nextTx + k) % this.pairs;
      done += this.serviceTx(2 * pair + 1, budget - done, sink);
      if (!this.live) return done;
    }
    this.nextTx = (this.nextTx + 1) % this.pairs;
    return done;
  }

  /**
   * Writes one frame into the guest RX queue of pair (queue mod pairs). Returns false when
   * it was dropped (counted by reason). Never throws. Published by flush().
   */
  transmit(area: Uint8Array, offset: number, length: number, queue: number): boolean {
    if (!this.live) {
      this.c[this.base + C.rx_drop_not_ready]++;
      return false;
    }
    // Integer modulo is a division; most configurations map queue q to pair q directly.
    const pair = queue < this.pairs ? queue : queue % this.pairs;
    const q = this.queues[2 * pair]!;
    const need = length + NET_HDR_BYTES;
    let chains = 0;
    let written = 0;
    let head = 0;
    while (written < need) {
      head = q.pop();
      if (head === CHAIN_NONE) {
        q.unpop(chains);
        this.c[this.base + C.rx_drop_no_desc]++;
        return false;
      }
      if (head === CHAIN_ERROR) return this.malformed(C.rx_drop_malformed, q.error);
      if (q.readableCount !== 0) return this.malformed(C.rx_drop_malformed, 'Unexpected descriptor format for RX: readable buffer');
      if (chains === 0 && q.writableBytes < NET_HDR_BYTES) return this.malformed(C.rx_drop_malformed, 'RX buffer smaller than the virtio-net header');
      if (!this.mrg && q.writableBytes < need) {
        // Without MRG_RXBUF one buffer holds the whole frame; as vhost, discard and give back.
        q.unpop(1);
        this.c[this.base + C.rx_drop_too_big]++;
        return false;
      }
      if (chains === 0 && q.segLen[0] >= need) {
        // The common case: header and frame fit the chain's first buffer.
        const a = q.segAddr[0];
        const mb = this.memBuf;
        if ((a & 3) === 0) {
          // Three word stores: flags…csum_offset zero, num_buffers (bytes 10–11, little-endian) = 1.
          const w = a >>> 2;
          this.mem32[w] = 0;
          this.mem32[w + 1] = 0;
          this.mem32[w + 2] = 1 << 16;
        } else {
          for (let k = 0; k < NET_HDR_BYTES; k++) mb[a + k] = 0;
          mb[a + NET_HDR_NUM_BUFFERS] = 1;
        }
        this.copier.copy(mb, a + NET_HDR_BYTES, area, offset, length);
        q.addUsed(head, need);
        this.rxDirty[pair] = 1;
        return true;
      }
      if (chains === MAX_MERGE) {
        q.unpop(chains + 1);
        this.c[this.base + C.rx_drop_too_big]++;
        return false;
      }
      this.segI = 0;
      this.segOff = 0;
      let n = 0;
      if (chains === 0) {
        n = this.scatter(q, area, 0, NET_HDR_BYTES, true);
      }
      const dataDone = written === 0 ? 0 : written - NET_HDR_BYTES;
      n += this.scatter(q, area, offset + dataDone, length - dataDone, false);
      this.mergeHeads[chains] = head;
      this.mergeLens[chains] = n;
      written += n;
      chains++;
    }
    // num_buffers (le16 at header offset 10): the header is ours to write now all chains are known.
    const mb = this.memBuf;
    mb[this.numBufAddr0] = chains & 0xff;
    mb[this.numBufAddr1] = chains >>> 8;
    for (let i = 0; i < chains; i++) q.addUsed(this.mergeHeads[i], this.mergeLens[i]);
    this.rxDirty[pair] = 1;
    return true;
  }

  /** After a burst of transmit(): publish used entries and interrupt where asked. */
  flush(): void {
    if (!this.live) return;
    for (let p = 0; p < this.pairs; p++) {
      if (this.rxDirty[p] === 0) continue;
      this.rxDirty[p] = 0;
      if (this.queues[2 * p]!.publishUsed()) this.interrupt(2 * p);
    }
  }

  // ── internals ───────────────────────────────────────────────────────────────

  private serviceTx(qi: number, budget: number, sink: FrameSink): number {
    const q = this.queues[qi]!;
    let done = 0;
    while (done < budget) {
      const head = q.pop();
      if (head === CHAIN_NONE) break;
      if (head === CHAIN_ERROR) {
        // Counted as one consumed (and dropped) chain, so sink + tx_drop_* = poll()'s total.
        this.malformed(C.tx_drop_malformed, q.error);
        return done + 1;
      }
      done++;
      if (q.readableCount !== q.segCount) {
        this.malformed(C.tx_drop_malformed, 'Unexpected descriptor format for TX: writable buffer');
        return done;
      }
      const total = q.readableBytes;
      if (total < NET_HDR_BYTES + 14) this.c[this.base + C.tx_drop_short]++;
      else if (q.segCount === 1) sink.receive(this.memBuf, q.segAddr[0] + NET_HDR_BYTES, total - NET_HDR_BYTES);
      else if (q.segCount === 2 && q.segLen[0] === NET_HDR_BYTES) sink.receive(this.memBuf, q.segAddr[1], q.segLen[1]);
      else if (total > SCRATCH_BYTES) this.c[this.base + C.tx_drop_oversize]++;
      else {
        let at = 0;
        for (let s = 0; s < q.segCount; s++) {
          this.gather.copy(this.scratch, at, this.memBuf, q.segAddr[s], q.segLen[s]);
          at += q.segLen[s];
        }
        sink.receive(this.scratch, NET_HDR_BYTES, total - NET_HDR_BYTES);
      }
      q.addUsed(head, 0);
    }
    if (q.publishUsed()) this.interrupt(qi);
    // NAPI-style: busy → the guest need not kick; idle → ask for a kick before we rest.
    if (done === budget) q.disableKicks();
    else q.enableKicks();
    return done;
  }

  /**
   * Copies n bytes into the current RX chain from the scatter cursor on; returns how many
   * fit. `header` notes where num_buffers lands.
   */
  private scatter(q: SplitDeviceQueue | PackedDeviceQueue, src: Uint8Array, srcOff: number, n: number, header: boolean): number {
    let done = 0;
    const mb = this.memBuf;
    while (done < n && this.segI < q.segCount) {
      const room = q.segLen[this.segI] - this.segOff;
      const take = room < n - done ? room : n - done;
      const dst = q.segAddr[this.segI] + this.segOff;
      if (header) {
        for (let k = 0; k < take; k++) {
          const h = done + k;
          mb[dst + k] = 0;
          if (h === 10) this.numBufAddr0 = dst + k;
          else if (h === 11) this.numBufAddr1 = dst + k;
        }
      } else {
        this.copier.copy(mb, dst, src, srcOff + done, take);
      }
      done += take;
      this.segOff += take;
      if (this.segOff === q.segLen[this.segI]) {
        this.segI++;
        this.segOff = 0;
      }
    }
    return done;
  }

  private interrupt(queue: number): void {
    const t = this.t!;
    this.c[this.base + C.interrupts]++;
    // A statistic only (read by the runner and tests with Atomics.load); no ordering needed.
    Atomics.add(t, T.queueWord(queue, T.QINTERRUPTS), 1);
    // Pairs with the guest's Atomics.wait on kGuestBell (it re-checks its used rings after
    // reading the bell, so a bump between its check and its wait is not lost).
    Atomics.add(t, T.kGuestBell, 1);
    Atomics.notify(t, T.kGuestBell);
  }

  private malformed(counter: C, why: string): false {
    this.c[this.base + counter]++;
    this.needsReset(why);
    return false;
  }

  private needsReset(why: string): void {
    if (!this.live) return;
    this.live = false;
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    this.c[this.base + C.needs_reset]++;
    const t = this.t!;
    // Pairs with the guest's Atomics.load(kStatus) in needsReset() after it wakes on kGuestBell.
    Atomics.store(t, T.kStatus, this.status);
    Atomics.add(t, T.kConfigGen, 1);
    // A guest that breaks the rules in a loop (reset, break, reset…) must not flood the log.
    const now = Date.now();
    if (now - this.lastLog >= 1000) {
      this.lastLog = now;
      const more = this.suppressed > 0 ? ` (${this.suppressed} more since the last message)` : '';
      this.suppressed = 0;
      this.opts.log?.('warn', `virtio device ${this.opts.mac}: ${why}; DEVICE_NEEDS_RESET until the guest resets it${more}`);
    } else this.suppressed++;
    // A configuration-change interrupt (virtio 1.x §2.1.2); pairs with the guest's Atomics.wait in wait().
    Atomics.add(t, T.kGuestBell, 1);
    Atomics.notify(t, T.kGuestBell);
  }

  private reset(): void {
    this.status = 0;
    this.featLo = 0;
    this.featHi = 0;
    this.mrg = false;
    this.live = false;
    this.pairs = 0;
    this.queues = [];
    this.rxDirty.fill(0);
    this.nextTx = 0;
  }

  private serviceStatus(t: Int32Array): void {
    // Pairs with the driver's Atomics.add(kReqSeq) in writeStatus().
    const seq = Atomics.load(t, T.kReqSeq);
    // Pairs with the driver's plain store of kStatusReq before its Atomics.add(kReqSeq).
    const req = Atomics.load(t, T.kStatusReq) & 0xff;
    this.applyStatus(t, req);
    Atomics.store(t, T.kStatus, this.status);
    this.ackSeq = seq;
    // Pairs with the driver's Atomics.wait on kAckSeq in its status write.
    Atomics.store(t, T.kAckSeq, seq);
    Atomics.notify(t, T.kAckSeq);
  }

  private applyStatus(t: Int32Array, req: number): void {
    if (req === 0) {
      if (this.status !== 0) this.c[this.base + C.resets]++;
      this.reset();
      return;
    }
    if ((req & STATUS_FAILED) !== 0) {
      this.live = false;
      this.status |= STATUS_FAILED;
      return;
    }
    // The driver only ever adds bits; NEEDS_RESET stays until a reset.
    const adding = req & ~this.status;
    if ((adding & STATUS_FEATURES_OK) !== 0) {
      const lo = t[T.kDriverFeaturesLo] >>> 0;
      const hi = t[T.kDriverFeaturesHi] >>> 0;
      const subset = (lo & ~this.devLo) === 0 && (hi & ~this.devHi) === 0;
      if (!subset || !hasFeature(lo, hi, VIRTIO_F_VERSION_1)) {
        this.opts.log?.('warn', `virtio device ${this.opts.mac}: driver features 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} refused`);
        this.status |= req & ~STATUS_FEATURES_OK & ~STATUS_DRIVER_OK;
        return;
      }
      this.featLo = lo;
      this.featHi = hi;
      this.mrg = hasFeature(lo, hi, VIRTIO_NET_F_MRG_RXBUF);
    }
    this.status |= req & ~STATUS_DEVICE_NEEDS_RESET;
    if ((adding & STATUS_DRIVER_OK) !== 0) {
      if ((this.status & STATUS_FEATURES_OK) === 0) {
        this.status &= ~STATUS_DRIVER_OK;
        this.needsResetQuiet();
        return;
      }
      this.startQueues(t);
    }
  }

  private needsResetQuiet(): void {
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    this.c[this.base + C.needs_reset]++;
  }

  private startQueues(t: Int32Array): void {
    const mem = this.mem!;
    const mq = hasFeature(this.featLo, this.featHi, VIRTIO_NET_F_MQ);
    const asked = t[T.kPairs];
    const pairs = mq ? Math.min(Math.max(asked, 1), this.opts.maxPairs) : 1;
    const opts = {
      eventIdx: hasFeature(this.featLo, this.featHi, VIRTIO_RING_F_EVENT_IDX),
      indirect: hasFeature(this.featLo, this.featHi, VIRTIO_RING_F_INDIRECT_DESC),
    };
    const packed = hasFeature(this.featLo, this.featHi, VIRTIO_F_RING_PACKED);
    const queues: (SplitDeviceQueue | PackedDeviceQueue)[] = [];
    for (let q = 0; q < 2 * pairs; q++) {
      const size = t[T.queueWord(q, T.QSIZE)];
      const layout = { size, desc: t[T.queueWord(q, T.QDESC)] >>> 0, avail: t[T.queueWord(q, T.QDRIVER)] >>> 0, used: t[T.queueWord(q, T.QDEVICE)] >>> 0 };
      let err = t[T.queueWord(q, T.QREADY)] !== 1 ? `queue ${q} not ready` : packed ? checkPackedLayout(mem, layout) : checkLayout(mem, layout);
      if (err === null && size > this.opts.maxQueueSize) err = `queue ${q} size ${size} above the maximum ${this.opts.maxQueueSize}`;
      if (err !== null) {
        this.opts.log?.('warn', `virtio device ${this.opts.mac}: ${err}; DEVICE_NEEDS_RESET`);
        this.needsResetQuiet();
        this.c[this.base + (q % 2 === 0 ? C.rx_drop_malformed : C.tx_drop_malformed)]++;
        return;
      }
      queues.push(packed ? new PackedDeviceQueue(mem, layout, opts) : new SplitDeviceQueue(mem, layout, opts));
    }
    this.queues = queues;
    this.pairs = pairs;
    this.live = true;
    for (let q = 1; q < 2 * pairs; q += 2) queues[q].enableKicks();
  }
}
