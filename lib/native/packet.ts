/**
 * AF_PACKET with a TPACKET_V3 receive ring: open, bind to an interface, promiscuous mode,
 * ignore outgoing, statistics, and the ring's layout (struct tpacket_block_desc and
 * struct tpacket3_hdr of <linux/if_packet.h>). The kernel fills whole blocks of packets and
 * hands each block over by setting its status to TP_STATUS_USER; the reader gives it back
 * by writing TP_STATUS_KERNEL.
 */
import { mmap, munmap, type Mapping } from './memory.js';
import {
  AF_PACKET, ETH_P_ALL, PACKET_ADD_MEMBERSHIP, PACKET_IGNORE_OUTGOING, PACKET_MR_PROMISC, PACKET_RESERVE, PACKET_RX_RING,
  PACKET_FANOUT, PACKET_STATISTICS, PACKET_VERSION, SOL_SOCKET, SO_ERROR, SOCK_NONBLOCK, SOCK_RAW, SOL_PACKET, TPACKET_V2, TPACKET_V3, TP_STATUS_KERNEL, TP_STATUS_USER,
} from './constants.js';
import { bind, getsockopt, getsockoptInt, setsockopt, setsockoptInt, socket } from './socket.js';

const htons = (v: number) => ((v & 0xff) << 8) | ((v >> 8) & 0xff);

/**
 * A raw packet socket (needs CAP_NET_RAW), non-blocking. Protocol 0: it receives nothing
 * until bindPacket() names the interface and ETH_P_ALL, so no other interface's packets
 * reach it meanwhile.
 */
export function packetSocket(): number {
  return socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, 0);
}

/** Bytes the kernel leaves free before each packet in the ring (set before the ring). */
export function setReserve(fd: number, bytes: number): void {
  setsockoptInt(fd, SOL_PACKET, PACKET_RESERVE, bytes, `PACKET_RESERVE ${bytes}`);
}

/**
 * Binds to one interface: sends go out of it, and with `receive` (ETH_P_ALL) every packet
 * it sees is received; without (protocol 0) the socket receives nothing — a send-only socket.
 */
export function bindPacket(fd: number, ifindex: number, name = `ifindex ${ifindex}`, receive = true): void {
  const a = new Uint8Array(20); // struct sockaddr_ll
  const v = new DataView(a.buffer);
  v.setUint16(0, AF_PACKET, true);
  v.setUint16(2, receive ? htons(ETH_P_ALL) : 0, true);
  v.setInt32(4, ifindex, true);
  bind(fd, a, name);
}

/** Promiscuous mode for as long as the socket is open (the kernel counts it; closing undoes it). */
export function addPromiscuous(fd: number, ifindex: number): void {
  const m = new Uint8Array(16); // struct packet_mreq
  const v = new DataView(m.buffer);
  v.setInt32(0, ifindex, true);
  v.setUint16(4, PACKET_MR_PROMISC, true);
  setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, m, 'PACKET_ADD_MEMBERSHIP promiscuous');
}

/** Packets this host sends out of the interface (ours included) are not looped back to the socket. */
export function ignoreOutgoing(fd: number): void {
  setsockoptInt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, 'PACKET_IGNORE_OUTGOING');
}

/**
 * Joins fanout group `id` (16 bits, per network namespace) of sockets bound to the same
 * interface: the kernel hands each packet to one member, chosen by `mode`
 * (PACKET_FANOUT_HASH: the flow hash modulo the members). Only a bound socket may join.
 */
export function joinFanout(fd: number, id: number, mode: number): void {
  setsockoptInt(fd, SOL_PACKET, PACKET_FANOUT, (id & 0xffff) | (mode << 16), `PACKET_FANOUT group ${id & 0xffff} mode ${mode}`);
}

/** Reads and clears the socket's pending error (SO_ERROR): 0 or the errno, e.g. ENETDOWN. */
export function takeSocketError(fd: number): number {
  return getsockoptInt(fd, SOL_SOCKET, SO_ERROR, 'SO_ERROR');
}

export interface PacketStats {
  packets: number;
  /** Packets the kernel dropped because the ring was full. */
  drops: number;
  /** Times the ring froze (every block owned by user space). */
  freezes: number;
}

