/**
 * One AF_PACKET socket on an interface, as both sides of the afpacket port use it: the
 * device thread's (rx only when flow-steering rules steer the port) and each queue
 * worker's (rx from its fanout member, tx in the same breath). It owns the socket, its
 * receive ring (TPACKET_V3 block by block, or TPACKET_V2 slot by slot), a sendmmsg batch
 * and the error accounting; the caller says where frames go (a PacketSink).
 *
 * Receive: poll() copies every packet the kernel handed over straight into a frame of the
 * sink's pool, puts back the 802.1Q tag the kernel moved into the packet's metadata, and
 * gives the block (v3) or slot (v2) back. Transmit: frames are copied into a batch (the
 * caller frees its frame when transmit returns) and leave with one sendmmsg per flush.
 */
import * as native from '../../../lib/native/index.js';
import { K } from '../../../lib/native/index.js';
import { ByteCopier } from '../../../queues/copy.js';
import { SendBatch } from '../net/send-batch.js';
import { ETH_HLEN, VLAN_HLEN } from '../net/mtu.js';
import type { PortConfig } from '../port.js';

/** Where received frames go, and the counters errors are counted in (a PortIO or a QueueIO). */
export interface PacketSink {
  readonly area: Uint8Array;
  readonly counters: Float64Array;
  allocFrame(): number;
  dataOffset(frame: number): number;
  /** Stages `frame` (length bytes at dataOffset); the frame was just filled at `data`. */
  deliver(frame: number, data: number, length: number): void;
  counterIndex(name: string): number;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

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

export const AFPACKET_COUNTERS = ['rx_missed', 'rx_oversize', 'tx_oversize', 'tx_carrier_errors', 'tx_errors'] as const;
export const DEFAULT_V2_FRAMES = 1024;
export const DEFAULT_BLOCKS = 32;
export const DEFAULT_BLOCK_SIZE = 128 << 10;
export const DEFAULT_RETIRE_MS = 1;
const TX_BATCH = 64;
/**
 * Puts each packet's Ethernet header on a 4-byte boundary in the ring (TPACKET3_HDRLEN 68
 * rounds up with the 16-byte minimum MAC length to a network header at 96 + reserve; the
 * MAC header is 14 bytes before it), so the copy into the frame moves words, not bytes.
 */
const RING_RESERVE = 2;

export interface SocketOptions {
  /** Receive (a ring, promiscuous); false: a send-only socket that receives nothing. */
  rx: boolean;
  /** Join this fanout group (PACKET_FANOUT_HASH) after binding; -1: none. */
  fanout: number;
}

export class PacketSocket {
  fd = -1;
  ifindex = 0;
  mtu = 0;
  private ring: native.RxRingV3 | null = null;
  private ring2: native.RxRingV2 | null = null;
  private tx!: SendBatch;
  private readonly copier = new ByteCopier();
  private readonly maxLen: number;
  private linkDown = false;
  /** Set by the owner from the link's flags (linkUp()); while false, transmit() counts carrier errors. */
  carrier = true;
  /**
   * When transmit() last looked at the link itself (ms). The owner reads the flags only every
   * so often, and a worker asleep reads them not at all: the first packet after the link came
   * back would be dropped on a stale `carrier`. So a frame that finds the link down looks again,
   * at most once a millisecond (one ioctl), and only while the link is down.
   */
  private carrierSeen = 0;
  // The block being read: packets left, and the next packet's offset.
  private left = 0;
  private pkt = 0;
  private readonly c: Float64Array;
  private readonly iRxPackets: number;
  private readonly iRxBytes: number;
  private readonly iRxDropped: number;
  private readonly iMissed: number;
  private readonly iOversize: number;
  private readonly iTxOversize: number;
  private readonly iCarrier: number;
  private readonly iTxErrors: number;
  private readonly iTxPackets: number;
  private readonly iTxBytes: number;
  private readonly iTxDropped: number;
  private pollOut: native.PollSet | null = null;

  constructor(
    private readonly ifname: string,
    private readonly config: PortConfig,
    private readonly sink: PacketSink,
    maxFrameLength: number,
  ) {
    this.maxLen = maxFrameLength;
    this.c = sink.counters;
    this.iRxPackets = sink.counterIndex('rx_packets');
    this.iRxBytes = sink.counterIndex('rx_bytes');
    this.iRxDropped = sink.counterIndex('rx_dropped');
    this.iMissed = sink.counterIndex('rx_missed');
    this.iOversize = sink.counterIndex('rx_oversize');
    this.iTxOversize = sink.counterIndex('tx_oversize');
    this.iCarrier = sink.counterIndex('tx_carrier_errors');
    this.iTxErrors = sink.counterIndex('tx_errors');
    this.iTxPackets = sink.counterIndex('tx_packets');
    this.iTxBytes = sink.counterIndex('tx_bytes');
    this.iTxDropped = sink.counterIndex('tx_dropped');
  }

