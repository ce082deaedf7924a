/**
 * A vxlan port's TX side inside queue worker q (run to completion): what the worker's
 * programs send to the port is encapsulated and sent by the worker itself, one sendmmsg per
 * breath, instead of crossing a tx ring to the port's device thread (one wake-up less per
 * packet, and none of the device thread's CPU). Each worker binds a socket of its own on
 * `local`'s address with an ephemeral port: VXLAN receivers accept any source port (Linux
 * sends from one per flow), so the peer sees nothing different.
 *
 * By default (`transmit: auto` or `queues`) on the native path (recvmmsg/sendmmsg) and with
 * literal addresses (openQueue cannot wait for a name lookup); otherwise (`transmit: device`,
 * io: dgram, a name) the device thread sends, as before.
 *
 * A frame with a virtio_net_hdr (a VM's offloads) is finished here as the device thread
 * would (Linux's validate_xmit_skb for a device without the offload): a partial checksum
 * completed in place (tx_csum_sw), a super-frame cut into segments (tx_gso_packets,
 * tx_gso_segments) staged one by one; the peer gets whole, checksummed frames.
 * Counted in the (port, queue) block: tx_oversize at transmit; a burst the kernel refuses
 * is moved from tx_packets to tx_dropped and counted tx_busy (buffer full) or tx_errors.
 */
import { isIP } from 'node:net';
import * as native from '../../../lib/native/index.js';
import { K } from '../../../lib/native/index.js';
import type { PortConfig, QueueIO, QueuePort } from '../port.js';
import { parseHostPort } from './address.js';
import { ETH_HLEN, VLAN_HLEN, overMtu } from './mtu.js';
import { SendBatch } from './send-batch.js';
import { GsoPlan, gsoErrorText } from '../../../lib/net/gso.js';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_NONE, completeChecksum, type VnetHdr } from '../../../lib/net/vnet-hdr.js';
import { sockaddr } from './sockaddr.js';
import { DEFAULT_VXLAN_MTU, VXLAN_HLEN, VXLAN_PORT, writeVxlanHeader } from './vxlan-header.js';

const BATCH = 64;

/** Whether the queue workers can send for this port themselves (see the file comment). */
export function queueTxPossible(config: PortConfig): boolean {
  if (config.transmit === 'device' || config.io === 'dgram' || !native.available()) return false;
  try {
    const local = parseHostPort(config.local, VXLAN_PORT);
    const remote = parseHostPort(config.remote, (config.dstport as number | undefined) ?? VXLAN_PORT);
    return isIP(local.host) !== 0 && isIP(remote.host) !== 0 && local.family === remote.family;
  } catch {
    return false;
  }
}

export class VxlanQueueTx implements QueuePort {
  private readonly fd: number;
  private readonly batch: SendBatch;
  private readonly header = new Uint8Array(VXLAN_HLEN);
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
    config: PortConfig,
    private readonly io: QueueIO,
  ) {
    const local = parseHostPort(config.local, VXLAN_PORT);
    const remote = parseHostPort(config.remote, (config.dstport as number | undefined) ?? VXLAN_PORT);
    this.mtu = (config.mtu as number | undefined) ?? DEFAULT_VXLAN_MTU;
    this.maxLen = Math.min(io.maxFrameLength, this.mtu + ETH_HLEN + VLAN_HLEN);
    writeVxlanHeader(this.header, 0, config.vni as number);
    this.fd = native.socket(local.family === 6 ? K.AF_INET6 : K.AF_INET, K.SOCK_DGRAM | K.SOCK_NONBLOCK);
    try {
      native.bind(this.fd, sockaddr({ ...local, port: 0 }));
    } catch (e) {
      native.close(this.fd);
      throw new Error(`queue ${io.queue}: cannot bind a transmit socket on ${local.host}: ${(e as Error).message}`);
    }
    this.batch = new SendBatch(BATCH, VXLAN_HLEN + this.maxLen, true);
    // Every datagram goes to the remote: its address is written in every slot once.
    const to = sockaddr(remote);
    for (let i = 0; i < BATCH; i++) this.batch.mmsg.names.set(to, i * native.NAME_SIZE);
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

  transmit(area: Uint8Array, offset: number, length: number, hdr: VnetHdr | null = null): boolean {
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
    this.batch.addWithPrefix(this.header, area, offset, length);
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
      this.batch.addWithPrefix(this.header, seg, 0, sl);
      sent++;
    }
    c[this.iGsoPackets]++;
    c[this.iGsoSegments] += n;
    return sent === n;
  }

  flushTx(): void {
    const b = this.batch;
    let sent = 0;
    // A full send buffer drops the rest of the burst at once: back-pressure, never a stalled worker.
    while (sent < b.count) {
      const n = b.sendFrom(this.fd, sent);
      if (n > 0) {
        sent += n;
        continue;
      }
      this.failed(sent, -n);
      break;
    }
    b.clear();
  }

  /** The kernel refused datagrams [from, count) of a burst the queue counted sent. */
  private failed(from: number, errno: number): void {
    const c = this.io.counters;
    const b = this.batch;
    const k = b.count - from;
    c[this.iTxPackets] -= k;
    // tx_bytes counted the inner frames; the batch holds them with their headers.
    c[this.iTxBytes] -= b.bytesFrom(from) - k * VXLAN_HLEN;
    c[this.iTxDropped] += k;
    if (errno === K.EAGAIN || errno === K.ENOBUFS) c[this.iTxBusy] += k;
    else {
      if (c[this.iTxErrors] === 0) this.io.log('warn', `send failed: ${native.errnoName(errno)}`);
      c[this.iTxErrors] += k;
    }
  }

  close(): void {
    native.close(this.fd);
  }
}
