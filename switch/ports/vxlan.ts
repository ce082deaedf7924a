/**
 * vxlan port: one VXLAN network (VNI) as one switch port, RFC 7348 over UDP, interoperating
 * with Linux vxlan devices.
 *
 *   ports:
 *     - { name: vx1, type: vxlan, local: 10.99.0.1:4789, remote: 10.99.0.2, vni: 1 }
 *     - { name: vx2, type: vxlan, local: 10.99.0.1:4789, remote: 10.99.0.2, vni: 2 }
 *
 * local    host[:port] to receive on (port default 4789, the IANA port).
 * remote   host[:port] to send to; the port is the peer's dstport (default `dstport`, 4789).
 *          Frames always go to that port, never back to a datagram's source port: Linux
 *          sends from a random source port per flow.
 * dstport  the remote's VXLAN port when `remote` names none (default 4789; Linux's own
 *          default without `dstport` is 8472).
 * vni      0 … 16777215, unique among the ports sharing `local`.
 * mtu      inner L3 MTU (default 1450: a 1500-byte underlay less 50 bytes of encapsulation).
 * io       auto (default): recvmmsg/sendmmsg when the native layer loads, else node:dgram;
 *          mmsg: the native path or fail to start; dgram: node:dgram always.
 * transmit auto (default) or queues: on the native path with literal addresses, each queue
 *          worker sends what it switches to the port itself (net/vxlan-queue-tx.ts: no hop
 *          to the device thread, a wake-up less per packet; a VM's partial checksums and
 *          super-frames are finished there); else, and with device, the port's device thread
 *          sends what the queues switch to it.
 * receive  auto (default): on the native path with literal addresses, the queue workers
 *          receive themselves (net/vxlan-queue.ts: one SO_REUSEPORT socket per queue, polled
 *          by its worker, which sleeps in poll() on it — one wake-up per packet), unless the
 *          port has flow-steering rules; else the device thread, as below. device: always the
 *          device thread; queues: the same as auto (the device thread where it cannot be).
 *          The ports sharing a `local` must receive alike (a device-thread socket and the
 *          queues' SO_REUSEPORT sockets cannot share the address).
 *
 * With the native layer (lib/native/), the owner's recvmmsg lands each datagram in a pool
 * frame 8 bytes before the frame's data offset, so the VXLAN header falls in the headroom
 * and the inner frame is already where the switch wants it: a frame of the owner's VNI is
 * submitted in place (no copy, no Buffer); a member's is copied once into its handover
 * ring; a datagram no port takes leaves its frame for the next batch. A watch thread wakes
 * the owner when the socket turns readable (net/fd-watch.ts). Transmit stages header +
 * frame in a send batch, one sendmmsg per burst. Without it, node:dgram: one 'message'
 * callback and one Buffer per datagram, one send per frame.
 *
 * One socket, several ports. Each port runs in its own device thread, but Linux sends every
 * VNI to one address and port, so one socket must receive them all. The ports sharing a
 * `local` (spelled the same way) elect an owner by binding: the one whose bind succeeds owns
 * the socket, the others join it over a BroadcastChannel (net/vxlan-group.ts) and receive
 * their frames through a shared-memory handover ring with a doorbell (net/handover.ts) —
 * no message per packet, no change to the device runtime. Every port sends on a socket of
 * its own (members bind local's address with an ephemeral port; VXLAN receivers accept any
 * source port).
 *
 * Counters. The owner counts what cannot be attributed to a VNI port (the datagram was read
 * by the owner): rx_vxlan_short (under 8 bytes), rx_vxlan_bad_flags (I flag clear),
 * rx_vxlan_unknown_vni. Each port counts its own frames: rx_runt (inner frame < 14 bytes),
 * rx_oversize (over its MTU or the frame area), rx_handover_full (its handover ring was
 * full), rx_handover_left (left in its handover ring when it closed: counted, not lost),
 * tx_oversize, tx_busy, tx_errors. Reserved header bits are ignored, as RFC 7348 says.
 */
