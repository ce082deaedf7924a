/**
 * A datagram port's TX side inside queue worker q (run to completion): what the worker's
 * programs send to the port is sent by the worker itself, one sendmmsg per breath, instead
 * of crossing a tx ring to the port's device thread (one wake-up less per packet, and none
 * of the device thread's CPU). Every datagram goes to one remote, `prefix` (VXLAN's header;
 * empty for a udp port) then the frame. The socket is the queue's receiving one
 * (net/queue-socket.ts: the peer sees the port's `local` as the source) or, when the queue
 * does not receive, one of its own on `local`'s address with an ephemeral port.
 *
 * A frame with a virtio_net_hdr (a VM's offloads) is finished here as the device thread
 * would (Linux's validate_xmit_skb for a device without the offload): a partial checksum
 * completed in place (tx_csum_sw), a super-frame cut into segments (tx_gso_packets,
 * tx_gso_segments) staged one by one; the peer gets whole, checksummed frames.
 * Counted in the (port, queue) block: tx_oversize at transmit; a burst the kernel refuses
 * is moved from tx_packets to tx_dropped and counted tx_busy (buffer full) or tx_errors.
 */
import * as native from '../../../lib/native/index.js';
import { K } from '../../../lib/native/index.js';
import type { QueueIO, QueuePort } from '../port.js';
import type { HostPort } from './address.js';
import { ETH_HLEN, VLAN_HLEN, overMtu } from './mtu.js';
import { SendBatch } from './send-batch.js';
import { GsoPlan, gsoErrorText } from '../../../lib/net/gso.js';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_NONE, completeChecksum, type VnetHdr } from '../../../lib/net/vnet-hdr.js';
import { sockaddr } from './sockaddr.js';
import { bindDatagramSocket } from './native-datagram.js';
import { LearnedPeer } from './learned-peer.js';

const BATCH = 64;

export interface QueueTxOptions {
  local: HostPort;
  /** Where every datagram goes: an address, or a peer learned at run time (tx_no_peer until it is known). */
  to: HostPort | LearnedPeer;
  /** Largest L3 packet sent. */
  mtu: number;
  /** Bytes sent before each frame (VXLAN's header); empty for none. */
  prefix: Uint8Array;
  /** The queue's receiving socket on `local` to send from; null: bind one of our own. */
  fd: number | null;
}

export class QueueTx implements QueuePort {
  private readonly fd: number;
  /** Every slot of the batch carries the destination (a learned peer's only once known). */
  private addressed = false;
  private readonly peer: LearnedPeer | null;
  private readonly iTxNoPeer: number;
  /** Whether the socket is ours to close (not the queue's receiving one). */
  private readonly ownsFd: boolean;
  private readonly batch: SendBatch;
  private readonly prefix: Uint8Array;
  private readonly mtu: number;
  private readonly maxLen: number;
  private readonly iTxPackets: number;
  private readonly iTxBytes: number;
  private readonly iTxDropped: number;
  private readonly iTxOversize: number;
  private readonly iTxBusy: number;
  private readonly iTxErrors: number;
  private readonly iCsumSw: number;
  private readonly iGsoPackets: number;
  private readonly iGsoSegments: number;
  private readonly plan = new GsoPlan();
  /** One segment of a super-frame at a time (the batch copies it out). */
  private readonly segment: Uint8Array;

  constructor(
    private readonly io: QueueIO,
    { local, to, mtu, prefix, fd }: QueueTxOptions,
  ) {
    this.mtu = mtu;
    this.maxLen = Math.min(io.maxFrameLength, this.mtu + ETH_HLEN + VLAN_HLEN);
    this.prefix = prefix;
    this.ownsFd = fd === null;
    this.fd = fd ?? QueueTx.bindAny(local, io.queue);
    this.batch = new SendBatch(BATCH, prefix.length + this.maxLen, true);
    // Every datagram goes to one address: written in every slot once (a learned peer's at
    // the first transmit after it is known).
    this.peer = to instanceof LearnedPeer ? to : null;
    this.iTxNoPeer = this.peer !== null ? io.counterIndex('tx_no_peer') : -1;
    if (!(to instanceof LearnedPeer)) {
      const name = sockaddr(to);
      for (let i = 0; i < BATCH; i++) this.batch.mmsg.names.set(name, i * native.NAME_SIZE);
      this.addressed = true;
    }
    this.iTxPackets = io.counterIndex('tx_packets');
    this.iTxBytes = io.counterIndex('tx_bytes');
    this.iTxDropped = io.counterIndex('tx_dropped');
    this.iTxOversize = io.counterIndex('tx_oversize');
    this.iTxBusy = io.counterIndex('tx_busy');
    this.iTxErrors = io.counterIndex('tx_errors');
    this.iCsumSw = io.counterIndex('tx_csum_sw');
    this.iGsoPackets = io.counterIndex('tx_gso_packets');
    this.iGsoSegments = io.counterIndex('tx_gso_segments');
    this.segment = new Uint8Array(io.maxFrameLength);
  }

