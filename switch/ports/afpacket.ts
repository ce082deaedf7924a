/**
 * afpacket port: attaches the switch to a Linux interface (a veth into a namespace or a
 * container, a NIC, a bridge port) with AF_PACKET sockets, as a software switch on Linux
 * does. Needs CAP_NET_RAW and the native layer (lib/native/).
 *
 *   ports:
 *     - { name: ns1, type: afpacket, interface: veth-ns1 }
 *
 * interface  the interface to attach (required; it must exist in the switch's namespace).
 * ring       v2 (default): TPACKET_V2, each packet handed over on its own — a quiet link's
 *            packet wakes the worker at once. v3: TPACKET_V3, read block by block — the
 *            kernel hands a block over when it is full or after retireMs, which holds a
 *            quiet link's packet for a timer tick (4 ms with HZ=250). Why v2 is the default:
 *            `npm run bench -- veth` measured its RTT lower in every run and its throughput
 *            higher in four of five (docs/net-ports.md): the block timer costs v3 its
 *            latency, and a TCP stream's ACKs wait on it too, so v3 gains little back.
 * blocks     v3: blocks in the ring (default 32; each blockSize bytes), per queue.
 * blockSize  v3: bytes per block, a power of two from 16 KiB to 4 MiB (default 128 KiB).
 * retireMs   v3: how long the kernel holds a block that is not full (default 1 ms; the
 *            kernel rounds it up to a timer tick).
 * frames     v2: slots in the ring (default 1024; each holds one packet), per queue.
 * thread     queue (default): run to completion, as a multi-queue NIC — each queue worker
 *            owns a socket and its ring (./afpacket/queue.ts), polls it in its breath and
 *            transmits on it in the same breath; with several queues the sockets form a
 *            PACKET_FANOUT_HASH group, so the kernel spreads flows over them as RSS does.
 *            device: one socket on the port's device thread, which steers into the queues
 *            (an extra thread hop per packet each way; kept as a baseline).
 *
 * Receive: a ring mapped into the thread that reads it; every packet the kernel handed
 * over is copied straight into a pool frame (./afpacket/socket.ts). Promiscuous; the
 * packets this host sends out of the interface (ours included) are ignored.
 * Transmit: frames are copied into a batch and leave with one sendmmsg per burst.
 * Counted: rx_missed (the kernel dropped them: ring full, from PACKET_STATISTICS tp_drops;
 * also in rx_packets and rx_dropped), rx_oversize (larger than a frame: also rx_dropped),
 * tx_oversize, tx_carrier_errors (link down: also tx_dropped), tx_errors (the kernel
 * refused a send: moved from tx_packets to tx_dropped).
 * Link down and up: the sockets stay bound; the kernel resumes delivery when the link is up.
 * This device thread watches the link's flags and logs each transition.
 */
import type { Port, PortConfig, PortIO, PortType } from './port.js';
import type { OptionTypes } from './options.js';
import * as native from '../../lib/native/index.js';
import { ETH_HLEN, VLAN_HLEN } from './net/mtu.js';
import { FdWatch } from './net/fd-watch.js';
import { AFPACKET_COUNTERS, PacketSocket, linkUp, type PacketSink } from './afpacket/socket.js';
import { AfPacketQueue } from './afpacket/queue.js';
import { createQueueSlots } from './queue-slots.js';

const OPTIONS: OptionTypes = { interface: 'string', ring: 'string', blocks: 'integer', blockSize: 'integer', retireMs: 'integer', frames: 'integer', thread: 'string' };
/** How often this thread reads its socket's drop count and the link state (off the data path). */
const STATS_MS = 100;
/**
 * With thread: queue this thread has no socket: it only logs link transitions (each queue
 * side looks at the link for its own sends, status() looks when asked), so it looks once a
 * second — an idle switch's threads should not wake ten times a second to find nothing changed.
 */
const LINK_LOG_MS = 1000;

function validate(config: PortConfig): string[] {
  const out: string[] = [];
  const i = config.interface;
  if (i === undefined) out.push('interface: missing: the interface to attach, e.g. veth0');
  else if (typeof i !== 'string' || i.length === 0 || Buffer.byteLength(i) > 15 || /[\s/]/.test(i)) out.push(`interface: '${String(i)}' is not an interface name (1 to 15 bytes, no spaces or '/')`);
  const b = config.blocks;
  if (b !== undefined && (!Number.isInteger(b) || (b as number) < 2 || (b as number) > 4096)) out.push(`blocks: ${String(b)} is not an integer from 2 to 4096`);
  const s = config.blockSize;
  if (s !== undefined && (!Number.isInteger(s) || (s as number) < 16384 || (s as number) > 4 << 20 || ((s as number) & ((s as number) - 1)) !== 0)) {
    out.push(`blockSize: ${String(s)} is not a power of two from 16384 to 4194304`);
  }
  if (config.ring !== undefined && config.ring !== 'v2' && config.ring !== 'v3') out.push(`ring: '${String(config.ring)}' is not v2 or v3`);
  const fr = config.frames;
  if (fr !== undefined && (!Number.isInteger(fr) || (fr as number) < 16 || (fr as number) > 1 << 20)) out.push(`frames: ${String(fr)} is not an integer from 16 to 1048576`);
  if (config.ring === 'v3') {
    if (fr !== undefined) out.push('frames: only for ring: v2 (v3 rings are sized by blocks and blockSize)');
  } else {
    for (const k of ['blocks', 'blockSize', 'retireMs']) if (config[k] !== undefined) out.push(`${k}: only for ring: v3 (v2 rings are sized by frames)`);
  }
  if (config.thread !== undefined && config.thread !== 'queue' && config.thread !== 'device') out.push(`thread: '${String(config.thread)}' is not queue or device`);
  const r = config.retireMs;
  if (r !== undefined && (!Number.isInteger(r) || (r as number) < 1 || (r as number) > 1000)) out.push(`retireMs: ${String(r)} is not an integer from 1 to 1000`);
  return out;
}

