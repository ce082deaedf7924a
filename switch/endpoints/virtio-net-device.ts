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
import { SplitDeviceQueue, checkLayout } from '../../queues/virtqueue-device.js';
import { PackedDeviceQueue, checkPackedLayout } from '../../queues/virtqueue-packed.js';
import {
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER_OK,
  STATUS_FAILED,
  STATUS_FEATURES_OK,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  featureWords,
  hasFeature,
} from '../../queues/virtqueue.js';
import { C, VIRTIO_COUNTERS, VirtioNetQueues, type FrameSink, type NetQueueHost } from './virtio-net-queues.js';
import * as T from '../../queues/virtio-transport.js';
import type { VnetHdr } from '../../lib/net/vnet-hdr.js';
import { OFFLOAD_CSUM, OFFLOAD_TSO4, OFFLOAD_TSO6, OFFLOAD_TSO_ECN } from '../../queues/frame-vnet.js';
import { F_EVENT_IDX, F_GUEST_ECN, F_INDIRECT, F_MRG_RXBUF, F_PACKED, type HandoverWriter } from '../../queues/virtq-handover.js';

export { VIRTIO_COUNTERS, type FrameSink };

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
  // Offloads (SPEC.md §10.4): the guest may send TSO super-frames and partial checksums
  // (cut and completed by the switch where needed) and take them (made by GRO).
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_ECN,
];

export class VirtioNetDevice implements NetQueueHost {
  private mem: GuestMemory | null = null;
  private t: Int32Array | null = null;
  private status = 0;
  private ackSeq = 0;
  private featLo = 0;
  private featHi = 0;
  private readonly net: VirtioNetQueues;
  /** What the guest takes on receive (OFFLOAD_*), from GUEST_CSUM / GUEST_TSO4/6. */
  private takes = 0;
  private guestEcn = false;
  private readonly devLo: number;
  private readonly devHi: number;
  private lastLog = -Infinity;
  /** Set during fault(): the caller logs the error, needsReset() must not log it again. */
  private quietReset = false;
  private suppressed = 0;
  /**
   * Run to completion: the queue workers that write the guest's RX rings themselves
   * (virtio-net-side.ts), one pair each, when the guest runs at least as many pairs as the
   * switch has queues; null, or fewer pairs: this thread serves every ring.
   */
  handover: HandoverWriter | null = null;
  /** Which guest memory the workers must use (bumped by every attach). */
  memGen = 0;
  /**
   * The queue workers receive this port (no flow-steering rules: PortIO.rxOnQueues): worker q
   * then polls the guest's TX ring of pair q too, when the guest runs exactly as many pairs
   * as the switch has queues (so this thread receives from no ring at all).
   */
  txOnWorkers = false;
  /** Pairs whose TX ring a worker polls now, and the guest's kick count last relayed to it. */
  private txHanded = 0;
  private readonly kicksSeen = new Int32Array(T.MAX_QUEUE_PAIRS);

  constructor(
    readonly opts: VirtioNetOptions,
    private readonly c: Float64Array = new Float64Array(VIRTIO_COUNTERS.length),
    private readonly base = 0,
  ) {
    if (opts.maxPairs < 1 || opts.maxPairs > T.MAX_QUEUE_PAIRS) throw new RangeError(`queue pairs ${opts.maxPairs} out of range 1..${T.MAX_QUEUE_PAIRS}`);
    T.parseMac(opts.mac);
    const bits = OFFERED.filter((b) => !(opts.withhold ?? []).includes(b));
    [this.devLo, this.devHi] = featureWords(bits);
    this.net = new VirtioNetQueues(opts.maxPairs, this, c, base);
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
    this.memGen++;
    this.mem = new GuestMemory(memory);
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
      pairs: this.net.served.rx,
      live: this.net.live,
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
    // A queue worker found the guest breaking an RX ring rule (it counted it).
    if (this.handover !== null && this.handover.takeBroken() && (this.status & STATUS_DEVICE_NEEDS_RESET) === 0) {
      this.net.stop();
      this.needsReset('a queue worker found a broken ring');
    }
    // A kick on a TX ring a worker polls: rung through to that worker's doorbell (it sleeps
    // there; the guest rings only this thread's bell).
    for (let q = 0; q < this.txHanded; q++) {
      // A statistic the driver bumps with Atomics.add before it rings the bell; pairs with it.
      const k = Atomics.load(t, T.queueWord(2 * q + 1, T.QKICKS));
      if (k !== this.kicksSeen[q]) {
        this.kicksSeen[q] = k;
        this.handover!.wake(q);
      }
    }
    return this.net.poll(budget, sink);
  }