  get ringName(): string {
    return this.ring2 !== null ? 'TPACKET_V2 ring' : this.ring !== null ? `TPACKET_V3 ring ${this.ring.blockCount} × ${this.ring.blockSize >> 10} KiB` : 'send only';
  }

  /** Opens the socket; throws an Error that says what is wrong and what would be right. */
  open(opts: SocketOptions): void {
    native.requireNative('an afpacket port');
    try {
      this.ifindex = native.ifNameToIndex(this.ifname);
    } catch (e) {
      throw new Error(`interface '${this.ifname}' does not exist in this network namespace (${(e as Error).message}): create it first, or name an existing one (ip link)`);
    }
    this.mtu = native.getInterfaceMtu(this.ifname);
    try {
      this.fd = native.packetSocket();
    } catch (e) {
      throw new Error(`cannot open an AF_PACKET socket (${(e as Error).message}): the switch needs CAP_NET_RAW (run as root)`);
    }
    try {
      if (opts.rx) {
        native.setReserve(this.fd, RING_RESERVE);
        native.ignoreOutgoing(this.fd);
        if (this.config.ring !== 'v3') {
          // A slot holds the TPACKET2 header, the reserve and the largest frame (+ room for alignment).
          let frameSize = 2048;
          while (frameSize < this.maxLen + 128) frameSize *= 2;
          const frames = (this.config.frames as number | undefined) ?? DEFAULT_V2_FRAMES;
          this.ring2 = new native.RxRingV2(native.setupRxRingV2(this.fd, { frameSize, frameCount: frames }), frameSize);
        } else {
          const blocks = (this.config.blocks as number | undefined) ?? DEFAULT_BLOCKS;
          const blockSize = (this.config.blockSize as number | undefined) ?? DEFAULT_BLOCK_SIZE;
          const retireMs = (this.config.retireMs as number | undefined) ?? DEFAULT_RETIRE_MS;
          this.ring = new native.RxRingV3(native.setupRxRing(this.fd, { blockSize, blockCount: blocks, frameSize: 2048, retireMs }), blockSize, blocks);
        }
      }
      native.bindPacket(this.fd, this.ifindex, this.ifname, opts.rx);
      if (opts.rx) {
        if (opts.fanout >= 0) native.joinFanout(this.fd, opts.fanout, K.PACKET_FANOUT_HASH);
        native.addPromiscuous(this.fd, this.ifindex);
      }
      // A deep send buffer: a burst of jumbo frames must not meet EAGAIN.
      native.setsockoptInt(this.fd, K.SOL_SOCKET, K.SO_SNDBUFFORCE, 4 << 20, 'SO_SNDBUFFORCE');
    } catch (e) {
      this.close();
      throw new Error(`cannot attach to interface ${this.ifname}: ${(e as Error).message}`);
    }
    this.tx = new SendBatch(TX_BATCH, this.maxLen);
    if (opts.rx) native.packetStatistics(this.fd); // reset: count drops from now on
  }

  /** Receives up to `budget` packets the kernel has handed over; 0 when there are none. */
  poll(budget: number): number {
    return this.ring2 !== null ? this.pollV2(budget) : this.pollV3(budget);
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
      this.rxDrop(this.iOversize, ring.wireLength(pkt), 1);
      return;
    }
    const sink = this.sink;
    const f = sink.allocFrame();
    if (f < 0) return; // counted rx_no_buffer
    const d = sink.dataOffset(f);
    const src = ring.data(pkt);
    const area = sink.area;
    if (!tagged) this.copier.copy(area, d, ring.bytes, src, snap);
    else {
      // The kernel moved the 802.1Q tag into the packet's metadata: put it back after the MACs.
      const tpid = (ring.packetStatus(pkt) & K.TP_STATUS_VLAN_TPID_VALID) !== 0 ? ring.vlanTpid(pkt) : 0x8100;
      const tci = ring.vlanTci(pkt);
      this.copier.copy(area, d, ring.bytes, src, 12);
      area[d + 12] = tpid >> 8;
      area[d + 13] = tpid & 0xff;
      area[d + 14] = tci >> 8;
      area[d + 15] = tci & 0xff;
      this.copier.copy(area, d + 16, ring.bytes, src + 12, snap - 12);
    }
    sink.deliver(f, d, len);
  }

