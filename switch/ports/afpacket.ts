/**
 * afpacket port: attaches the switch to a Linux interface (a veth into a namespace or a
 * container, a NIC, a bridge port) with an AF_PACKET socket, as a software switch on Linux
 * does. Needs CAP_NET_RAW and the native layer (lib/native/).
 *
 *   ports:
 *     - { name: ns1, type: afpacket, interface: veth-ns1 }
 *
 * interface  the interface to attach (required; it must exist in the switch's namespace).
 * ring       v3 (default): TPACKET_V3, read block by block — the kernel hands a block over
 *            when it is full or after retireMs, which bounds a quiet link's latency by a
 *            timer tick (4 ms with HZ=250). v2: TPACKET_V2, each packet handed over on its
 *            own — for latency (ping, request/response).
 * blocks     v3: blocks in the ring (default 32; each blockSize bytes).
 * blockSize  v3: bytes per block, a power of two from 16 KiB to 4 MiB (default 128 KiB).
 * retireMs   v3: how long the kernel holds a block that is not full (default 1 ms; the
 *            kernel rounds it up to a timer tick).
 * frames     v2: slots in the ring (default 1024; each holds one packet).
 *
 * Receive: a ring mapped into this thread. poll() copies every packet the kernel handed
 * over straight into a pool frame (io.allocFrame/io.submit), puts back the 802.1Q tag the
 * kernel moved into the packet's metadata, and gives the block (v3) or slot (v2) back.
 * When there is nothing, a watch thread (net/fd-watch.ts) wakes the device thread the
 * moment the kernel hands something over. Promiscuous; the packets this host sends out of
 * the interface (ours included) are ignored.
 * Transmit: frames are copied into a batch and leave with one sendmmsg per burst.
 * Counted: rx_missed (the kernel dropped them: ring full, from PACKET_STATISTICS tp_drops;
 * also in rx_packets and rx_dropped), rx_oversize (larger than a frame: also rx_dropped),
 * tx_oversize, tx_carrier_errors (link down: also tx_dropped), tx_errors (the kernel
 * refused a send: moved from tx_packets to tx_dropped).
 * Link down and up: the socket stays bound; the kernel resumes delivery when the link is up.
 */
import type { Port, PortConfig, PortIO, PortType } from './port.js';
import type { OptionTypes } from './options.js';
import * as native from '../../lib/native/index.js';
import { K } from '../../lib/native/index.js';
import { ByteCopier } from '../../queues/copy.js';
import { RxDrops } from './net/port-counters.js';
import { SendBatch } from './net/send-batch.js';
import { ETH_HLEN, VLAN_HLEN } from './net/mtu.js';
import { FdWatch } from './net/fd-watch.js';

/** What receive() reads of a packet, in either ring (offsets into `bytes`). */
interface PacketSlots {
  readonly bytes: Uint8Array;
  snapLength(pkt: number): number;
  wireLength(pkt: number): number;
  packetStatus(pkt: number): number;
  data(pkt: number): number;
  vlanTci(pkt: number): number;
  vlanTpid(pkt: number): number;
}

const COUNTERS = ['rx_missed', 'rx_oversize', 'tx_oversize', 'tx_carrier_errors', 'tx_errors'] as const;
const OPTIONS: OptionTypes = { interface: 'string', ring: 'string', blocks: 'integer', blockSize: 'integer', retireMs: 'integer', frames: 'integer' };
const DEFAULT_V2_FRAMES = 1024;
const DEFAULT_BLOCKS = 32;
const DEFAULT_BLOCK_SIZE = 128 << 10;
const DEFAULT_RETIRE_MS = 1;
const TX_BATCH = 64;
/** How often the kernel's drop count and the link state are read (off the data path). */
const STATS_MS = 100;
/**
 * Puts each packet's Ethernet header on a 4-byte boundary in the ring (TPACKET3_HDRLEN 68
 * rounds up with the 16-byte minimum MAC length to a network header at 96 + reserve; the
 * MAC header is 14 bytes before it), so the copy into the frame moves words, not bytes.
 */