/** PACKET_STATISTICS: the counts since the last call (reading resets them). */
export function packetStatistics(fd: number): PacketStats {
  const s = new Uint8Array(12); // struct tpacket_stats_v3
  getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, s, 'PACKET_STATISTICS');
  const v = new DataView(s.buffer);
  return { packets: v.getUint32(0, true), drops: v.getUint32(4, true), freezes: v.getUint32(8, true) };
}

export interface RingGeometry {
  /** Bytes per block: a multiple of the page size; a block holds many packets. */
  blockSize: number;
  blockCount: number;
  /** The largest packet slot (TPACKET3 header + snap length); the kernel packs packets tighter. */
  frameSize: number;
  /** Milliseconds after which the kernel hands over a block that is not full (latency bound). */
  retireMs: number;
}

/** Sets TPACKET_V3 and a receive ring on `fd`, and maps it (in this thread). */
export function setupRxRing(fd: number, g: RingGeometry): Mapping {
  setsockoptInt(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V3, 'PACKET_VERSION TPACKET_V3');
  const req = new Uint8Array(28); // struct tpacket_req3
  const v = new DataView(req.buffer);
  v.setUint32(0, g.blockSize, true);
  v.setUint32(4, g.blockCount, true);
  v.setUint32(8, g.frameSize, true);
  v.setUint32(12, (g.blockSize / g.frameSize) * g.blockCount, true);
  v.setUint32(16, g.retireMs, true);
  setsockopt(fd, SOL_PACKET, PACKET_RX_RING, req, `PACKET_RX_RING ${g.blockCount} blocks of ${g.blockSize} bytes`);
  return mmap(fd, g.blockSize * g.blockCount);
}

/**
 * Reads a mapped TPACKET_V3 ring block by block, in whichever thread mapped it. Offsets
 * are those of struct tpacket_block_desc (hdr.bh1 at 8) and struct tpacket3_hdr.
 */
export class RxRingV3 {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly words: Int32Array;
  private block = 0;

  constructor(
    readonly mapping: Mapping,
    readonly blockSize: number,
    readonly blockCount: number,
  ) {
    this.bytes = new Uint8Array(mapping.buffer);
    this.view = new DataView(mapping.buffer);
    this.words = new Int32Array(mapping.buffer);
  }

  /** Offset of the current block when the kernel has handed it over, else −1. */
  readyBlock(): number {
    const off = this.block * this.blockSize;
    // Pairs with the kernel's smp_wmb() before it stores TP_STATUS_USER in block_status:
    // every packet of the block is visible once the status is.
    return (Atomics.load(this.words, (off + 8) >> 2) & TP_STATUS_USER) !== 0 ? off : -1;
  }

  /** Packets in the block at `block`. */
  packetCount(block: number): number {
    return this.view.getUint32(block + 12, true);
  }

  /** Offset of the block's first packet header. */
  firstPacket(block: number): number {
    return block + this.view.getUint32(block + 16, true);
  }

  /** Offset of the packet header after `pkt` (tp_next_offset). */
  nextPacket(pkt: number): number {
    return pkt + this.view.getUint32(pkt, true);
  }

  /** Bytes captured (tp_snaplen) and the packet's length on the wire (tp_len). */
  snapLength(pkt: number): number {
    return this.view.getUint32(pkt + 12, true);
  }

  wireLength(pkt: number): number {
    return this.view.getUint32(pkt + 16, true);
  }

  /** tp_status of a packet: TP_STATUS_VLAN_VALID when the kernel took an 802.1Q tag out of it. */
  packetStatus(pkt: number): number {
    return this.view.getUint32(pkt + 20, true);
  }

  /** Offset of the packet's first byte (its Ethernet header: tp_mac). */
  data(pkt: number): number {
    return pkt + this.view.getUint16(pkt + 24, true);
  }

  /** The VLAN TCI and TPID the kernel removed (hv1.tp_vlan_tci, hv1.tp_vlan_tpid). */
  vlanTci(pkt: number): number {
    return this.view.getUint32(pkt + 32, true) & 0xffff;
  }

  vlanTpid(pkt: number): number {
    return this.view.getUint16(pkt + 36, true);
  }

  /** Gives the current block back to the kernel and moves to the next. */
  release(): void {
    // Pairs with the kernel's read of block_status before it fills the block again: every
    // read of this block happened before (Atomics.store is sequentially consistent).
    Atomics.store(this.words, (this.block * this.blockSize + 8) >> 2, TP_STATUS_KERNEL);
    this.block = this.block + 1 === this.blockCount ? 0 : this.block + 1;
  }

