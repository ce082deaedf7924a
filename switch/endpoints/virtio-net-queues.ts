/**
 * The data path of virtio-net's device side: frames out of the guest's TX queues into the
 * switch, switch frames into the guest's RX queues (12-byte header, MRG_RXBUF), used-ring
 * publishing and the decision to interrupt. Two devices drive it:
 *  - switch/endpoints/virtio-net-device.ts, for the JS guest over a SharedArrayBuffer and
 *    the transport's register words;
 *  - switch/ports/vhost-user/, for a QEMU guest whose rings live in its own RAM, mapped
 *    from QEMU's memfds.
 * Neither the memory nor the thread that calls it matters here: whoever owns the queues
 * calls poll()/transmit()/flush() from one thread; the host says how to interrupt the
 * guest and what "broken" means.
 *
 * Queue numbering is virtio-net's: pair p has RX queue 2p and TX queue 2p + 1. A queue
 * slot may be null (a vhost-user ring not started or not enabled): it is not served, and
 * switch queues map only onto the RX queues that are.
 *
 * The guest is untrusted: a broken rule counts tx_drop_malformed or rx_drop_malformed,
 * stops the data path (live = false) and tells the host once. Nothing here throws out of
 * poll()/transmit(), touches memory outside guest memory, or allocates per packet.
 */
import type { GuestMemory } from '../../queues/virtqueue-memory.js';
import { CHAIN_ERROR, CHAIN_NONE, type SplitDeviceQueue } from '../../queues/virtqueue-device.js';
import type { PackedDeviceQueue } from '../../queues/virtqueue-packed.js';
import { NET_HDR_BYTES, NET_HDR_NUM_BUFFERS } from '../../queues/virtqueue.js';
import { readVnetHdr, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VnetHdr, writeVnetHdr } from '../../lib/net/vnet-hdr.js';
import { ByteCopier } from '../../queues/copy.js';
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
  'device_errors', // the device itself failed (a bug, not the guest): NEEDS_RESET, logged rate-limited
] as const;
export const enum C {
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
  device_errors,
}
type _VirtioNamesAgree = MustAgree<NamesAgree<typeof VIRTIO_COUNTERS, typeof C>>;

export type DeviceQueue = SplitDeviceQueue | PackedDeviceQueue;

/** Where frames the guest transmits go (the port's io.receive, io.receiveOffload). */
export interface FrameSink {
  receive(src: Uint8Array, offset: number, length: number): boolean;
  /** A frame that came with a non-empty virtio_net_hdr (a TSO super-frame, a partial checksum). */
  receiveOffload?(src: Uint8Array, offset: number, length: number, hdr: VnetHdr): boolean;
  /**
   * The sink has no room for another chain's frames now (a queue worker's rx ring reserved
   * for this poll, kept for a super-frame's segments): the chain stays in the ring. Optional.
   */
  full?(): boolean;
}

/** What the device around the data path provides. */
export interface NetQueueHost {
  /** The guest asked to be interrupted for new used entries on `queue`. */
  interrupt(queue: number): void;
  /** The guest broke a rule (already counted); called once until the data path starts again. */
  broken(why: string): void;
}

const SCRATCH_BYTES = 65536 + NET_HDR_BYTES;
/** Most RX buffers one frame may span with MRG_RXBUF. */
const MAX_MERGE = 64;

