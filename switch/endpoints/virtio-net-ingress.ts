/**
 * Where a guest's TX frames go when queue worker q polls the guest's TX virtqueue of pair q
 * itself (run to completion): into frames of worker q's own pool, staged on the port's rx
 * ring of queue q (QueueIO.submit), which the same breath then runs the program on. No
 * steering (the guest chose the queue, as a NIC's queue pair carries what its CPU sent);
 * the descriptor still carries the switch's RSS hash, as on every other path.
 *
 * Frames with a virtio_net_hdr get what DeviceIO.receiveOffload gives them on the device
 * thread, with the same lib/net code: a partial checksum rides along (DescFlag.VNET); a TSO
 * super-frame goes on whole when this queue's chain takes frags and a super-frame is free
 * (rx_gso_whole), else it is cut into segments here (rx_gso_packets, rx_gso_segments;
 * segments of a NEEDS_CSUM super-frame stay partial). Counted so that, per port,
 * rx_packets − rx_gso_packets + rx_gso_segments − rx_no_buffer − rx_ring_full − rx_dropped
 * is what reached the queue: a cut super-frame is one rx_packets.
 *
 * Room: the worker reserved `limit` slots on the rx ring for this poll (its budget plus
 * SEGMENT_ROOM, QueuePort.burst); full() tells the data path to stop taking chains once a
 * super-frame's segments might not fit; segments beyond the room (a gso_size under 1 KiB)
 * are counted rx_ring_full, as the device thread counts a full ring. No allocation per packet.
 */
import type { QueueIO } from '../ports/port.js';
import type { FrameSink } from './virtio-net-queues.js';
import { P } from '../counters.js';
import { ByteCopier } from '../../queues/copy.js';
import { SUPER_FRAME_MAX } from '../../queues/frames.js';
import { DescFlag, storeFrameVnet } from '../../queues/frame-vnet.js';
import { GsoPlan, gsoErrorText } from '../../lib/net/gso.js';
import { VIRTIO_NET_HDR_GSO_NONE, VnetHdr } from '../../lib/net/vnet-hdr.js';
import { rssHash } from '../../flows/rss.js';
import { DEFAULT_RSS_KEY, newToeplitzTable } from '../../flows/toeplitz.js';

/** Slots kept free for one super-frame's segments (64 × a 1024-byte MSS covers 64 KiB). */
export const SEGMENT_ROOM = 64;

export class QueueIngress implements FrameSink {
  private readonly copier = new ByteCopier();
  private readonly table = newToeplitzTable(DEFAULT_RSS_KEY);
  private readonly gso = new GsoPlan();
  private readonly segHdr = new VnetHdr();
  /** Frames staged in the poll in progress, and how many it may stage (set by begin()). */
  private staged = 0;
  private limit = 0;
  private lastGsoLog = -Infinity;

  constructor(private readonly io: QueueIO) {}

  /** A poll starts with room for `room` frames on the rx ring. */
  begin(room: number): void {
    this.staged = 0;
    this.limit = room;
  }

  full(): boolean {
    return this.limit - this.staged < SEGMENT_ROOM;
  }

  receive(src: Uint8Array, offset: number, length: number): boolean {
    const io = this.io;
    if (length > io.maxFrameLength) {
      io.counters[P.rx_packets]++;
      io.counters[P.rx_dropped]++;
      return false;
    }
    const f = io.allocFrame();
    if (f < 0) return false;
    const dst = io.dataOffset(f);
    this.copier.copy(io.area, dst, src, offset, length);
    this.staged++;
    return io.submit(f, length, rssHash(this.table, io.area, dst, length));
  }

  receiveOffload(src: Uint8Array, offset: number, length: number, hdr: VnetHdr): boolean {
    if (hdr.gsoType === VIRTIO_NET_HDR_GSO_NONE && hdr.flags === 0) return this.receive(src, offset, length);
    const io = this.io;
    const c = io.counters;
    if (hdr.gsoType === VIRTIO_NET_HDR_GSO_NONE) {
      // One frame whose checksum is partial (or was verified): it rides along with the frame.
      if (length > io.maxFrameLength) {
        c[P.rx_packets]++;
        c[P.rx_dropped]++;
        return false;
      }
      const f = io.allocFrame();
      if (f < 0) return false;
      const dst = io.dataOffset(f);
      this.copier.copy(io.area, dst, src, offset, length);
      storeVnet(hdr, io, f, dst);
      this.staged++;
      return io.submit(f, length, rssHash(this.table, io.area, dst, length), DescFlag.VNET);
    }
    const plan = this.gso;
    const n = plan.prepare(src, offset, length, hdr.gsoType, hdr.gsoSize);
    if (n < 0 || plan.segmentLength(0) > io.maxFrameLength) {
      c[P.rx_packets]++;
      c[P.rx_dropped]++;
      this.gsoError(n < 0 ? gsoErrorText(n) : `gso_size ${hdr.gsoSize} makes segments larger than a frame (${io.maxFrameLength} bytes)`);
      return false;
    }
    // The segments' flow is the super-frame's: one hash for all of them.
    const hash = rssHash(this.table, src, offset, length);
    if (length <= SUPER_FRAME_MAX && io.takesFrags !== undefined && io.takesFrags() && io.allocSuperFrame !== undefined) {
      const f = io.allocSuperFrame();
      if (f >= 0) {
        const dst = io.dataOffset(f);
        this.copier.copy(io.area, dst, src, offset, length);
        storeVnet(hdr, io, f, dst);
        c[P.rx_gso_whole]++;
        this.staged++;
        return io.submit(f, length, hash, DescFlag.VNET);
      }
      // No super-frame free: cut it as for a chain without frags.
    }
    c[P.rx_gso_packets]++;
    c[P.rx_gso_segments] += n;
    const sh = this.segHdr;
    const partial = plan.segmentHeader(hdr, sh);
    const flags = sh.flags !== 0 ? DescFlag.VNET : 0;
    // The worker counts rx_packets per frame staged (and per failed allocFrame); a cut
    // super-frame is one: the difference is taken back below.
    let counted = 0;
    let all = true;
    for (let i = 0; i < n; i++) {
      if (this.staged >= this.limit) {
        c[P.rx_ring_full] += n - i;
        all = false;
        break;
      }
      const f = io.allocFrame();
      counted++;
      if (f < 0) {
        // allocFrame counted this one rx_no_buffer; the rest go the same way.
        c[P.rx_no_buffer] += n - i - 1;
        all = false;
        break;
      }
      const dst = io.dataOffset(f);
      const len = plan.write(i, io.area, dst, partial);
      if (flags !== 0) storeVnet(sh, io, f, dst);
      this.staged++;
      if (!io.submit(f, len, hash, flags)) all = false;
    }
    c[P.rx_packets] += 1 - counted;
    return all;
  }

  private gsoError(why: string): void {
    const now = Date.now();
    if (now - this.lastGsoLog < 1000) return;
    this.lastGsoLog = now;
    this.io.log('warn', `super-frame dropped (rx_dropped): ${why}`);
  }
}

/**
 * The frame's virtio_net_hdr copy for data at io.area[dst…) of frame f: the headroom is
 * what dataOffset() gave (a super-frame's differs from a frame's), not a constant here.
 */
function storeVnet(h: VnetHdr, io: QueueIO, f: number, dst: number): void {
  const base = f * io.frameSize;
  storeFrameVnet(h, io.area, base, dst - base);
}