const RING_RESERVE = 2;

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
  if (config.ring !== 'v2') {
    if (fr !== undefined) out.push('frames: only for ring: v2 (v3 rings are sized by blocks and blockSize)');
  } else {
    for (const k of ['blocks', 'blockSize', 'retireMs']) if (config[k] !== undefined) out.push(`${k}: only for ring: v3 (v2 rings are sized by frames)`);
  }
  const r = config.retireMs;
  if (r !== undefined && (!Number.isInteger(r) || (r as number) < 1 || (r as number) > 1000)) out.push(`retireMs: ${String(r)} is not an integer from 1 to 1000`);
  return out;
}

export class AfPacketPort implements Port {
  private io!: PortIO;
  private fd = -1;
  private ring: native.RxRingV3 | null = null;
  private ring2: native.RxRingV2 | null = null;
  private watch: FdWatch | null = null;
  private tx!: SendBatch;
  private drops!: RxDrops;
  private readonly copier = new ByteCopier();
  private maxLen = 0;
  private readonly ifname: string;
  private ifindex = 0;
  private linkUp = true;
  private stats: ReturnType<typeof setInterval> | null = null;
  // The block being read: its offset, packets left, and the next packet's offset.
  private block = -1;
  private left = 0;
  private pkt = 0;
  private iMissed = 0;
  private iOversize = 0;
  private iTxOversize = 0;
  private iCarrier = 0;
  private iTxErrors = 0;
  private iTxPackets = 0;
  private iTxBytes = 0;
  private iTxDropped = 0;

  constructor(private readonly config: PortConfig) {
    this.ifname = config.interface as string;
  }

  async open(io: PortIO): Promise<void> {
    native.requireNative('an afpacket port');
    this.io = io;
    this.maxLen = io.maxFrameLength;
    this.drops = new RxDrops(io);
    this.iMissed = io.counterIndex('rx_missed');
    this.iOversize = io.counterIndex('rx_oversize');
    this.iTxOversize = io.counterIndex('tx_oversize');
    this.iCarrier = io.counterIndex('tx_carrier_errors');
    this.iTxErrors = io.counterIndex('tx_errors');
    this.iTxPackets = io.counterIndex('tx_packets');
    this.iTxBytes = io.counterIndex('tx_bytes');
    this.iTxDropped = io.counterIndex('tx_dropped');

    try {
      this.ifindex = native.ifNameToIndex(this.ifname);
    } catch (e) {
      throw new Error(`interface '${this.ifname}' does not exist in this network namespace (${(e as Error).message}): create it first, or name an existing one (ip link)`);
    }
    const mtu = native.getInterfaceMtu(this.ifname);
    if (mtu + ETH_HLEN + VLAN_HLEN > this.maxLen) {
      io.log('warn', `interface ${this.ifname} has MTU ${mtu} but a frame holds ${this.maxLen} bytes: larger packets are dropped (rx_oversize); raise frameSize (16384 for MTU 9000)`);
    }
    const blocks = (this.config.blocks as number | undefined) ?? DEFAULT_BLOCKS;
    const blockSize = (this.config.blockSize as number | undefined) ?? DEFAULT_BLOCK_SIZE;
    const retireMs = (this.config.retireMs as number | undefined) ?? DEFAULT_RETIRE_MS;
    try {
      this.fd = native.packetSocket();
    } catch (e) {
      throw new Error(`cannot open an AF_PACKET socket (${(e as Error).message}): the switch needs CAP_NET_RAW (run as root)`);
    }
    try {
      native.setReserve(this.fd, RING_RESERVE);
      native.ignoreOutgoing(this.fd);
      if (this.config.ring === 'v2') {
        // A slot holds the TPACKET2 header, the reserve and the largest frame (+ room for alignment).
        let frameSize = 2048;
        while (frameSize < this.maxLen + 128) frameSize *= 2;
        const frames = (this.config.frames as number | undefined) ?? DEFAULT_V2_FRAMES;
        this.ring2 = new native.RxRingV2(native.setupRxRingV2(this.fd, { frameSize, frameCount: frames }), frameSize);
      } else {
        const mapping = native.setupRxRing(this.fd, { blockSize, blockCount: blocks, frameSize: 2048, retireMs });
        this.ring = new native.RxRingV3(mapping, blockSize, blocks);
      }
      native.bindPacket(this.fd, this.ifindex, this.ifname);
      native.addPromiscuous(this.fd, this.ifindex);
      // A deep send buffer: a burst of jumbo frames must not meet EAGAIN.
      native.setsockoptInt(this.fd, K.SOL_SOCKET, K.SO_SNDBUFFORCE, 4 << 20, 'SO_SNDBUFFORCE');
    } catch (e) {
      this.closeFd();
      throw new Error(`cannot attach to interface ${this.ifname}: ${(e as Error).message}`);
    }
    this.tx = new SendBatch(TX_BATCH, this.maxLen);
    this.watch = new FdWatch(io, this.fd);
    native.packetStatistics(this.fd); // reset: count drops from now on
    this.linkUp = this.readLink();
    this.stats = setInterval(() => this.readStats(), STATS_MS);
    this.stats.unref();
    io.log('info', `attached to ${this.ifname} (ifindex ${this.ifindex}, MTU ${mtu}, link ${this.linkUp ? 'up' : 'down'}, ${this.ring2 !== null ? 'TPACKET_V2 ring' : `TPACKET_V3 ring ${blocks} × ${blockSize >> 10} KiB`})`);
  }