  /** A socket of this queue's own on `local`'s address, any port. */
  private static bindAny(local: HostPort, queue: number): number {
    try {
      return bindDatagramSocket({ ...local, port: 0 });
    } catch (e) {
      throw new Error(`queue ${queue}: cannot bind a transmit socket on ${local.host}: ${(e as Error).message}`);
    }
  }

  transmit(area: Uint8Array, offset: number, length: number, hdr: VnetHdr | null = null): boolean {
    if (!this.addressed && !this.address()) return false;
    if (hdr !== null && (hdr.gsoType & ~VIRTIO_NET_HDR_GSO_ECN) !== VIRTIO_NET_HDR_GSO_NONE) return this.transmitSegments(area, offset, length, hdr);
    if (hdr !== null && (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
      if (!completeChecksum(area, offset, length, hdr.csumStart, hdr.csumOffset)) {
        this.io.counters[this.iTxErrors]++;
        return false;
      }
      this.io.counters[this.iCsumSw]++;
    }
    if (length > this.maxLen || overMtu(area, offset, length, this.mtu)) {
      this.io.counters[this.iTxOversize]++;
      return false;
    }
    if (this.batch.full) this.flushTx();
    this.batch.addWithPrefix(this.prefix, area, offset, length);
    return true;
  }

  /** A learned peer, once known: its address into every slot (else tx_no_peer, false). */
  private address(): boolean {
    const peer = this.peer;
    if (!peer!.known()) {
      this.io.counters[this.iTxNoPeer]++;
      return false;
    }
    for (let i = 0; i < BATCH; i++) peer!.copyTo(this.batch.mmsg.names, i * native.NAME_SIZE);
    this.addressed = true;
    return true;
  }

  /** A super-frame: each segment written whole (checksums complete) and staged. */
  private transmitSegments(area: Uint8Array, offset: number, length: number, hdr: VnetHdr): boolean {
    const plan = this.plan;
    const n = plan.prepare(area, offset, length, hdr.gsoType, hdr.gsoSize);
    const c = this.io.counters;
    if (n < 0) {
      if (c[this.iTxErrors] === 0) this.io.log('warn', `a super-frame could not be cut: ${gsoErrorText(n)}`);
      c[this.iTxErrors]++;
      return false;
    }
    const seg = this.segment;
    let sent = 0;
    for (let i = 0; i < n; i++) {
      if (plan.segmentLength(i) > seg.length) break;
      const sl = plan.write(i, seg, 0, false);
      if (sl > this.maxLen || overMtu(seg, 0, sl, this.mtu)) {
        c[this.iTxOversize]++;
        continue;
      }
      if (this.batch.full) this.flushTx();
      this.batch.addWithPrefix(this.prefix, seg, 0, sl);
      sent++;
    }
    c[this.iGsoPackets]++;
    c[this.iGsoSegments] += n;
    return sent === n;
  }

  flushTx(): void {
    const b = this.batch;
    const sent = b.sendAll(this.fd);
    if (sent < b.count) this.failed(sent, b.errno);
    b.clear();
  }

  /** The kernel refused datagrams [from, count) of a burst the queue counted sent. */
  private failed(from: number, errno: number): void {
    const c = this.io.counters;
    const b = this.batch;
    const k = b.count - from;
    c[this.iTxPackets] -= k;
    // tx_bytes counted the frames; the batch holds them with their prefixes.
    c[this.iTxBytes] -= b.bytesFrom(from) - k * this.prefix.length;
    c[this.iTxDropped] += k;
    if (errno === K.EAGAIN || errno === K.ENOBUFS) c[this.iTxBusy] += k;
    else {
      if (c[this.iTxErrors] === 0) this.io.log('warn', `send failed: ${native.errnoName(errno)}`);
      c[this.iTxErrors] += k;
    }
  }

  close(): void {
    if (this.ownsFd) native.close(this.fd);
  }
}
