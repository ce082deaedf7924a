/**
 * A vxlan port's TX side inside queue worker q (run to completion): what the worker's
 * programs send to the port is encapsulated and sent by the worker itself, one sendmmsg per
 * breath, instead of crossing a tx ring to the port's device thread (one wake-up less per
 * packet, and none of the device thread's CPU). Each worker binds a socket of its own on
 * `local`'s address with an ephemeral port: VXLAN receivers accept any source port (Linux
 * sends from one per flow), so the peer sees nothing different.
 *
 * Only when asked (`transmit: queues`), on the native path (recvmmsg/sendmmsg) and with
 * literal addresses (openQueue cannot wait for a name lookup); otherwise the device thread
 * sends, as before.
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
import { sockaddr } from './sockaddr.js';
import { DEFAULT_VXLAN_MTU, VXLAN_HLEN, VXLAN_PORT, writeVxlanHeader } from './vxlan-header.js';

const BATCH = 64;

/** Whether the queue workers can send for this port themselves (see the file comment). */
export function queueTxPossible(config: PortConfig): boolean {
  if (config.transmit !== 'queues' || config.io === 'dgram' || !native.available()) return false;
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
  }

  transmit(area: Uint8Array, offset: number, length: number): boolean {
    if (length > this.maxLen || overMtu(area, offset, length, this.mtu)) {
      this.io.counters[this.iTxOversize]++;
      return false;
    }
    if (this.batch.full) this.flushTx();
    this.batch.addWithPrefix(this.header, area, offset, length);
    return true;
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