  /** Receives up to `budget` packets from ready ring blocks; 0 when the kernel has handed over none. */
  poll(budget: number): number {
    const n = this.ring2 !== null ? this.pollV2(budget) : this.pollV3(budget);
    if (n === 0) this.watch?.arm();
    return n;
  }

  private pollV2(budget: number): number {
    const ring = this.ring2!;
    let n = 0;
    while (n < budget) {
      const pkt = ring.ready();
      if (pkt < 0) break;
      this.receive(ring, pkt);
      ring.release(pkt);
      n++;
    }
    return n;
  }

  private pollV3(budget: number): number {
    const ring = this.ring;
    if (ring === null) return 0;
    let n = 0;
    while (n < budget) {
      if (this.left === 0) {
        const b = ring.readyBlock();
        if (b < 0) break;
        this.block = b;
        this.left = ring.packetCount(b);
        this.pkt = ring.firstPacket(b);
        if (this.left === 0) {
          ring.release();
          continue;
        }
      }
      this.receive(ring, this.pkt);
      n++;
      if (--this.left === 0) ring.release();
      else this.pkt = ring.nextPacket(this.pkt);
    }
    return n;
  }

  private receive(ring: PacketSlots, pkt: number): void {
    const snap = ring.snapLength(pkt);
    const tagged = (ring.packetStatus(pkt) & K.TP_STATUS_VLAN_VALID) !== 0;
    const len = tagged ? snap + VLAN_HLEN : snap;
    if (ring.wireLength(pkt) !== snap || len > this.maxLen || snap < ETH_HLEN) {
      this.drops.drop(this.iOversize, ring.wireLength(pkt));
      return;
    }
    const io = this.io;
    const f = io.allocFrame();
    if (f < 0) return; // counted rx_no_buffer
    const d = io.dataOffset(f);
    const src = ring.data(pkt);
    if (!tagged) this.copier.copy(io.area, d, ring.bytes, src, snap);
    else {
      // The kernel moved the 802.1Q tag into the packet's metadata: put it back after the MACs.
      const area = io.area;
      const tpid = (ring.packetStatus(pkt) & K.TP_STATUS_VLAN_TPID_VALID) !== 0 ? ring.vlanTpid(pkt) : 0x8100;
      const tci = ring.vlanTci(pkt);
      this.copier.copy(area, d, ring.bytes, src, 12);
      area[d + 12] = tpid >> 8;
      area[d + 13] = tpid & 0xff;
      area[d + 14] = tci >> 8;
      area[d + 15] = tci & 0xff;
      this.copier.copy(area, d + 16, ring.bytes, src + 12, snap - 12);
    }
    io.submit(f, len);
  }

