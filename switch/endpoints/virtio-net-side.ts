/**
 * A VM port's queue side (run to completion): queue worker q serves the guest's virtqueue
 * pair q itself, through the same virtio-net data path the device thread uses
 * (virtio-net-queues.ts), in its breath, without a thread hop:
 *  - egress: the frames its breath sends to the VM go straight into the guest's RX ring,
 *    then the used ring is published and the guest interrupted where the ring's flags or
 *    EVENT_IDX ask;
 *  - ingress (when the workers receive the port, io.receives): the breath polls the guest's
 *    TX ring (poll()), copies each chain into a frame of the worker's own pool and stages it
 *    on the port's rx ring of queue q (virtio-net-ingress.ts, which also cuts or passes on
 *    TSO super-frames); the program runs on it in the same breath. No RPS hop.
 *
 *   device thread: negotiation, status / vhost-user messages ──hand(q, rings)──▶ slot q
 *   worker q, each breath: service() ── GEN moved? ──▶ stop, (re)map, serve, ACK
 *   worker q, poll():      guest TX ring of pair q ──▶ pool frames ──▶ rx[p][q]
 *   worker q, per frame:   transmit() ──▶ guest RX ring of pair q (MRG_RXBUF, offloads)
 *
 * The rings come and go through queues/virtq-handover.ts; while the worker holds no RX ring
 * (io.direct false) the engine stages the port's frames on its tx ring for the device
 * thread, which then serves every RX ring itself (a guest with fewer pairs than the
 * switch has queues); while it holds no TX ring the device thread polls the guest's TX
 * rings. The guest's memory is this thread's own view (a JS guest's SharedArrayBuffer, or a
 * vhost-user table mapped here from its fds), released only here, after the rings stopped.
 * Kicks: the device thread relays a guest's kick on a TX ring it handed over to this
 * worker's doorbell (wakesWorker), so an idle worker sleeps without timed looks.
 *
 * A guest that breaks a ring rule: counted (rx/tx_drop_malformed, needs_reset) in this
 * queue's block, no ring is served any more, and the BROKEN word tells the device thread,
 * which marks the device broken (DEVICE_NEEDS_RESET, or the vhost-user error eventfds).
 */
import { GuestMemory } from '../../queues/virtqueue-memory.js';
import { SplitDeviceQueue, checkLayout } from '../../queues/virtqueue-device.js';
import { PackedDeviceQueue, checkPackedLayout } from '../../queues/virtqueue-packed.js';
import { ACK_GONE, F_EVENT_IDX, F_GUEST_ECN, F_INDIRECT, F_MRG_RXBUF, F_PACKED, H, HandoverBlock, type RingHandover } from '../../queues/virtq-handover.js';
import { OFFLOAD_CSUM } from '../../queues/frame-vnet.js';
import { completeChecksum, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, type VnetHdr } from '../../lib/net/vnet-hdr.js';
import { C, VIRTIO_COUNTERS, VirtioNetQueues, type DeviceQueue, type NetQueueHost } from './virtio-net-queues.js';
import { QueueIngress, SEGMENT_ROOM } from './virtio-net-ingress.js';
import { P } from '../counters.js';
import type { QueueIO, QueuePort } from '../ports/port.js';

/** Where the guest's memory comes from and how it is interrupted: a JS guest, or a vhost-user front-end. */
export interface SideGuest {
  /** The guest memory of generation `memGen` in this thread, or null while it has not arrived. */
  memory(memGen: number): GuestMemory | null;
  /** The side no longer serves a ring: drop what memory() mapped (this thread only). */
  release(): void;
  /** New used entries on virtio queue `vq` that the guest asked to hear about. */
  interrupt(vq: number, callFd: number): void;
  /** A request from the device thread (Port.control's queueSides). */
  control?(msg: unknown): void;
}