import type dgram from 'node:dgram';
import { BroadcastChannel } from 'node:worker_threads';
import type { Port, PortConfig, PortIO, PortType } from './port.js';
import type { OptionTypes } from './options.js';
import { parseHostPort, formatHostPort, type HostPort } from './net/address.js';
import { checkMtu, checkMtuFits, overMtu, ETH_HLEN, VLAN_HLEN } from './net/mtu.js';
import { DatagramSender, SEND_OK } from './net/datagram-sender.js';
import { BurstFlush } from './net/burst.js';
import { RxDrops } from './net/port-counters.js';
import { createHandover, HandoverConsumer, HandoverProducer, type SharedHandover } from './net/handover.js';
import { channelName, closeGroup, joinGroup, leaveGroup, serveGroup, watchOwner } from './net/vxlan-group.js';
import { bindUdp, createUdpSocket, resolveHost } from './net/udp-socket.js';
import { NativeDatagramSocket } from './net/native-datagram.js';
import * as native from '../../lib/native/index.js';

import { DEFAULT_VXLAN_MTU, VXLAN_HLEN, VXLAN_I_FLAG, VXLAN_PORT, writeVxlanHeader } from './net/vxlan-header.js';
import { queueTxPossible } from './net/vxlan-queue-tx.js';
import { VxlanQueue, queueRxPossible } from './net/vxlan-queue.js';
import { createQueueSlots } from './queue-slots.js';
import { checkLocalFree } from './net/queue-socket.js';

export { VXLAN_HLEN, VXLAN_PORT, writeVxlanHeader };
const HANDOVER_SLOTS = 1024;

const COUNTERS = [
  'rx_vxlan_short',
  'rx_vxlan_bad_flags',
  'rx_vxlan_unknown_vni',
  'rx_runt',
  'rx_oversize',
  'rx_handover_full',
  'rx_handover_left',
  'tx_oversize',
  'tx_busy',
  'tx_errors',
] as const;
const OPTIONS: OptionTypes = { local: 'string', remote: 'string', dstport: 'integer', vni: 'integer', mtu: 'integer', io: 'string', transmit: 'string', receive: 'string' };
/** Datagrams per recvmmsg. */
const RX_BATCH = 64;

function validate(config: PortConfig): string[] {
  const out: string[] = [];
  if (config.io !== undefined && config.io !== 'auto' && config.io !== 'mmsg' && config.io !== 'dgram') out.push(`io: '${String(config.io)}' is not auto, mmsg or dgram`);
  if (config.transmit !== undefined && config.transmit !== 'auto' && config.transmit !== 'device' && config.transmit !== 'queues') out.push(`transmit: '${String(config.transmit)}' is not auto, device or queues`);
  if (config.receive !== undefined && config.receive !== 'auto' && config.receive !== 'device' && config.receive !== 'queues') out.push(`receive: '${String(config.receive)}' is not auto, device or queues`);
  for (const k of ['local', 'remote'] as const) {
    if (config[k] === undefined) out.push(`${k}: missing: a host[:port], e.g. ${k === 'local' ? '10.99.0.1:4789' : '10.99.0.2'}`);
    else {
      try {
        parseHostPort(config[k], VXLAN_PORT);
      } catch (e) {
        out.push(`${k}: ${(e as Error).message}`);
      }
    }
  }
  const d = config.dstport;
  if (d !== undefined && !(typeof d === 'number' && Number.isInteger(d) && d >= 1 && d <= 65535)) {
    out.push(`dstport: ${String(d)} is not a port number from 1 to 65535`);
  }
  const v = config.vni;
  if (v === undefined) out.push('vni: missing: the VXLAN network identifier, 0 to 16777215');
  else if (!(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffff)) {
    out.push(`vni: ${String(v)} is not an integer from 0 to 16777215`);
  }
  const m = checkMtu(config.mtu);
  if (m) out.push(m);
  return out;
}