export class VirtioNetQueues {
  /** Serving: started, and no rule broken since. */
  live = false;
  /** What the last broken rule was counted as (rx_drop_malformed: an RX ring; tx_…: a TX ring). */
  brokenOn: C = C.device_errors;
  private memBuf: Uint8Array = new Uint8Array(0);
  private mem32: Int32Array = new Int32Array(0);
  private mrg = false;
  /** Indexed by virtio queue number; null = not served. */
  private queues: (DeviceQueue | null)[] = [];
  /** The served RX queues (switch queue q goes to rxList[q mod rxCount]) and TX queues. */
  private readonly rxList: Int32Array;
  private readonly txList: Int32Array;
  private rxCount = 0;
  private txCount = 0;
  private readonly rxDirty: Uint8Array;
  private nextTx = 0;
  /** Switch frames into guest RX buffers. */
  private readonly copier = new ByteCopier();
  /** Scattered guest TX buffers into the scratch frame (its own copier: another buffer pair). */
  private readonly gather = new ByteCopier();
  private readonly scratch = new Uint8Array(SCRATCH_BYTES);
  private readonly mergeHeads = new Uint16Array(MAX_MERGE);
  private readonly mergeLens = new Uint32Array(MAX_MERGE);
  // Scatter cursor over the current RX chain's segments.
  private segI = 0;
  private segOff = 0;
  private numBufAddr0 = 0;
  private numBufAddr1 = 0;
  /** The virtio_net_hdr the frame in transmit() gets (10 bytes; all zero but for offloads). */
  private readonly hdrOut = new Uint8Array(10);
  private hdrOutSet = false;
  /**
   * transmitGather()'s source: while gPieces is set, transmit()'s data offsets are offsets
   * into the frame the pieces make (copyIn); piece gi begins at frame offset gAt, a cursor
   * that only goes forward (transmit() copies a frame's bytes in order, once).
   */
  private gPieces: Int32Array | null = null;
  private gEnd = 0;
  private gi = 0;
  private gAt = 0;
  private readonly hdrIn = new VnetHdr();

  constructor(
    maxPairs: number,
    private readonly host: NetQueueHost,
    private readonly c: Float64Array,
    private readonly base: number,
  ) {
    this.rxList = new Int32Array(maxPairs);
    this.txList = new Int32Array(maxPairs);
    this.rxDirty = new Uint8Array(2 * maxPairs);
  }

  /**
   * Serves `queues` (indexed by virtio queue number, null where not served) in `mem`.
   * `mrg`: MRG_RXBUF was negotiated.
   */
  start(mem: GuestMemory, queues: (DeviceQueue | null)[], mrg: boolean): void {
    this.memBuf = mem.bytes;
    this.mem32 = new Int32Array(mem.bytes.buffer, 0, mem.size >>> 2);
    this.mrg = mrg;
    this.queues = queues;
    this.rxCount = 0;
    this.txCount = 0;
    for (let q = 0; q < queues.length && q < 2 * this.rxList.length; q++) {
      if (queues[q] === null) continue;
      if (q % 2 === 0) this.rxList[this.rxCount++] = q;
      else this.txList[this.txCount++] = q;
    }
    this.rxDirty.fill(0);
    this.nextTx = 0;
    this.live = true;
    for (let k = 0; k < this.txCount; k++) queues[this.txList[k]]!.enableKicks();
  }

  stop(): void {
    this.live = false;
    this.queues = [];
    this.rxCount = 0;
    this.txCount = 0;
    this.rxDirty.fill(0);
  }

  /** The queue object serving virtio queue `q`, or null. */
  queue(q: number): DeviceQueue | null {
    return this.queues[q] ?? null;
  }

  /** Served RX and TX queue counts. */
  get served(): { rx: number; tx: number } {
    return { rx: this.rxCount, tx: this.txCount };
  }

  /** Moves up to `budget` frames the guest transmitted into `sink`; returns the chains consumed. */
  poll(budget: number, sink: FrameSink): number {
    if (!this.live || this.txCount === 0) return 0;
    let done = 0;
    for (let k = 0; k < this.txCount && done < budget; k++) {
      const i = this.nextTx + k < this.txCount ? this.nextTx + k : this.nextTx + k - this.txCount;
      done += this.serviceTx(this.txList[i], budget - done, sink);
      if (!this.live) return done;
    }
    this.nextTx = this.nextTx + 1 < this.txCount ? this.nextTx + 1 : 0;
    return done;
  }

