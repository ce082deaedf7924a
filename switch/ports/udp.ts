/**
 * udp port: one Ethernet frame per UDP datagram, no header, no FCS — the framing of QEMU
 * `-netdev dgram` (and the legacy `-netdev socket,udp=`).
 *
 *   ports:
 *     - { name: vm1, type: udp, local: 127.0.0.1:20000, remote: 127.0.0.1:20001, mtu: 1500 }
 *
 * local   host:port the port binds (required).
 * remote  host:port frames are sent to. Without it the port learns its peer from the first
 *         datagram it receives (the source address of QEMU's `local`), and drops what it is
 *         asked to send before then (tx_no_peer). Datagrams are accepted from any sender.
 * mtu     largest L3 packet (default 1500): frames up to mtu + 14 bytes (+ 4 with a VLAN tag).
 * io      auto (default): recvmmsg/sendmmsg when the native layer loads, else node:dgram;
 *         mmsg: the native path or fail to start; dgram: node:dgram always.
 * thread  queue (default): run to completion where it can (net/udp-queue.ts: the native
 *         path, literal addresses and a fixed local port) — each queue worker receives on
 *         its own socket of `local` (SO_REUSEPORT) and sends; a peer learned by any queue
 *         is every thread's (net/learned-peer.ts); otherwise, or with `device`, this port's
 *         device thread receives and sends.
 *
 * On the device thread, with the native layer (lib/native/): recvmmsg lands datagrams straight in pool frames,
 * woken by a watch thread when the socket turns readable (net/native-datagram.ts), and a
 * burst of transmits leaves in one sendmmsg. Without it, node:dgram: each 'message' is one
 * frame → io.receive(), one io.flush() per burst of events; transmit copies into a staging
 * slot, then socket.send (see net/datagram-sender.ts), one syscall per frame.
 * Counted by kind: rx_runt (< 14 bytes), rx_oversize (over the MTU or the frame area),
 * tx_oversize, tx_no_peer, tx_busy (send queue full), tx_errors (the kernel refused a send).
 * On the native path a send refused at the end of a burst is moved from tx_packets to
 * tx_dropped and counted tx_busy (buffer full) or tx_errors.
 */
import type dgram from 'node:dgram';
import type { Port, PortConfig, PortIO, PortType } from './port.js';
import type { OptionTypes } from './options.js';
import { parseHostPort, formatHostPort, type HostPort } from './net/address.js';
import { checkMtu, checkMtuFits, overMtu, DEFAULT_MTU, ETH_HLEN, VLAN_HLEN } from './net/mtu.js';
import { DatagramSender, SEND_OK } from './net/datagram-sender.js';
import { BurstFlush } from './net/burst.js';
import { RxDrops } from './net/port-counters.js';
import { bindUdp, createUdpSocket, resolveHost } from './net/udp-socket.js';
import { NativeDatagramSocket } from './net/native-datagram.js';
import { fromSockaddr } from './net/sockaddr.js';
import * as native from '../../lib/native/index.js';
import { UdpQueue, udpLearnedPeer, udpOnQueues, udpQueueObstacle } from './net/udp-queue.js';
import { LEARNED_PEER_BYTES, type LearnedPeer } from './net/learned-peer.js';
import { createQueueSlots } from './queue-slots.js';
import { checkLocalFree } from './net/queue-socket.js';

const COUNTERS = ['rx_runt', 'rx_oversize', 'tx_oversize', 'tx_no_peer', 'tx_busy', 'tx_errors'] as const;
const OPTIONS: OptionTypes = { local: 'string', remote: 'string', mtu: 'integer', io: 'string', thread: 'string' };

function validate(config: PortConfig): string[] {
  const out: string[] = [];
  if (config.io !== undefined && config.io !== 'auto' && config.io !== 'mmsg' && config.io !== 'dgram') out.push(`io: '${String(config.io)}' is not auto, mmsg or dgram`);
  if (config.local === undefined) out.push('local: missing: the host:port to bind, e.g. 127.0.0.1:20000');
  else {
    try {
      parseHostPort(config.local);
    } catch (e) {
      out.push(`local: ${(e as Error).message}`);
    }
  }
  if (config.remote !== undefined) {
    try {
      const r = parseHostPort(config.remote);
      if (r.port === 0) out.push(`remote: port 0 cannot be sent to`);
    } catch (e) {
      out.push(`remote: ${(e as Error).message}`);
    }
  }
  const m = checkMtu(config.mtu);
  if (m) out.push(m);
  if (config.thread !== undefined && config.thread !== 'queue' && config.thread !== 'device') out.push(`thread: '${String(config.thread)}' is not queue or device`);
  else if (config.thread === 'queue' && out.length === 0) {
    // Asked for explicitly: say why it cannot be, rather than run on the device thread.
    const why = udpQueueObstacle(config);
    if (why !== null) out.push(`thread: queue is not possible here: ${why} (or leave thread out to let the device thread run it)`);
  }
  return out;
}