class VxlanPort implements Port {
  private io!: PortIO;
  private readonly vni: number;
  private readonly mtu: number;
  private maxLen = 0;
  private local!: HostPort;
  private remote!: HostPort;
  private readonly header = new Uint8Array(VXLAN_HLEN);
  private socket: dgram.Socket | null = null;
  private sender!: DatagramSender;
  /** The native path's socket: the shared one (owner) or this port's transmit socket (member). */
  private nat: NativeDatagramSocket | null = null;
  /** Per slot of a receive batch: whether its frame was submitted (else it is reused). */
  private readonly taken = new Uint8Array(RX_BATCH);
  private drops!: RxDrops;
  private burst!: BurstFlush;
  private channel: BroadcastChannel | null = null;
  private role: 'owner' | 'member' | 'queues' = 'owner';
  private ownerName = '';
  private readonly id = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  // Owner state: VNI → member handover, and the members as a list for the burst flush.
  private readonly members = new Map<number, { name: string; id: string; producer: HandoverProducer }>();
  private memberList: HandoverProducer[] = [];
  // Member state.
  private consumer: HandoverConsumer | null = null;
  /** Member: the owner has closed (it hands nothing over any more). */
  private ownerClosed = false;
  private running = false;
  private pumpDone: Promise<void> = Promise.resolve();
  private iShort = 0;
  private iBadFlags = 0;
  private iUnknownVni = 0;
  private iOversize = 0;
  private iHandoverFull = 0;
  private iHandoverLeft = 0;
  private iTxOversize = 0;
  private iTxBusy = 0;
  private iTxErrors = 0;
  private iTxPackets = 0;
  private iTxBytes = 0;
  private iTxDropped = 0;

  constructor(private readonly config: PortConfig) {
    this.vni = config.vni as number;
    this.mtu = (config.mtu as number | undefined) ?? DEFAULT_VXLAN_MTU;
    writeVxlanHeader(this.header, 0, this.vni);
  }

  async open(io: PortIO): Promise<void> {
    this.io = io;
    checkMtuFits(this.mtu, io.maxFrameLength, io.frameSize);
    this.maxLen = Math.min(io.maxFrameLength, this.mtu + ETH_HLEN + VLAN_HLEN);
    this.drops = new RxDrops(io, this.mtu);
    this.iShort = io.counterIndex('rx_vxlan_short');
    this.iBadFlags = io.counterIndex('rx_vxlan_bad_flags');
    this.iUnknownVni = io.counterIndex('rx_vxlan_unknown_vni');
    this.iOversize = io.counterIndex('rx_oversize');
    this.iHandoverFull = io.counterIndex('rx_handover_full');
    this.iHandoverLeft = io.counterIndex('rx_handover_left');
    this.iTxOversize = io.counterIndex('tx_oversize');
    this.iTxBusy = io.counterIndex('tx_busy');
    this.iTxErrors = io.counterIndex('tx_errors');
    this.iTxPackets = io.counterIndex('tx_packets');
    this.iTxBytes = io.counterIndex('tx_bytes');
    this.iTxDropped = io.counterIndex('tx_dropped');
    this.burst = new BurstFlush(this.flushRx);

    this.local = await resolveHost(parseHostPort(this.config.local, VXLAN_PORT));
    const dstport = (this.config.dstport as number | undefined) ?? VXLAN_PORT;
    this.remote = await resolveHost(parseHostPort(this.config.remote, dstport));
    // Listen on the channel before binding, so a join that races our bind is answered.
    this.channel = new BroadcastChannel(channelName(formatHostPort(this.local)));
    try {
      await this.openSocket(io);
    } catch (e) {
      // A port that failed to open leaves nothing behind that would keep its thread alive.
      this.channel.close();
      this.channel = null;
      throw e;
    }
  }

  /** Owner: binds `local` and serves the group. Member: joins the owner, binds a transmit socket. */
  private async openSocket(io: PortIO): Promise<void> {
    const what = `local ${formatHostPort(this.local)}`;
    const channel = this.channel!;
    const mode = (this.config.io as string | undefined) ?? 'auto';
    if (mode === 'mmsg') native.requireNative('a vxlan port with io: mmsg');
    const useNative = mode !== 'dgram' && native.available();
    if (io.rxOnQueues === true) {
      // The queue workers receive (net/vxlan-queue.ts): this thread only sends what the
      // queues hand it, from a socket of its own (binding `local` would take datagrams too).
      this.role = 'queues';
      this.ownerName = io.name;
      const tx = this.bindNative({ ...this.local, port: 0 }, 'transmit socket', 0);
      if (tx !== null) throw tx;
      this.nat!.setDestination(this.remote);
      return;
    }
    const bound = useNative ? this.bindNative(this.local, 'local', VXLAN_HLEN) : await this.bindDgram(this.local, 'local');
    if (bound === null) {
      this.role = 'owner';
      this.ownerName = io.name;
      // Wait for the watch thread, so that datagrams sent once open() resolved are read at once.
      if (this.nat !== null) await this.nat.watchReadable(this.readable);
      else this.socket!.on('message', this.onMessage);
      serveGroup(channel, io.name, this.register, this.unregister);
    } else {
      if (!/EADDRINUSE/.test(bound.message)) throw bound;
      this.role = 'member';
      const h: SharedHandover = createHandover(HANDOVER_SLOTS, this.maxLen);
      this.consumer = new HandoverConsumer(h);
      this.ownerName = await joinGroup(channel, { id: this.id, name: io.name, vni: this.vni, handover: h }, what);
      watchOwner(channel, () => (this.ownerClosed = true));
      const tx = useNative ? this.bindNative({ ...this.local, port: 0 }, 'transmit socket', 0) : await this.bindDgram({ ...this.local, port: 0 }, 'transmit socket');
      if (tx !== null) throw tx;
      this.running = true;
      this.pumpDone = this.pump();
      io.log('info', `VNI ${this.vni} receives through port ${this.ownerName}'s socket on ${formatHostPort(this.local)}`);
    }
    if (this.nat !== null) {
      this.nat.setDestination(this.remote);
      return;
    }
    this.socket!.on('error', (e) => io.log('error', `socket error: ${e.message}`));
    this.sender = new DatagramSender(this.socket!, VXLAN_HLEN + this.maxLen, 256, (e) => {
      io.counters[this.iTxErrors]++;
      if (io.counters[this.iTxErrors] === 1) io.log('warn', `send failed: ${e.message}`);
    });
  }