  /**
   * Writes one frame into the guest RX queue of pair (queue mod pairs). Returns false when
   * it was dropped (counted by reason). Never throws. Published by flush().
   */
  transmit(area: Uint8Array, offset: number, length: number, queue: number): boolean {
    return this.net.transmit(area, offset, length, queue);
  }

  /** After a burst of transmit(): publish used entries and interrupt where asked. */
  flush(): void {
    this.net.flush();
  }

  // ── NetQueueHost ────────────────────────────────────────────────────────────

  interrupt(queue: number): void {
    const t = this.t!;
    // A statistic only (read by the runner and tests with Atomics.load); no ordering needed.
    Atomics.add(t, T.queueWord(queue, T.QINTERRUPTS), 1);
    // Pairs with the guest's Atomics.wait on kGuestBell (it re-checks its used rings after
    // reading the bell, so a bump between its check and its wait is not lost).
    Atomics.add(t, T.kGuestBell, 1);
    Atomics.notify(t, T.kGuestBell);
  }

  /**
   * The device itself failed (an exception out of poll or transmit: a bug, not the guest):
   * counted device_errors and marked DEVICE_NEEDS_RESET by the data path. The caller
   * reports the error (rate-limited).
   */
  fault(why: string): void {
    this.quietReset = true;
    this.net.fault(why);
    this.quietReset = false;
  }

  broken(why: string): void {
    this.needsReset(why);
  }

  // ── internals ───────────────────────────────────────────────────────────────

  /** The data path stopped on a broken rule (it counted needs_reset): tell the guest. */
  private needsReset(why: string): void {
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    // No ring is served any more, by this thread or a queue worker.
    this.handover?.takeAll();
    this.txHanded = 0;
    const t = this.t!;
    // Pairs with the guest's Atomics.load(kStatus) in needsReset() after it wakes on kGuestBell.
    Atomics.store(t, T.kStatus, this.status);
    Atomics.add(t, T.kConfigGen, 1);
    // A guest that breaks the rules in a loop (reset, break, reset…) must not flood the log.
    const now = Date.now();
    if (this.quietReset) {
      // fault(): the port reports it, rate-limited, with its own words.
    } else if (now - this.lastLog >= 1000) {
      this.lastLog = now;
      const more = this.suppressed > 0 ? ` (${this.suppressed} more since the last message)` : '';
      this.suppressed = 0;
      this.opts.log?.('warn', `virtio device ${this.opts.mac}: ${why}; DEVICE_NEEDS_RESET until the guest resets it${more}`);
    } else this.suppressed++;
    // A configuration-change interrupt (virtio 1.x §2.1.2); pairs with the guest's Atomics.wait in wait().
    Atomics.add(t, T.kGuestBell, 1);
    Atomics.notify(t, T.kGuestBell);
  }

  /** What the guest takes now (OFFLOAD_*): nothing until it is live. */
  offloads(): number {
    return this.net.live ? this.takes : 0;
  }

  /**
   * transmit() with the frame's virtio_net_hdr, for a guest whose offloads() cover it (the
   * device thread checked). A TCP super-frame with CWR needs GUEST_ECN: refused (false) else.
   */
  transmitOffload(area: Uint8Array, offset: number, length: number, queue: number, h: VnetHdr): boolean {
    return this.net.transmitOffload(area, offset, length, queue, h, this.guestEcn);
  }