class UdpPort implements Port {
  private io!: PortIO;
  private socket: dgram.Socket | null = null;
  private nat: NativeDatagramSocket | null = null;
  private readonly taken = new Uint8Array(64);
  private iTxPackets = 0;
  private iTxBytes = 0;
  private iTxDropped = 0;
  private sender!: DatagramSender;
  private drops!: RxDrops;
  private burst!: BurstFlush;
  private mtu: number;
  private maxLen = 0;
  private peerHost: string | null = null;
  private peerPort = 0;
  private local!: HostPort;
  private readonly remote: HostPort | null;
  private iTxOversize = 0;
  private iTxNoPeer = 0;
  private iTxBusy = 0;
  private iTxErrors = 0;
  /** The peer learned by whichever thread received first (queue sides without a remote), or null. */
  private shared: LearnedPeer | null = null;

  constructor(private readonly config: PortConfig) {
    this.mtu = (config.mtu as number | undefined) ?? DEFAULT_MTU;
    this.remote = config.remote === undefined ? null : parseHostPort(config.remote);
  }

  async open(io: PortIO): Promise<void> {
    this.io = io;
    checkMtuFits(this.mtu, io.maxFrameLength, io.frameSize);
    this.maxLen = Math.min(io.maxFrameLength, this.mtu + ETH_HLEN + VLAN_HLEN);
    this.drops = new RxDrops(io, this.mtu);
    this.iTxOversize = io.counterIndex('tx_oversize');
    this.iTxNoPeer = io.counterIndex('tx_no_peer');
    this.iTxBusy = io.counterIndex('tx_busy');
    this.iTxErrors = io.counterIndex('tx_errors');
    this.burst = new BurstFlush(() => io.flush());

    this.local = await resolveHost(parseHostPort(this.config.local));
    if (this.remote) {
      const r = await resolveHost(this.remote);
      this.peerHost = r.host;
      this.peerPort = r.port;
    }
    this.iTxPackets = io.counterIndex('tx_packets');
    this.iTxBytes = io.counterIndex('tx_bytes');
    this.iTxDropped = io.counterIndex('tx_dropped');
    const mode = (this.config.io as string | undefined) ?? 'auto';
    if (mode === 'mmsg') native.requireNative("a udp port with io: mmsg");
    // With queue sides and no remote, the peer is learned once for all the port's threads.
    if (io.shared !== undefined && io.shared !== null && this.remote === null) this.shared = udpLearnedPeer(io.shared);
    if (io.rxOnQueues === true) {
      // The queue workers receive on `local` (net/udp-queue.ts): this thread only sends what
      // reaches its tx ring, from a socket of its own (binding `local` would take datagrams too).
      this.nat = new NativeDatagramSocket(io, { ...this.local, port: 0 }, 'transmit socket', 0, this.maxLen);
      if (this.peerHost !== null) this.nat.setDestination({ host: this.peerHost, port: this.peerPort, family: this.local.family });
      return;
    }
    if (mode !== 'dgram' && native.available()) {
      this.nat = new NativeDatagramSocket(io, this.local, 'local', 0, this.maxLen);
      if (this.peerHost !== null) this.nat.setDestination({ host: this.peerHost, port: this.peerPort, family: this.local.family });
      void this.nat.watchReadable(this.drain);
      return;
    }
    const socket = createUdpSocket(this.local.family);
    await bindUdp(socket, this.local, "local");
    this.socket = socket;
    this.sender = new DatagramSender(socket, this.maxLen, 256, (e) => {
      io.counters[this.iTxErrors]++;
      if (io.counters[this.iTxErrors] === 1) io.log('warn', `send failed: ${e.message}`);
    });
    socket.on('message', this.onMessage);
    socket.on('error', (e) => io.log('error', `socket error: ${e.message}`));
  }

