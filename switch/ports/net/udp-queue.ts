/**
 * A udp port's side in queue worker q (run to completion): the worker receives the port's
 * datagrams itself, with recvmmsg straight into its own pool frames, sleeps in poll() on the
 * socket when idle (QueuePort.wakeFds), and sends what it switches to the port with one
 * sendmmsg per breath. One wake-up per direction — the kernel waking the worker — where the
 * device-thread path costs three (watch thread, device thread, queue worker; then the
 * worker wakes the device thread to send).
 *
 *   peer ──udp──▶ socket q (SO_REUSEPORT on `local`) ──recvmmsg──▶ worker q ──sendmmsg──▶ remote
 *
 * Every queue binds `local` with SO_REUSEPORT and the kernel picks one socket per datagram
 * by its 4-tuple hash: one peer (a QEMU guest's `-netdev dgram`) lands on one queue, as a
 * single-queue NIC's flows do. Sending goes out of the same socket, so the peer sees the
 * port's `local` as the source, as from the device thread.
 *
 * By default (`thread: queue`) on the native path, with literal addresses (openQueue cannot
 * wait for a name lookup) and a fixed local port; `thread: device` keeps the device-thread
 * path. Without `remote` the peer is learned from the first datagram any queue accepts
 * (net/learned-peer.ts, in the port's shared state): every queue, and the device thread,
 * sends there from then on, and counts tx_no_peer before. A port with flow-steering rules
 * receives on its device thread (the rule decides the queue); its queue sides then only
 * send, from sockets of their own, to `remote` or to the peer the device thread learned (it
 * writes it into the shared state as a queue would).
 *
 * Counted in the (port, queue) blocks as the device thread counts: rx_runt (< 14 bytes) and
 * rx_oversize (over the MTU or truncated) are in rx_packets and leave in rx_dropped; transmit
 * as net/queue-tx.ts counts it.
 */
import { isIP } from 'node:net';
import * as native from '../../../lib/native/index.js';
import { rssHash } from '../../../flows/rss.js';
import { DEFAULT_RSS_KEY, newToeplitzTable } from '../../../flows/toeplitz.js';
import type { PortConfig, QueueIO, QueuePort } from '../port.js';
import { parseHostPort } from './address.js';
import { DEFAULT_MTU } from './mtu.js';
import { RxDrops } from './port-counters.js';
import { QueueSocket, QUEUE_BATCH } from './queue-socket.js';
import { QueueTx } from './queue-tx.js';
import { LEARNED_PEER_BYTES, LearnedPeer } from './learned-peer.js';
import type { VnetHdr } from '../../../lib/net/vnet-hdr.js';

const TABLE = newToeplitzTable(DEFAULT_RSS_KEY);

/** Why this port cannot run on the queue workers, or null when it can (see the file comment). */
export function udpQueueObstacle(config: PortConfig): string | null {
  if (config.io === 'dgram') return 'io: dgram is the device thread’s node:dgram socket';
  if (!native.available()) return 'the native layer (recvmmsg/sendmmsg) is not available';
  try {
    const local = parseHostPort(config.local);
    const remote = config.remote === undefined ? null : parseHostPort(config.remote);
    if (isIP(local.host) === 0 || (remote !== null && isIP(remote.host) === 0)) return 'local and remote must be literal addresses';
    if (local.port === 0) return 'local needs a fixed port (every queue binds the same one)';
    if (remote !== null && local.family !== remote.family) return 'local and remote are of different address families';
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

/** Whether the queue workers receive and send for this port (thread: queue, the default, and possible). */
export function udpOnQueues(config: PortConfig): boolean {
  return config.thread !== 'device' && udpQueueObstacle(config) === null;
}

export class UdpQueue implements QueuePort {
  private readonly socket: QueueSocket | null;
  private readonly tx: QueueTx;
  private readonly fds: number[] = [];
  /** Without `remote`: the peer the first datagram names, shared by the port's threads. */
  private readonly peer: LearnedPeer | null;
  /** Known already, here or by another queue: no shared load per datagram after that. */
  private learned = false;
  /** rx_runt and rx_oversize, as the device thread counts them. */
  private readonly drops: RxDrops;

  constructor(
    config: PortConfig,
    private readonly io: QueueIO,
  ) {
    const local = parseHostPort(config.local);
    const mtu = (config.mtu as number | undefined) ?? DEFAULT_MTU;
    this.drops = new RxDrops(io, mtu);
    const remote = config.remote === undefined ? null : parseHostPort(config.remote);
    this.peer = remote === null ? udpLearnedPeer(io.shared!) : null;
    this.socket = io.receives ? new QueueSocket(io, local, 0) : null;
    try {
      this.tx = new QueueTx(io, { local, to: remote ?? this.peer!, mtu, prefix: new Uint8Array(0), fd: this.socket?.fd ?? null });
    } catch (e) {
      this.socket?.close();
      throw e;
    }
    if (this.socket !== null) this.fds.push(this.socket.fd);
  }

  wakeFds(): readonly number[] {
    return this.fds;
  }

  poll(budget: number): number {
    const sock = this.socket;
    if (sock === null) return 0;
    const io = this.io;
    const n = sock.receive(budget < QUEUE_BATCH ? budget : QUEUE_BATCH);
    const area = io.area;
    let own = 0;
    for (let i = 0; i < n; i++) {
      const f = sock.frame(i);
      const len = sock.length(i);
      const d = io.dataOffset(f);
      if (this.drops.admit(area, d, len, sock.truncated(i))) {
        sock.take(i);
        io.submit(f, len, rssHash(TABLE, area, d, len));
        own++;
        if (this.peer !== null && !this.learned) this.learn(sock, i);
      }
    }
    sock.finish();
    return own;
  }

  /** The first datagram this port accepted: its source is the peer (if no queue was first). */
  private learn(sock: QueueSocket, i: number): void {
    if (this.peer!.learn(sock.names, i * native.NAME_SIZE)) {
      const p = this.peer!.hostPort();
      this.io.log('info', `learned peer ${p.host}:${p.port}`);
    }
    this.learned = true;
  }

  transmit(area: Uint8Array, offset: number, length: number, hdr: VnetHdr | null): boolean {
    return this.tx.transmit(area, offset, length, hdr);
  }

  flushTx(): void {
    this.tx.flushTx();
  }

  close(): void {
    this.tx.close();
    this.socket?.close();
  }
}

/** Where a udp port keeps its learned peer: the last bytes of its shared state (udp's sharedState). */
export function udpLearnedPeer(shared: SharedArrayBuffer): LearnedPeer {
  return new LearnedPeer(shared, shared.byteLength - LEARNED_PEER_BYTES);
}