  /** transmitOffload() of a super-frame given as pieces (VirtioNetQueues.transmitGather). */
  transmitGather(area: Uint8Array, pieces: Int32Array, first: number, n: number, total: number, queue: number, h: VnetHdr): boolean {
    return this.net.transmitGather(area, pieces, first, n, total, queue, h, this.guestEcn);
  }

  private reset(): void {
    this.status = 0;
    this.featLo = 0;
    this.featHi = 0;
    this.net.stop();
    this.handover?.takeAll();
    this.txHanded = 0;
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
      this.net.stop();
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
      const csum = hasFeature(lo, hi, VIRTIO_NET_F_GUEST_CSUM);
      // A super-frame always comes with a partial checksum: TSO without GUEST_CSUM is not taken.
      this.takes =
        (csum ? OFFLOAD_CSUM : 0) |
        (csum && hasFeature(lo, hi, VIRTIO_NET_F_GUEST_TSO4) ? OFFLOAD_TSO4 : 0) |
        (csum && hasFeature(lo, hi, VIRTIO_NET_F_GUEST_TSO6) ? OFFLOAD_TSO6 : 0);
      this.guestEcn = hasFeature(lo, hi, VIRTIO_NET_F_GUEST_ECN);
      if (this.guestEcn && (this.takes & (OFFLOAD_TSO4 | OFFLOAD_TSO6)) !== 0) this.takes |= OFFLOAD_TSO_ECN;
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
    const mrg = hasFeature(this.featLo, this.featHi, VIRTIO_NET_F_MRG_RXBUF);
    const h = this.handover;
    const served: (SplitDeviceQueue | PackedDeviceQueue | null)[] = queues;
    // A guest that takes TSO too: worker q's GRO writes its super-frames into ring 2q itself.
    const rxHand = h !== null && pairs >= h.queues;
    // The TX rings go to the workers only when they are all of them: this thread then
    // receives from none, and each worker is the only producer on its queue's rx ring.
    const txHand = h !== null && this.txOnWorkers && pairs === h.queues;
    if (h !== null && (rxHand || txHand)) {
      // Worker q writes RX ring 2q and polls TX ring 2q + 1 itself; this thread keeps the rest
      // (the RX rings of pairs beyond the switch's queues, which no queue sends to).
      const flags =
        (opts.eventIdx ? F_EVENT_IDX : 0) | (opts.indirect ? F_INDIRECT : 0) | (mrg ? F_MRG_RXBUF : 0) | (packed ? F_PACKED : 0) | (this.guestEcn ? F_GUEST_ECN : 0);
      const ring = (vq: number) => ({
        size: t[T.queueWord(vq, T.QSIZE)],
        desc: t[T.queueWord(vq, T.QDESC)] >>> 0,
        avail: t[T.queueWord(vq, T.QDRIVER)] >>> 0,
        used: t[T.queueWord(vq, T.QDEVICE)] >>> 0,
      });
      for (let q = 0; q < h.queues; q++) {
        const vq = 2 * q;
        // A fresh ring: index 0 (a packed one with its wrap counter, 1, in bit 15).
        const base = packed ? 0x8000 : 0;
        const tx = txHand ? { vq: vq + 1, ...ring(vq + 1), base, callFd: -1 } : null;
        h.hand(q, { vq, ...ring(vq), flags, base, takes: this.takes, callFd: -1, memGen: this.memGen, tx, txOnly: !rxHand });
        if (rxHand) served[vq] = null;
        if (txHand) {
          served[vq + 1] = null;
          // Pairs with the driver's Atomics.add of the kick count.
          this.kicksSeen[q] = Atomics.load(t, T.queueWord(vq + 1, T.QKICKS));
        }
      }
      h.wait();
      this.txHanded = txHand ? h.queues : 0;
    }
    this.net.start(mem, served, mrg);
  }
}