  /** A frame read but not delivered: rx_packets, and rx_dropped with its reason. */
  private rxDrop(reason: number, len: number, n: number): void {
    const c = this.c;
    c[this.iRxPackets] += n;
    c[this.iRxBytes] += len;
    c[this.iRxDropped] += n;
    c[reason] += n;
  }

  /** Adds a frame to the batch (the bytes are copied); false = dropped (counted). */
  transmit(area: Uint8Array, offset: number, length: number): boolean {
    if (length > this.maxLen) {
      this.c[this.iTxOversize]++;
      return false;
    }
    if (!this.carrier && !this.carrierBack()) {
      this.c[this.iCarrier]++;
      return false;
    }
    if (this.tx.full) this.flushTx();
    this.tx.add(area, offset, length);
    return true;
  }

  /** Whether a link seen down has come back (looked at no more than once a millisecond). */
  private carrierBack(): boolean {
    const now = performance.now();
    if (now - this.carrierSeen < 1) return false;
    this.carrierSeen = now;
    this.carrier = linkUp(this.ifname);
    return this.carrier;
  }

  /** Sends the batch: one sendmmsg (more when the kernel takes part of it). */
  flushTx(): void {
    const tx = this.tx;
    if (tx === undefined || tx.count === 0) return;
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
    if (sent === tx.count && this.linkDown) this.linkDown = false;
    tx.clear();
  }

  /** Moves the frames the kernel refused from tx_packets to tx_dropped (they were counted sent by transmit()). */
  private txFailed(from: number, errno: number): void {
    const c = this.c;
    const k = this.tx.count - from;
    c[this.iTxPackets] -= k;
    c[this.iTxBytes] -= this.tx.bytesFrom(from);
    c[this.iTxDropped] += k;
    if (errno === K.ENETDOWN || errno === K.ENXIO) {
      c[this.iCarrier] += k;
      if (!this.linkDown) this.sink.log('warn', `${this.ifname}: link down (${native.errnoName(errno)}): dropping what is sent to it`);
      this.linkDown = true;
    } else {
      if (c[this.iTxErrors] === 0) this.sink.log('warn', `${this.ifname}: send failed: ${native.errnoName(errno)}`);
      c[this.iTxErrors] += k;
    }
  }

  private waitWritable(): void {
    if (this.pollOut === null) {
      this.pollOut = new native.PollSet(1);
      this.pollOut.set(0, this.fd, K.POLLOUT);
    }
    this.pollOut.wait(1);
  }

  /** Off the data path: the packets the kernel dropped (ring full) since the last read, counted rx_missed. */
  readDrops(): void {
    if (this.fd < 0 || (this.ring === null && this.ring2 === null)) return;
    try {
      const s = native.packetStatistics(this.fd);
      if (s.drops > 0) this.rxDrop(this.iMissed, 0, s.drops);
    } catch (e) {
      this.sink.log('warn', `PACKET_STATISTICS: ${(e as Error).message}`);
    }
  }

  /**
   * The socket's pending error (a link that went down), read and cleared: a sleeper polling
   * the descriptor would otherwise see POLLERR at once, again and again.
   */
  clearError(): void {
    if (this.fd >= 0) native.takeSocketError(this.fd);
  }

  /** The RX ring's mapping, or null (send only): what a successor must unmap if this thread dies. */
  ringMapping(): { address: number; length: number } | null {
    const r = this.ring ?? this.ring2;
    return r === null ? null : { address: r.mapping.address, length: r.mapping.length };
  }

  close(): void {
    if (this.ring !== null) this.ring.unmap();
    if (this.ring2 !== null) this.ring2.unmap();
    this.ring = null;
    this.ring2 = null;
    if (this.fd >= 0) native.close(this.fd);
    this.fd = -1;
  }
}

/** Whether the interface is up with its carrier (a veth whose peer is up). */
export function linkUp(ifname: string): boolean {
  try {
    const flags = native.getInterfaceFlags(ifname);
    return (flags & K.IFF_UP) !== 0 && (flags & K.IFF_RUNNING) !== 0;
  } catch {
    return false; // the interface is gone
  }
}