  /**
   * Binds a native socket as this.nat; null when bound, else the error. `lead`: receives
   * land that many bytes before a frame's data (the VXLAN header, in the headroom). A
   * datagram longer than a header and the frame area is flagged truncated.
   */
  private bindNative(at: HostPort, what: string, lead: number): Error | null {
    try {
      this.nat = new NativeDatagramSocket(this.io, at, what, lead, VXLAN_HLEN + this.io.maxFrameLength);
      return null;
    } catch (e) {
      return e as Error;
    }
  }

  /** Binds a node:dgram socket as this.socket; null when bound, else the error. */
  private async bindDgram(at: HostPort, what: string): Promise<Error | null> {
    const socket = createUdpSocket(this.local.family);
    const e = await bindUdp(socket, at, what).then(
      () => null,
      (e: Error) => e,
    );
    if (e === null) this.socket = socket;
    else socket.close();
    return e;
  }

  // ── owner: join requests ─────────────────────────────────────────────────────
  private readonly register = (vni: number, name: string, id: string, h: SharedHandover): string | null => {
    const taken = vni === this.vni ? this.io.name : this.members.get(vni)?.name;
    if (taken !== undefined) {
      return `VNI ${vni} is already port ${taken}'s on ${formatHostPort(this.local)} (one port per VNI)`;
    }
    this.members.set(vni, { name, id, producer: new HandoverProducer(h) });
    this.memberList = [...this.members.values()].map((m) => m.producer);
    this.io.log('info', `VNI ${vni} (port ${name}) shares this port's socket`);
    return null;
  };

  private readonly unregister = (vni: number, id: string): void => {
    const m = this.members.get(vni);
    if (m && m.id === id) {
      m.producer.flush();
      this.members.delete(vni);
      this.memberList = [...this.members.values()].map((x) => x.producer);
    }
  };

  // ── owner: receive and demultiplex ───────────────────────────────────────────
  private readonly onMessage = (msg: Buffer): void => {
    const len = msg.length;
    if (len < VXLAN_HLEN) {
      this.drops.drop(this.iShort, len);
      return;
    }
    if ((msg[0] & VXLAN_I_FLAG) === 0) {
      this.drops.drop(this.iBadFlags, len);
      return;
    }
    const vni = (msg[4] << 16) | (msg[5] << 8) | msg[6];
    if (vni === this.vni) {
      this.accept(msg, VXLAN_HLEN, len - VXLAN_HLEN);
    } else {
      const m = this.members.get(vni);
      if (m === undefined) {
        this.drops.drop(this.iUnknownVni, len);
        return;
      }
      m.producer.put(msg, VXLAN_HLEN, len - VXLAN_HLEN);
    }
    this.burst.schedule();
  };

  /** The socket is readable: drain it. A failure is reported, and the port keeps receiving. */
  private readonly readable = (): void => {
    try {
      this.drain();
    } catch (e) {
      this.io.log('error', `receive failed: ${(e as Error).stack ?? (e as Error).message}`);
      this.nat?.arm();
    }
  };