  unmap(): void {
    munmap(this.mapping);
  }
}

/** A TPACKET_V2 receive ring: `frameCount` fixed slots of `frameSize` bytes. */
export interface RingGeometryV2 {
  frameSize: number;
  frameCount: number;
}

const PAGE = 4096;

/** Bytes per kernel block for a V2 ring: whole frames, whole pages, 64 KiB or one frame. */
function v2BlockSize(frameSize: number): number {
  return frameSize >= 65536 ? frameSize : Math.max(PAGE, Math.floor(65536 / frameSize) * frameSize);
}

/** Sets TPACKET_V2 and a receive ring on `fd`, and maps it (in this thread). */
export function setupRxRingV2(fd: number, g: RingGeometryV2): Mapping {
  if (g.frameSize % 16 !== 0 || PAGE % g.frameSize !== 0 && g.frameSize % PAGE !== 0) {
    throw new Error(`TPACKET_V2 frame size ${g.frameSize}: a multiple of 16 that divides or is a multiple of ${PAGE}`);
  }
  setsockoptInt(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2, 'PACKET_VERSION TPACKET_V2');
  const blockSize = v2BlockSize(g.frameSize);
  const perBlock = blockSize / g.frameSize;
  const blocks = Math.ceil(g.frameCount / perBlock);
  const req = new Uint8Array(16); // struct tpacket_req
  const v = new DataView(req.buffer);
  v.setUint32(0, blockSize, true);
  v.setUint32(4, blocks, true);
  v.setUint32(8, g.frameSize, true);
  v.setUint32(12, blocks * perBlock, true);
  setsockopt(fd, SOL_PACKET, PACKET_RX_RING, req, `PACKET_RX_RING ${blocks * perBlock} frames of ${g.frameSize} bytes`);
  return mmap(fd, blockSize * blocks);
}

/**
 * Reads a mapped TPACKET_V2 ring frame by frame: each slot is handed over on its own
 * (tp_status TP_STATUS_USER), so a packet is visible as soon as the kernel wrote it — the
 * low-latency ring, where V3 waits for a block to fill or retire. struct tpacket2_hdr.
 */
export class RxRingV2 {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly words: Int32Array;
  private readonly perBlock: number;
  private readonly blockSize: number;
  private readonly count: number;
  private frame = 0;

  constructor(
    readonly mapping: Mapping,
    readonly frameSize: number,
  ) {
    this.bytes = new Uint8Array(mapping.buffer);
    this.view = new DataView(mapping.buffer);
    this.words = new Int32Array(mapping.buffer);
    this.blockSize = v2BlockSize(frameSize);
    this.perBlock = this.blockSize / frameSize;
    this.count = (mapping.length / this.blockSize) * this.perBlock;
  }

  /** Offset of the current slot when the kernel has handed it over, else −1. */
  ready(): number {
    const off = Math.floor(this.frame / this.perBlock) * this.blockSize + (this.frame % this.perBlock) * this.frameSize;
    // Pairs with the kernel's smp_wmb() before it stores TP_STATUS_USER in tp_status.
    return (Atomics.load(this.words, off >> 2) & TP_STATUS_USER) !== 0 ? off : -1;
  }

  packetStatus(pkt: number): number {
    return this.view.getUint32(pkt, true);
  }

  wireLength(pkt: number): number {
    return this.view.getUint32(pkt + 4, true);
  }

  snapLength(pkt: number): number {
    return this.view.getUint32(pkt + 8, true);
  }

  data(pkt: number): number {
    return pkt + this.view.getUint16(pkt + 12, true);
  }

  vlanTci(pkt: number): number {
    return this.view.getUint16(pkt + 24, true);
  }

  vlanTpid(pkt: number): number {
    return this.view.getUint16(pkt + 26, true);
  }

  /** Gives the slot at `pkt` back to the kernel and moves to the next. */
  release(pkt: number): void {
    // Pairs with the kernel's read of tp_status: every read of the slot happened before.
    Atomics.store(this.words, pkt >> 2, TP_STATUS_KERNEL);
    this.frame = this.frame + 1 === this.count ? 0 : this.frame + 1;
  }

  unmap(): void {
    munmap(this.mapping);
  }
}