  /**
   * Writes one frame into the guest RX queue that switch queue `queue` maps to. Returns
   * false when it was dropped (counted by reason). Published by flush().
   */
  transmit(area: Uint8Array, offset: number, length: number, queue: number): boolean {
    if (!this.live || this.rxCount === 0) {
      this.c[this.base + C.rx_drop_not_ready]++;
      return false;
    }
    // Integer modulo is a division; most configurations map queue q to pair q directly.
    const qi = this.rxList[queue < this.rxCount ? queue : queue % this.rxCount];
    const q = this.queues[qi]!;
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
        if (this.hdrOutSet) {
          const h = this.hdrOut;
          for (let k = 0; k < 10; k++) mb[a + k] = h[k];
          mb[a + NET_HDR_NUM_BUFFERS] = 1;
          mb[a + NET_HDR_NUM_BUFFERS + 1] = 0;
        } else if ((a & 3) === 0) {
          // Three word stores: flags…csum_offset zero, num_buffers (bytes 10–11, little-endian) = 1.
          const w = a >>> 2;
          this.mem32[w] = 0;
          this.mem32[w + 1] = 0;
          this.mem32[w + 2] = 1 << 16;
        } else {
          for (let k = 0; k < NET_HDR_BYTES; k++) mb[a + k] = 0;
          mb[a + NET_HDR_NUM_BUFFERS] = 1;
        }
        this.copyIn(mb, a + NET_HDR_BYTES, area, offset, length);
        q.addUsed(head, need);
        this.rxDirty[qi] = 1;
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
    this.rxDirty[qi] = 1;
    return true;
  }

  /**
   * transmit() with the frame's virtio_net_hdr, for a guest that negotiated the offloads it
   * needs (the caller checked). A TCP super-frame with CWR needs GUEST_ECN: refused (false) else.
   */
  transmitOffload(area: Uint8Array, offset: number, length: number, queue: number, h: VnetHdr, guestEcn: boolean): boolean {
    if ((h.gsoType & VIRTIO_NET_HDR_GSO_ECN) !== 0 && !guestEcn) return false;
    const t = h.gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
    if (t !== VIRTIO_NET_HDR_GSO_NONE && t !== VIRTIO_NET_HDR_GSO_TCPV4 && t !== VIRTIO_NET_HDR_GSO_TCPV6) return false;
    writeVnetHdr(h, this.hdrOut, 0, false);
    this.hdrOutSet = true;
    const ok = this.transmit(area, offset, length, queue);
    this.hdrOut.fill(0);
    this.hdrOutSet = false;
    return ok;
  }

  /**
   * transmitOffload() of a frame given as pieces of `area` (GRO's segments: the first whole,
   * its headers completed, then the payloads; (pieces[2i], pieces[2i + 1]) = (at, len) for i
   * in [first, first + n)), `total` bytes: each piece is copied once, straight into the
   * guest's buffers, with no super-frame made first.
   */
  transmitGather(area: Uint8Array, pieces: Int32Array, first: number, n: number, total: number, queue: number, h: VnetHdr, guestEcn: boolean): boolean {
    this.gPieces = pieces;
    this.gEnd = first + n;
    this.gi = first;
    this.gAt = 0;
    const ok = this.transmitOffload(area, 0, total, queue, h, guestEcn);
    this.gPieces = null;
    return ok;
  }

  /** transmit()'s copy of frame bytes [from, from + n) into guest memory at dst: from `area`, or from the pieces. */
  private copyIn(mb: Uint8Array, dst: number, area: Uint8Array, from: number, n: number): void {
    const pieces = this.gPieces;
    if (pieces === null) return this.copier.copy(mb, dst, area, from, n);
    let i = this.gi;
    let at = this.gAt;
    while (n > 0 && i < this.gEnd) {
      const len = pieces[2 * i + 1];
      if (from >= at + len) {
        at += len;
        i++;
        continue;
      }
      const off = from - at;
      const take = len - off < n ? len - off : n;
      this.copier.copy(mb, dst, area, pieces[2 * i] + off, take);
      dst += take;
      from += take;
      n -= take;
    }
    this.gi = i;
    this.gAt = at;
  }

  /** After a burst of transmit(): publish used entries and interrupt where asked. */
  flush(): void {
    if (!this.live) return;
    for (let k = 0; k < this.rxCount; k++) {
      const qi = this.rxList[k];
      if (this.rxDirty[qi] === 0) continue;
      this.rxDirty[qi] = 0;
      if (this.queues[qi]!.publishUsed()) this.interrupt(qi);
    }
  }

  /** Publishes what is queued on every served queue (before a ring stops). */
  publishAll(): void {
    for (let q = 0; q < this.queues.length; q++) {
      const dq = this.queues[q];
      if (dq !== null && dq !== undefined && dq.publishUsed()) this.interrupt(q);
    }
    this.rxDirty.fill(0);
  }