export class AfPacketPort implements Port {
  private io!: PortIO;
  /** This thread's socket: absent when the queue workers do all the I/O (thread: queue). */
  private sock: PacketSocket | null = null;
  private watch: FdWatch | null = null;
  private readonly ifname: string;
  private ifindex = 0;
  private up = true;
  private stats: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly config: PortConfig) {
    this.ifname = config.interface as string;
  }

  async open(io: PortIO): Promise<void> {
    native.requireNative('an afpacket port');
    this.io = io;
    const queued = io.rxOnQueues === true;
    const sink: PacketSink = {
      area: io.area,
      counters: io.counters,
      allocFrame: () => io.allocFrame(),
      dataOffset: (f) => io.dataOffset(f),
      deliver: (f, _d, len) => void io.submit(f, len),
      counterIndex: (n) => io.counterIndex(n),
      log: (level, m) => io.log(level, m),
    };
    const sock = new PacketSocket(this.ifname, this.config, sink, io.maxFrameLength);
    if (queued) {
      // The queue workers own the sockets; here only the interface is checked and its link watched.
      try {
        this.ifindex = native.ifNameToIndex(this.ifname);
      } catch (e) {
        throw new Error(`interface '${this.ifname}' does not exist in this network namespace (${(e as Error).message}): create it first, or name an existing one (ip link)`);
      }
    } else {
      sock.open({ rx: true, fanout: -1 });
      this.sock = sock;
      this.ifindex = sock.ifindex;
      this.watch = new FdWatch(io, sock.fd);
    }
    const mtu = native.getInterfaceMtu(this.ifname);
    if (mtu + ETH_HLEN + VLAN_HLEN > io.maxFrameLength) {
      io.log('warn', `interface ${this.ifname} has MTU ${mtu} but a frame holds ${io.maxFrameLength} bytes: larger packets are dropped (rx_oversize); raise frameSize (16384 for MTU 9000)`);
    }
    this.up = linkUp(this.ifname);
    if (this.sock !== null) this.sock.carrier = this.up;
    this.stats = setInterval(() => this.readStats(), queued ? LINK_LOG_MS : STATS_MS);
    this.stats.unref();
    const how = queued ? 'a socket per queue, polled by the queue workers' : `${sock.ringName} on the device thread`;
    io.log('info', `attached to ${this.ifname} (ifindex ${this.ifindex}, MTU ${mtu}, link ${this.up ? 'up' : 'down'}, ${how})`);
  }

  /** Receives up to `budget` packets from the ring; 0 when the kernel has handed over none. */
  poll(budget: number): number {
    if (this.sock === null) return 0;
    const n = this.sock.poll(budget);
    if (n === 0) this.watch?.arm();
    return n;
  }

  transmit(area: Uint8Array, offset: number, length: number): boolean {
    // With thread: queue every queue transmits on its own socket; nothing is sent here.
    return this.sock !== null && this.sock.transmit(area, offset, length);
  }

  flushTx(): void {
    this.sock?.flushTx();
  }

  /** Off the data path: the kernel's drops since the last read, and link transitions. */
  private readStats(): void {
    this.sock?.readDrops();
    this.readLink();
  }

  /** The link's flags now; a transition is logged once, whoever saw it first (timer or status). */
  private readLink(): void {
    const up = linkUp(this.ifname);
    if (up !== this.up) this.io.log('info', `${this.ifname}: link ${up ? 'up' : 'down'}`);
    this.up = up;
    if (this.sock !== null) this.sock.carrier = up;
  }

  async close(): Promise<void> {
    if (this.stats !== null) clearInterval(this.stats);
    this.stats = null;
    this.sock?.readDrops();
    await this.watch?.stop();
    this.watch = null;
    this.sock?.close();
    this.sock = null;
  }

  status(): Record<string, unknown> {
    // Asked for: read the link now rather than report what the last look (up to LINK_LOG_MS ago) saw.
    this.readLink();
    return { interface: this.ifname, ifindex: this.ifindex, link: this.up ? 'up' : 'down', ring: this.config.ring === 'v3' ? 'v3' : 'v2', thread: this.sock === null ? 'queue' : 'device' };
  }
}

const afpacket: PortType = {
  type: 'afpacket',
  options: OPTIONS,
  counters: AFPACKET_COUNTERS,
  validate,
  create: (config) => new AfPacketPort(config),
  // Run to completion unless asked for the device thread (thread: device).
  queueSides: (config) => (config.thread === 'device' ? { rx: false, tx: false } : { rx: true, tx: true }),
  openQueue: (config, io) => new AfPacketQueue(config, io),
  // Where each queue's socket is recorded, so a replaced worker's successor can close it.
  sharedState: (_config, queues) => createQueueSlots(queues),
};
export default afpacket;