  /**
   * Native path: receives until the socket is empty (or the pool is), one flush per batch.
   * Counted exactly as onMessage counts: rx_vxlan_* for the datagram (its full length), the
   * VNI port's own counters for its inner frame.
   */
  private readonly drain = (): void => {
    const nat = this.nat;
    if (nat === null) return;
    const io = this.io;
    const area = io.area;
    for (;;) {
      const n = nat.receive(RX_BATCH);
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        const f = nat.spare(i);
        const dlen = nat.rx.length(i);
        const d = io.dataOffset(f);
        const h = d - VXLAN_HLEN;
        this.taken[i] = 0;
        if (dlen < VXLAN_HLEN) {
          this.drops.drop(this.iShort, dlen);
          continue;
        }
        if ((area[h] & VXLAN_I_FLAG) === 0) {
          this.drops.drop(this.iBadFlags, dlen);
          continue;
        }
        const vni = (area[h + 4] << 16) | (area[h + 5] << 8) | area[h + 6];
        const len = dlen - VXLAN_HLEN;
        if (vni === this.vni) {
          if (this.drops.admit(area, d, len, nat.truncated(i))) {
            this.taken[i] = 1;
            io.submit(f, len);
          }
          continue;
        }
        const m = this.members.get(vni);
        if (m === undefined) this.drops.drop(this.iUnknownVni, dlen);
        else if (nat.truncated(i)) m.producer.dropOversize();
        else m.producer.put(area, d, len);
      }
      nat.consume(n, this.taken);
      this.flushRx();
    }
    nat.arm();
  };

  private readonly flushRx = (): void => {
    this.io.flush();
    const l = this.memberList;
    for (let i = 0; i < l.length; i++) l[i].flush();
  };

  /** This port's inner frame: checked, then into the switch. */
  private readonly accept = (b: Uint8Array, o: number, len: number): void => {
    if (this.drops.admit(b, o, len)) this.io.receive(b, o, len);
  };

  // ── member: drain the handover ───────────────────────────────────────────────
  private async pump(): Promise<void> {
    const c = this.consumer!;
    while (this.running) {
      const n = c.drain(256, this.accept);
      const big = c.takeOversize();
      if (big) this.drops.drop(this.iOversize, 0, big);
      const full = c.takeFull();
      if (full) this.drops.drop(this.iHandoverFull, 0, full);
      if (n > 0) {
        this.io.flush();
        // Let the device thread's other events (transmit, control) run between batches.
        await new Promise<void>((r) => setImmediate(r));
      } else {
        await c.wait(500);
      }
    }
  }

  /**
   * At close: frames still in the handover ring (and drops the owner counted for this port
   * since the pump's last look) were read from the socket for this port, so they are
   * counted here — rx_packets and rx_dropped, rx_handover_left for the frames — and every
   * datagram the owner took for this VNI is in this port's accounting.
   */
  private countLeft(c: HandoverConsumer): void {
    while (c.drain(256, this.left) > 0);
    const big = c.takeOversize();
    if (big) this.drops.drop(this.iOversize, 0, big);
    const full = c.takeFull();
    if (full) this.drops.drop(this.iHandoverFull, 0, full);
  }

  private readonly left = (_b: Uint8Array, _o: number, len: number): void => this.drops.drop(this.iHandoverLeft, len);

  // ── both: transmit ──────────────────────────────────────────────────────────
  transmit(area: Uint8Array, offset: number, length: number): boolean {
    if (length > this.maxLen || overMtu(area, offset, length, this.mtu)) {
      this.io.counters[this.iTxOversize]++;
      return false;
    }
    if (this.nat !== null) {
      this.nat.stage(this.header, area, offset, length, this.txFailed);
      return true;
    }
    if (this.sender.send(this.header, area, offset, length, this.remote.port, this.remote.host) !== SEND_OK) {
      this.io.counters[this.iTxBusy]++;
      return false;
    }
    return true;
  }

  /** Native path: the kernel refused datagrams [from, count) of a burst already counted sent. */
  private readonly txFailed = (from: number, errno: number): void => {
    const c = this.io.counters;
    const tx = this.nat!.tx;
    const k = tx.count - from;
    c[this.iTxPackets] -= k;
    // tx_bytes counted the inner frames; the batch holds them with their 8-byte headers.
    c[this.iTxBytes] -= tx.bytesFrom(from) - k * VXLAN_HLEN;
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

  async close(): Promise<void> {
    // A member first has the owner let go of its ring (the pump keeps draining meanwhile),
    // so no frame can arrive after the count below.
    if (this.role === 'member' && this.channel && !this.ownerClosed) await leaveGroup(this.channel, this.vni, this.id);
    // The owner stops receiving first: nothing is read from the socket, so nothing handed over, after this.
    if (this.role === 'owner') await this.closeNative();
    if (this.role === 'owner' && this.channel) {
      // What the members were handed is published to them; nothing more will be.
      this.flushRx();
      closeGroup(this.channel, this.io.name);
    }
    this.running = false;
    if (this.consumer) this.consumer.doorbell.ring(); // wakes the pump so it sees !running
    await this.pumpDone;
    if (this.consumer) this.countLeft(this.consumer);
    this.channel?.close();
    this.channel = null;
    await this.closeNative();
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Sends what is still staged, stops the watch thread (no drain after this) and closes the socket. */
  private async closeNative(): Promise<void> {
    const n = this.nat;
    if (n === null) return;
    n.flush(this.txFailed);
    this.nat = null;
    await n.close();
  }

  status(): Record<string, unknown> {
    return {
      vni: this.vni,
      role: this.role,
      io: this.nat ? 'recvmmsg/sendmmsg' : 'node:dgram',
      owner: this.ownerName,
      local: this.local ? formatHostPort(this.local) : String(this.config.local),
      remote: this.remote ? formatHostPort(this.remote) : String(this.config.remote),
      mtu: this.mtu,
      ...(this.role === 'owner' ? { members: [...this.members].map(([vni, m]) => ({ vni, port: m.name })) } : {}),
    };
  }
}

/**
 * One port per VNI on a local address: the ports sharing a `local` receive through one
 * socket and are told apart by VNI alone. The same check runs again when the ports join
 * their group at start; here it is caught by `validate`, at the second port's `vni`.
 */
function validatePorts(configs: PortConfig[]): { port: number; option: string; message: string }[] {
  const out: { port: number; option: string; message: string }[] = [];
  const owner = new Map<string, number>();
  // The queue workers' SO_REUSEPORT sockets and a device thread's socket cannot share an
  // address: the ports of one `local` receive alike (the first port decides).
  const receiver = new Map<string, number>();
  configs.forEach((c, i) => {
    const a = parseHostPort(c.local, VXLAN_PORT);
    const local = formatHostPort({ ...a, family: a.host.includes(':') ? 6 : 4 });
    const r = receiver.get(local);
    if (r === undefined) receiver.set(local, i);
    else if (queueRxPossible(configs[r]) !== queueRxPossible(c)) {
      const where = (x: PortConfig) => (queueRxPossible(x) ? 'the queue workers' : 'its device thread');
      out.push({ port: i, option: 'receive', message: `receives on ${where(c)} but port ${configs[r].name} on ${local} receives on ${where(configs[r])}: the ports of one local address receive alike (give them the same io and receive, e.g. receive: device)` });
    }
    const key = `${local} ${c.vni as number}`;
    const first = owner.get(key);
    if (first === undefined) owner.set(key, i);
    else out.push({ port: i, option: 'vni', message: `VNI ${c.vni as number} is already port ${configs[first].name}'s on ${local} (one port per VNI on a local address)` });
  });
  return out;
}

const vxlan: PortType = {
  type: 'vxlan',
  validatePorts,
  options: OPTIONS,
  counters: COUNTERS,
  validate,
  create: (config) => new VxlanPort(config),
  // Run to completion on the native path: each queue worker sends what it switches to this
  // port itself (transmit: auto; a socket of its own, sendmmsg per breath) and receives for
  // it too (receive: auto) unless flow-steering rules steer the port.
  queueSides: (config) => ({ rx: queueRxPossible(config), tx: queueTxPossible(config) }),
  openQueue: (config, io) => new VxlanQueue(config, io),
  // Made in the main thread before any queue binds `local`, which must be free then (the
  // ports of one `local` each look, one after the other, before any binds).
  sharedState: (config, queues) => {
    if (queueRxPossible(config)) checkLocalFree(parseHostPort(config.local, VXLAN_PORT), config.name);
    return createQueueSlots(queues);
  },
};
export default vxlan;