  transmit(area: Uint8Array, offset: number, length: number): boolean {
    if (length > this.maxLen) {
      this.io.counters[this.iTxOversize]++;
      return false;
    }
    if (!this.linkUp) {
      this.io.counters[this.iCarrier]++;
      return false;
    }
    if (this.tx.full) this.flushTx();
    this.tx.add(area, offset, length);
    return true;
  }

  flushTx(): void {
    const tx = this.tx;
    if (tx.count === 0) return;
    let sent = 0;
    let retried = false;
    let stale = false;
    while (sent < tx.count) {
      const n = tx.sendFrom(this.fd, sent);
      if (n > 0) {
        sent += n;
        continue;
      }
      // The kernel keeps the ENETDOWN of a link that went down as the socket's pending error
      // and reports it (clearing it) on the next send, even when the link is back: try once more.
      if (n === -K.ENETDOWN && !stale) {
        stale = true;
        continue;
      }
      // A full send buffer: wait for room once (a burst larger than the socket's buffer).
      if ((n === -K.EAGAIN || n === -K.ENOBUFS) && !retried) {
        retried = true;
        this.waitWritable();
        continue;
      }
      this.txFailed(sent, -n);
      break;
    }
    tx.clear();
  }

  /** Moves the frames the kernel refused from tx_packets to tx_dropped (they were counted sent by transmit()). */
  private txFailed(from: number, errno: number): void {
    const c = this.io.counters;
    const k = this.tx.count - from;
    c[this.iTxPackets] -= k;
    c[this.iTxBytes] -= this.tx.bytesFrom(from);
    c[this.iTxDropped] += k;
    if (errno === K.ENETDOWN || errno === K.ENXIO) {
      c[this.iCarrier] += k;
      if (this.linkUp) this.io.log('warn', `${this.ifname}: link down (${native.errnoName(errno)}): dropping what is sent to it`);
      this.linkUp = false;
    } else {
      if (c[this.iTxErrors] === 0) this.io.log('warn', `${this.ifname}: send failed: ${native.errnoName(errno)}`);
      c[this.iTxErrors] += k;
    }
  }

  private pollOut: native.PollSet | null = null;
  private waitWritable(): void {
    if (this.pollOut === null) {
      this.pollOut = new native.PollSet(1);
      this.pollOut.set(0, this.fd, K.POLLOUT);
    }
    this.pollOut.wait(1);
  }

  private readLink(): boolean {
    try {
      const flags = native.getInterfaceFlags(this.ifname);
      return (flags & K.IFF_UP) !== 0 && (flags & K.IFF_RUNNING) !== 0;
    } catch {
      return false; // the interface is gone
    }
  }

  /** Off the data path: the kernel's drops since the last read, and link transitions. */
  private readStats(): void {
    if (this.fd < 0) return;
    try {
      const s = native.packetStatistics(this.fd);
      if (s.drops > 0) this.drops.drop(this.iMissed, 0, s.drops);
    } catch (e) {
      this.io.log('warn', `PACKET_STATISTICS: ${(e as Error).message}`);
    }
    const up = this.readLink();
    if (up !== this.linkUp) this.io.log('info', `${this.ifname}: link ${up ? 'up' : 'down'}`);
    this.linkUp = up;
  }

  private closeFd(): void {
    if (this.ring !== null) this.ring.unmap();
    if (this.ring2 !== null) this.ring2.unmap();
    this.ring = null;
    this.ring2 = null;
    if (this.fd >= 0) native.close(this.fd);
    this.fd = -1;
  }

  async close(): Promise<void> {
    if (this.stats !== null) clearInterval(this.stats);
    this.stats = null;
    if (this.fd >= 0) this.readStats();
    await this.watch?.stop();
    this.watch = null;
    this.closeFd();
  }

  status(): Record<string, unknown> {
    return { interface: this.ifname, ifindex: this.ifindex, link: this.linkUp ? 'up' : 'down', ring: this.ring2 !== null ? 'v2' : 'v3' };
  }
}

const afpacket: PortType = {
  type: 'afpacket',
  options: OPTIONS,
  counters: COUNTERS,
  validate,
  create: (config) => new AfPacketPort(config),
};
export default afpacket;