  private readonly onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.peerHost === null) {
      this.peerHost = rinfo.address;
      this.peerPort = rinfo.port;
      this.io.log('info', `learned peer ${rinfo.address}:${rinfo.port}`);
    }
    if (this.drops.admit(msg, 0, msg.length)) this.io.receive(msg, 0, msg.length);
    this.burst.schedule();
  };

  /** Native path: receives until the socket is empty (or the pool is), one flush per batch. */
  private readonly drain = (): void => {
    const nat = this.nat;
    if (nat === null) return;
    const io = this.io;
    for (;;) {
      const n = nat.receive(64);
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        const f = nat.spare(i);
        const len = nat.rx.length(i);
        const d = io.dataOffset(f);
        this.taken[i] = 0;
        if (this.peerHost === null) this.learn(i);
        if (this.drops.admit(io.area, d, len, nat.truncated(i))) {
          this.taken[i] = 1;
          io.submit(f, len);
        }
      }
      nat.consume(n, this.taken);
      io.flush();
    }
    nat.arm();
  };

  private learn(i: number): void {
    // The queue sides that send for this port (it has rules, so this thread receives) learn it here too.
    this.shared?.learn(this.nat!.rx.names, i * native.NAME_SIZE);
    const from = fromSockaddr(this.nat!.rx.names, i * native.NAME_SIZE);
    this.peerHost = from.host;
    this.peerPort = from.port;
    this.nat!.setDestination(from);
    this.io.log('info', `learned peer ${from.host}:${from.port}`);
  }

  /** The peer a queue learned (the queues receive): this thread sends there too. */
  private learnShared(peer: LearnedPeer): void {
    const p = peer.hostPort();
    this.peerHost = p.host;
    this.peerPort = p.port;
    this.nat!.setDestination(p);
  }

  /** Native path: the kernel refused datagrams [from, count) of a burst already counted sent. */
  private readonly txFailed = (from: number, errno: number): void => {
    const c = this.io.counters;
    const k = this.nat!.tx.count - from;
    c[this.iTxPackets] -= k;
    c[this.iTxBytes] -= this.nat!.tx.bytesFrom(from);
    c[this.iTxDropped] += k;
    if (errno === native.K.EAGAIN || errno === native.K.ENOBUFS) c[this.iTxBusy] += k;
    else {
      if (c[this.iTxErrors] === 0) this.io.log('warn', `send failed: ${native.errnoName(errno)}`);
      c[this.iTxErrors] += k;
    }
  };

  flushTx(): void {
    this.nat?.flush(this.txFailed);
  }

  transmit(area: Uint8Array, offset: number, length: number): boolean {
    if (this.nat !== null) {
      if (!this.nat.hasDestination && this.shared !== null && this.shared.known()) this.learnShared(this.shared);
      if (!this.nat.hasDestination) {
        this.io.counters[this.iTxNoPeer]++;
        return false;
      }
      if (length > this.maxLen || overMtu(area, offset, length, this.mtu)) {
        this.io.counters[this.iTxOversize]++;
        return false;
      }
      this.nat.stage(null, area, offset, length, this.txFailed);
      return true;
    }
    if (this.peerHost === null) {
      this.io.counters[this.iTxNoPeer]++;
      return false;
    }
    if (length > this.maxLen || overMtu(area, offset, length, this.mtu)) {
      this.io.counters[this.iTxOversize]++;
      return false;
    }
    if (this.sender.send(null, area, offset, length, this.peerPort, this.peerHost) !== SEND_OK) {
      this.io.counters[this.iTxBusy]++;
      return false;
    }
    return true;
  }

  async close(): Promise<void> {
    const n = this.nat;
    this.nat = null;
    if (n !== null) await n.close();
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  status(): Record<string, unknown> {
    return {
      thread: this.io.rxOnQueues === true ? 'queue' : 'device',
      local: this.io.rxOnQueues === true ? formatHostPort(this.local) : this.nat ? formatHostPort({ ...this.local, port: this.nat.boundPort() }) : this.socket ? formatHostPort({ ...this.local, port: this.socket.address().port }) : String(this.config.local),
      io: this.nat ? 'recvmmsg/sendmmsg' : 'node:dgram',
      peer: this.peerHost !== null ? `${this.peerHost}:${this.peerPort}` : this.shared?.known() ? formatHostPort(this.shared.hostPort()) : null,
      learned: this.remote === null,
      mtu: this.mtu,
    };
  }
}

const udp: PortType = {
  type: 'udp',
  options: OPTIONS,
  counters: COUNTERS,
  validate,
  create: (config) => new UdpPort(config),
  queueSides: (config) => {
    const on = udpOnQueues(config);
    return { rx: on, tx: on };
  },
  openQueue: (config, io) => new UdpQueue(config, io),
  // Where each queue's socket is recorded, so a replaced worker's successor adopts it; made
  // in the main thread before any queue binds `local`, which must be free then.
  sharedState: (config, queues) => {
    if (udpOnQueues(config)) checkLocalFree(parseHostPort(config.local), config.name);
    return createQueueSlots(queues, LEARNED_PEER_BYTES);
  },
};
export default udp;