  // ── internals ───────────────────────────────────────────────────────────────

  private serviceTx(qi: number, budget: number, sink: FrameSink): number {
    const q = this.queues[qi]!;
    let done = 0;
    while (done < budget) {
      if (sink.full !== undefined && sink.full()) break;
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
      const mb = this.memBuf;
      const ha = q.segAddr[0];
      // flags and gso_type: a plain frame has both zero (the common case costs two loads).
      const offload = q.segLen[0] >= 2 && (mb[ha] | mb[ha + 1]) !== 0 && sink.receiveOffload !== undefined;
      if (offload && q.segLen[0] >= 10) readVnetHdr(this.hdrIn, mb, ha);
      // The size checks come before the fast paths (one buffer, or header + data read in
      // place), so a frame over 64 KiB is tx_drop_oversize however the guest laid it out.
      if (total < NET_HDR_BYTES + 14) this.c[this.base + C.tx_drop_short]++;
      else if (total > SCRATCH_BYTES) this.c[this.base + C.tx_drop_oversize]++;
      else if (q.segCount === 1) this.sink(sink, offload, mb, ha + NET_HDR_BYTES, total - NET_HDR_BYTES);
      else if (q.segCount === 2 && q.segLen[0] === NET_HDR_BYTES) this.sink(sink, offload, mb, q.segAddr[1], q.segLen[1]);
      else {
        let at = 0;
        for (let s = 0; s < q.segCount; s++) {
          this.gather.copy(this.scratch, at, this.memBuf, q.segAddr[s], q.segLen[s]);
          at += q.segLen[s];
        }
        if (offload) readVnetHdr(this.hdrIn, this.scratch, 0);
        this.sink(sink, offload, this.scratch, NET_HDR_BYTES, total - NET_HDR_BYTES);
      }
      q.addUsed(head, 0);
    }
    if (q.publishUsed()) this.interrupt(qi);
    // NAPI-style: busy (budget used, or the sink full) → the guest need not kick; idle → ask
    // for a kick before we rest.
    if (done === budget || (sink.full !== undefined && sink.full())) q.disableKicks();
    else q.enableKicks();
    return done;
  }

  /**
   * Copies n bytes into the current RX chain from the scatter cursor on; returns how many
   * fit. `header` notes where num_buffers lands.
   */
  private scatter(q: DeviceQueue, src: Uint8Array, srcOff: number, n: number, header: boolean): number {
    let done = 0;
    const mb = this.memBuf;
    while (done < n && this.segI < q.segCount) {
      const room = q.segLen[this.segI] - this.segOff;
      const take = room < n - done ? room : n - done;
      const dst = q.segAddr[this.segI] + this.segOff;
      if (header) {
        for (let k = 0; k < take; k++) {
          const h = done + k;
          mb[dst + k] = h < 10 ? this.hdrOut[h] : 0;
          if (h === 10) this.numBufAddr0 = dst + k;
          else if (h === 11) this.numBufAddr1 = dst + k;
        }
      } else {
        this.copyIn(mb, dst, src, srcOff + done, take);
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

  private sink(sink: FrameSink, offload: boolean, src: Uint8Array, offset: number, length: number): void {
    if (offload) sink.receiveOffload!(src, offset, length, this.hdrIn);
    else sink.receive(src, offset, length);
  }

  private interrupt(queue: number): void {
    this.c[this.base + C.interrupts]++;
    this.host.interrupt(queue);
  }

  /**
   * The device itself failed (an exception out of poll or transmit: a bug, not the guest).
   * Counted device_errors; like a guest breaking a rule, the data path stops touching the
   * rings and the device is marked DEVICE_NEEDS_RESET (what QEMU's virtio_error does), so one
   * fault does not repeat on every packet.
   */
  fault(why: string): void {
    this.malformed(C.device_errors, why);
  }

  private malformed(counter: C, why: string): false {
    this.c[this.base + counter]++;
    this.brokenOn = counter;
    if (this.live) {
      this.live = false;
      this.c[this.base + C.needs_reset]++;
      this.host.broken(why);
    }
    return false;
  }
}