export class VirtioNetSide implements QueuePort, NetQueueHost {
  private readonly net: VirtioNetQueues;
  private readonly block: HandoverBlock;
  private readonly genWord: number;
  private seen = 0;
  /** The guest's RX ring served now (index 0 of the data path), or null. */
  private ring: DeviceQueue | null = null;
  /** The guest's TX ring polled now (index 1 of the data path), or null. */
  private txRing: DeviceQueue | null = null;
  private readonly ingress: QueueIngress;
  private vq = -1;
  private callFd = -1;
  private txVq = -1;
  private txCallFd = -1;
  /** The device thread rings this worker's doorbell on a kick of the TX ring it handed over. */
  readonly wakesWorker = true;
  /** Room for a super-frame's segments beyond the budget (virtio-net-ingress.ts). */
  readonly burst = SEGMENT_ROOM;
  private takes = 0;
  private ecn = false;
  private lastLog = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly io: QueueIO,
    private readonly guest: SideGuest,
  ) {
    if (io.shared === null) throw new Error(`port ${io.name}: a VM queue side needs the port's handover block`);
    this.block = new HandoverBlock(io.shared);
    this.genWord = this.block.word(io.queue, H.GEN);
    // One pair: RX ring at index 0 of the data path, TX ring at 1; counted in this queue's block of the port.
    this.net = new VirtioNetQueues(1, this, io.counters, io.counterIndex(VIRTIO_COUNTERS[0]));
    this.ingress = new QueueIngress(io);
    // Nothing served until the device hands a ring over: frames go through the device thread.
    io.direct = false;
  }

  service(): void {
    // Pairs with the device's Atomics.add(GEN) after it wrote the slot.
    if (Atomics.load(this.block.i32, this.genWord) === this.seen) return;
    this.apply();
  }

  /** Polls the guest's TX ring of this pair (when handed over) for at most `room` frames. */
  poll(room: number): number {
    if (this.txRing === null) return 0;
    this.ingress.begin(room);
    return this.net.poll(room, this.ingress);
  }

  control(msg: unknown): void {
    this.guest.control?.(msg);
    // A memory the slot waits for may have arrived.
    this.apply();
  }

  transmit(area: Uint8Array, offset: number, length: number, hdr: VnetHdr | null): boolean {
    if (hdr === null) return this.net.transmit(area, offset, length, 0);
    if ((this.takes & OFFLOAD_CSUM) !== 0) return this.net.transmitOffload(area, offset, length, 0, hdr, this.ecn);
    // A guest that takes no offloads gets complete frames: the partial checksum is finished here.
    if (hdr.gsoType !== VIRTIO_NET_HDR_GSO_NONE) return false;
    if ((hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
      if (!completeChecksum(area, offset, length, hdr.csumStart, hdr.csumOffset)) return false;
      this.io.counters[P.tx_csum_sw]++;
    }
    return this.net.transmit(area, offset, length, 0);
  }

  /**
   * A GRO super-frame given as pieces (QueuePort.transmitGather), for a guest that takes
   * its header (the engine checked GUEST_CSUM and the TSO feature; GUEST_ECN here).
   */
  transmitGather(area: Uint8Array, pieces: Int32Array, first: number, n: number, total: number, hdr: VnetHdr): boolean {
    if ((this.takes & OFFLOAD_CSUM) === 0) return false;
    return this.net.transmitGather(area, pieces, first, n, total, 0, hdr, this.ecn);
  }

  flushTx(): void {
    this.net.flush();
  }

  close(): void {
    this.stop();
    this.guest.release();
    const w = this.block.word(this.io.queue, H.ACK);
    // Pairs with the device's wait: a worker gone for good touches nothing.
    Atomics.store(this.block.i32, w, ACK_GONE);
    Atomics.notify(this.block.i32, w);
  }

  // ── NetQueueHost ───────────────────────────────────────────────────────────

  interrupt(queue: number): void {
    // Index 0 of the data path is the RX ring, 1 the TX ring.
    if (queue === 0) this.guest.interrupt(this.vq, this.callFd);
    else this.guest.interrupt(this.txVq, this.txCallFd);
  }

  broken(why: string): void {
    // The data path stopped itself (live = false) and counted it; frames go to the device
    // thread now, which refuses them (not ready) until the guest or front-end resets.
    this.io.direct = false;
    // Pairs with the device's Atomics.load(BROKEN) in takeBroken().
    Atomics.store(this.block.i32, this.block.word(this.io.queue, H.BROKEN), 1);
    const now = Date.now();
    if (now - this.lastLog < 1000) {
      this.suppressed++;
      return;
    }
    this.lastLog = now;
    const more = this.suppressed > 0 ? ` (${this.suppressed} more since the last message)` : '';
    this.suppressed = 0;
    const on = this.net.brokenOn;
    const ring = on === C.tx_drop_malformed ? `guest TX ring ${this.txVq}` : on === C.rx_drop_malformed ? `guest RX ring ${this.vq}` : `guest rings of pair ${this.io.queue}`;
    this.io.log('warn', `${ring}: ${why}; the device is marked broken${more}`);
  }

  // ── the handover ───────────────────────────────────────────────────────────

  /** Applies the slot as it is now; acknowledges it unless it waits for memory still to come. */
  private apply(): void {
    const i = this.block.i32;
    const q = this.io.queue;
    const gen = Atomics.load(i, this.genWord);
    this.stop();
    if (i[this.block.word(q, H.SERVE)] === 1 || i[this.block.word(q, H.TXVQ)] >= 0) {
      const r = this.block.ring(q);
      let mem: GuestMemory | null = null;
      let err: string | null = null;
      try {
        mem = this.guest.memory(r.memGen);
      } catch (e) {
        err = `mapping guest memory: ${(e as Error).message}`;
      }
      // The memory this ring lives in has not reached this thread yet (its control request
      // is on its way): not acknowledged, looked at again next breath.
      if (mem === null && err === null) return;
      // A worker that replaces one that died (ACK already at this generation) continues
      // where that one last published, not where the ring was handed over.
      const replacing = Atomics.load(i, this.block.word(q, H.ACK)) === gen;
      if (mem !== null) err = this.start(mem, r, replacing);
      if (err !== null) {
        // Counted device_errors (the ring was checked by the device thread already), and the
        // device is marked broken like for a guest that breaks a rule.
        this.vq = r.vq;
        this.net.live = true;
        this.net.fault(`ring ${r.tx === null || i[this.block.word(q, H.SERVE)] === 1 ? r.vq : r.tx!.vq}: ${err}`);
      }
    } else this.guest.release();
    this.seen = gen;
    // Pairs with the device's Atomics.wait on ACK in HandoverWriter.wait().
    Atomics.store(i, this.block.word(q, H.ACK), gen);
    Atomics.notify(i, this.block.word(q, H.ACK));
  }

  private start(mem: GuestMemory, r: RingHandover, replacing: boolean): string | null {
    const serveRx = this.block.i32[this.block.word(this.io.queue, H.SERVE)] === 1;
    const packed = (r.flags & F_PACKED) !== 0;
    // A packed ring's position (wrap counters) is not in the ring: a dead worker's cannot be recovered.
    if (packed && replacing) return 'the queue worker serving this packed ring was replaced; the guest must reset the device';
    let rx: DeviceQueue | null = null;
    if (serveRx) {
      const built = this.build(mem, r, r.base, packed, replacing);
      if (typeof built === 'string') return built;
      rx = built;
    }
    let tx: DeviceQueue | null = null;
    const t = r.tx ?? null;
    if (t !== null && this.io.receives) {
      const built = this.build(mem, { ...r, size: t.size, desc: t.desc, avail: t.avail, used: t.used }, t.base, packed, replacing);
      if (typeof built === 'string') return `TX ring ${t.vq}: ${built}`;
      tx = built;
    }
    this.ring = rx;
    this.txRing = tx;
    this.vq = r.vq;
    this.callFd = r.callFd;
    this.txVq = t?.vq ?? -1;
    this.txCallFd = t?.callFd ?? -1;
    this.takes = r.takes;
    this.ecn = (r.flags & F_GUEST_ECN) !== 0;
    // The device thread produced on the port's rx ring of this queue until now.
    if (tx !== null) this.io.resumeRx?.();
    this.net.start(mem, [rx, tx], (r.flags & F_MRG_RXBUF) !== 0);
    this.io.direct = rx !== null;
    return null;
  }

  /**
   * One ring of the slot over `mem`, at `base` (or, for a worker that replaces one that died,
   * at the ring's published used idx: an RX ring uses every chain it pops, a TX ring too,
   * and a worker publishes before it lets go).
   */
  private build(mem: GuestMemory, r: RingHandover, base: number, packed: boolean, replacing: boolean): DeviceQueue | string {
    const layout = { size: r.size, desc: r.desc, avail: r.avail, used: r.used };
    const err = packed ? checkPackedLayout(mem, layout) : checkLayout(mem, layout);
    if (err !== null) return err;
    const opts = { eventIdx: (r.flags & F_EVENT_IDX) !== 0, indirect: (r.flags & F_INDIRECT) !== 0 };
    const ring = packed ? new PackedDeviceQueue(mem, layout, opts) : new SplitDeviceQueue(mem, layout, opts);
    if (ring instanceof SplitDeviceQueue && replacing) ring.resumeAtUsed();
    else {
      // A packed ring's base carries its wrap counter in bit 15 (0x8000: a fresh ring).
      if (packed && (base & 0x7fff) >= r.size) return `packed ring base 0x${base.toString(16)} is beyond the ring (size ${r.size})`;
      ring.resume(base);
    }
    return ring;
  }

  /** Stops serving: what is queued is published (and the guest interrupted if it asks), then hands off. */
  private stop(): void {
    this.io.direct = false;
    if (this.ring === null && this.txRing === null) return;
    if (this.net.live) this.net.publishAll();
    this.net.stop();
    // A packed ring's position is not in the ring: the device thread continues from what is
    // left here (read after the ACK that follows; a chain popped and not used is popped again).
    const i = this.block.i32;
    const q = this.io.queue;
    if (this.ring instanceof PackedDeviceQueue) i[this.block.word(q, H.POS)] = this.ring.lastUsed;
    if (this.txRing instanceof PackedDeviceQueue) i[this.block.word(q, H.TXPOS)] = this.txRing.lastUsed;
    this.ring = null;
    this.txRing = null;
  }
}
