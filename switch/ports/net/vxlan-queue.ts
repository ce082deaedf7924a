/**
 * A vxlan port's side in queue worker q (run to completion): the worker receives VXLAN
 * itself, with recvmmsg straight into its own pool frames, demultiplexes the VNIs of every
 * vxlan port on the same `local` in the same breath, and sleeps in poll() on the socket
 * when idle (QueuePort.wakeFds). One wake-up per direction — the kernel waking the worker —
 * where the device-thread path costs three (watch thread, device thread, queue worker).
 *
 *   kernel ──SO_REUSEPORT (4-tuple hash)──▶ socket q ──recvmmsg──▶ worker q: VNI → port's rx ring q
 *
 * Spreading over queues: every worker binds `local` with SO_REUSEPORT, and the kernel picks
 * one socket of the group per datagram by its 4-tuple hash. A VXLAN sender puts a hash of
 * the inner flow in the outer UDP source port (RFC 7348 §5; Linux does), so each inner flow
 * lands on one queue and stays in order — RSS, done by the kernel, with no steering thread
 * and no hop (one socket steering to the others would be RPS: a second wake-up per packet).
 *
 * One socket, several ports: the ports sharing a `local` are sides in the same worker. The
 * first one opened there (the lowest port index: sides open in port order) owns the socket
 * of this queue; the others register their VNI with it (a group per local and queue, in
 * this thread's memory). The owner's poll receives for all of them: its own frames are
 * submitted at once, a member's are handed to it (frame indices, no copy) and submitted by
 * the member's poll later in the same breath (a side can only stage on its own rx ring, and
 * only while polled). The owner receives no more than every member can still take.
 *
 * A worker replaced by the watchdog adopts the owner's socket (net/queue-socket.ts). The
 * frames a member had been handed but not yet submitted when its worker died (within one
 * breath) are lost with the worker, as a datagram in the middle of recvmmsg would be.
 *
 * Counted in the (port, queue) blocks, as the device-thread path counts: the owner's
 * rx_vxlan_short / rx_vxlan_bad_flags / rx_vxlan_unknown_vni for what no port can take (the
 * datagram's length), each port's rx_runt / rx_oversize for its own frames; every one is in
 * rx_packets and leaves in rx_dropped. Frames handed to a member that close finds unsubmitted
 * are rx_handover_left. Transmit: net/vxlan-queue-tx.ts (transmit: queues), else the device.
 */
import { isIP } from 'node:net';
import * as native from '../../../lib/native/index.js';
import { rssHash } from '../../../flows/rss.js';
import { DEFAULT_RSS_KEY, newToeplitzTable } from '../../../flows/toeplitz.js';
import type { PortConfig, QueueIO, QueuePort } from '../port.js';
import { formatHostPort, parseHostPort, type HostPort } from './address.js';
import { DEFAULT_VXLAN_MTU, VXLAN_HLEN, VXLAN_I_FLAG, VXLAN_PORT } from './vxlan-header.js';
import { queueTxPossible, vxlanQueueTx } from './vxlan-queue-tx.js';
import type { QueueTx } from './queue-tx.js';
import type { VnetHdr } from '../../../lib/net/vnet-hdr.js';
import { QueueSocket, QUEUE_BATCH } from './queue-socket.js';
import { RxDrops } from './port-counters.js';

/** Datagrams per recvmmsg, and the most a member holds between the owner's poll and its own. */
const BATCH = QUEUE_BATCH;

const TABLE = newToeplitzTable(DEFAULT_RSS_KEY);

/**
 * Whether the queue workers can receive for this port (receive: auto or queues, the native
 * layer, literal addresses: openQueue cannot wait for a name lookup).
 */
export function queueRxPossible(config: PortConfig): boolean {
  if (config.receive === 'device' || config.io === 'dgram' || !native.available()) return false;
  try {
    const local = parseHostPort(config.local, VXLAN_PORT);
    const remote = parseHostPort(config.remote, (config.dstport as number | undefined) ?? VXLAN_PORT);
    return isIP(local.host) !== 0 && isIP(remote.host) !== 0 && local.family === remote.family;
  } catch {
    return false;
  }
}

/** The sides of one `local` in one queue (this thread). */
interface Group {
  owner: VxlanQueue;
  members: Map<number, VxlanQueue>;
  list: VxlanQueue[];
}
const groups = new Map<string, Group>();

export class VxlanQueue implements QueuePort {
  private readonly key: string;
  private readonly vni: number;
  private readonly tx: QueueTx | null;
  private group: Group | null = null;
  /** Owner: this queue's receiving socket on `local`. */
  private socket: QueueSocket | null = null;
  /** Member (and owner's own, unused): frames handed over by the owner, not yet submitted. */
  private readonly held = new Int32Array(BATCH);
  private readonly heldLen = new Int32Array(BATCH);
  private heldCount = 0;
  private readonly fds: number[] = [];
  /** Every drop here is in rx_packets and leaves in rx_dropped; admit() for the inner frame. */
  private readonly drops: RxDrops;
  private readonly iShort: number;
  private readonly iBadFlags: number;
  private readonly iUnknownVni: number;
  private readonly iLeft: number;

  constructor(
    config: PortConfig,
    private readonly io: QueueIO,
  ) {
    const local = parseHostPort(config.local, VXLAN_PORT);
    this.key = `${formatHostPort(local)}#${io.queue}`;
    this.vni = config.vni as number;
    this.drops = new RxDrops(io, (config.mtu as number | undefined) ?? DEFAULT_VXLAN_MTU);
    const c = (n: string) => io.counterIndex(n);
    this.iShort = c('rx_vxlan_short');
    this.iBadFlags = c('rx_vxlan_bad_flags');
    this.iUnknownVni = c('rx_vxlan_unknown_vni');
    this.iLeft = c('rx_handover_left');
    this.tx = queueTxPossible(config) ? vxlanQueueTx(config, io) : null;
    if (io.receives) {
      try {
        this.join(local, io);
      } catch (e) {
        this.tx?.close();
        throw e;
      }
    }
  }

  /** Owns this queue's socket on `local` (the first side here), or registers with its owner. */
  private join(local: HostPort, io: QueueIO): void {
    const g = groups.get(this.key);
    if (g !== undefined) {
      const other = g.owner.vni === this.vni ? g.owner : g.members.get(this.vni);
      if (other !== undefined) throw new Error(`port ${io.name}: VNI ${this.vni} is already port ${other.io.name}'s on ${formatHostPort(local)} (one port per VNI)`);
      g.members.set(this.vni, this);
      g.list.push(this);
      this.group = g;
      // The owner's socket wakes this worker for this port as well (io.wakes: no timed looks).
      this.fds.push(g.owner.socket!.fd);
      return;
    }
    this.socket = new QueueSocket(io, local, VXLAN_HLEN);
    this.group = { owner: this, members: new Map(), list: [] };
    groups.set(this.key, this.group);
    this.fds.push(this.socket.fd);
  }

  wakeFds(): readonly number[] {
    return this.fds;
  }

  poll(budget: number): number {
    if (this.group === null) return 0;
    // The owner hands members their frames before they are polled (sides poll in port order).
    const got = this.group.owner === this ? this.receive(budget) : 0;
    return got + this.submitHeld(budget);
  }

  /** Owner: one recvmmsg for the group; returns the frames submitted on its own queue. */
  private receive(budget: number): number {
    const io = this.io;
    const g = this.group!;
    // No more than any member can still hold, nor than this side may submit now.
    let max = budget < BATCH ? budget : BATCH;
    for (let i = 0; i < g.list.length; i++) {
      const free = BATCH - g.list[i].heldCount;
      if (free < max) max = free;
    }
    const sock = this.socket!;
    const n = sock.receive(max);
    const area = io.area;
    let own = 0;
    for (let i = 0; i < n; i++) {
      const f = sock.frame(i);
      const dlen = sock.length(i);
      const d = io.dataOffset(f);
      const h = d - VXLAN_HLEN;
      if (dlen < VXLAN_HLEN) {
        this.drops.drop(this.iShort, dlen);
        continue;
      }
      if ((area[h] & VXLAN_I_FLAG) === 0) {
        this.drops.drop(this.iBadFlags, dlen);
        continue;
      }
      const vni = (area[h + 4] << 16) | (area[h + 5] << 8) | area[h + 6];
      const truncated = sock.truncated(i);
      const side = vni === this.vni ? this : g.members.get(vni);
      if (side === undefined) {
        this.drops.drop(this.iUnknownVni, dlen);
        continue;
      }
      if (side.drops.admit(area, d, dlen - VXLAN_HLEN, truncated)) {
        sock.take(i);
        if (side === this) {
          io.submit(f, dlen - VXLAN_HLEN, rssHash(TABLE, area, d, dlen - VXLAN_HLEN));
          own++;
        } else side.hold(f, dlen - VXLAN_HLEN);
      }
    }
    // The frames of datagrams no port took, and those nothing arrived for, go home.
    sock.finish();
    return own;
  }

  private hold(frame: number, len: number): void {
    this.held[this.heldCount] = frame;
    this.heldLen[this.heldCount++] = len;
  }

  /** Member: submits what the owner handed over, as much as the ring takes now. */
  private submitHeld(budget: number): number {
    const k = this.heldCount < budget ? this.heldCount : budget;
    if (k === 0) return 0;
    const io = this.io;
    const area = io.area;
    for (let i = 0; i < k; i++) {
      const f = this.held[i];
      const d = io.dataOffset(f);
      io.submit(f, this.heldLen[i], rssHash(TABLE, area, d, this.heldLen[i]));
    }
    // Rare (the ring had less room than the batch): keep the rest, in order, for the next breath.
    if (k < this.heldCount) {
      this.held.copyWithin(0, k, this.heldCount);
      this.heldLen.copyWithin(0, k, this.heldCount);
    }
    this.heldCount -= k;
    return k;
  }

  transmit(area: Uint8Array, offset: number, length: number, hdr: VnetHdr | null): boolean {
    return this.tx !== null && this.tx.transmit(area, offset, length, hdr);
  }

  flushTx(): void {
    this.tx?.flushTx();
  }

  close(): void {
    this.tx?.close();
    const g = this.group;
    this.group = null;
    // Read from the socket for this port, never submitted: counted, not lost.
    for (let i = 0; i < this.heldCount; i++) this.drops.drop(this.iLeft, this.heldLen[i]);
    this.heldCount = 0;
    if (g === null) return;
    if (g.owner !== this) {
      g.members.delete(this.vni);
      g.list = g.list.filter((s) => s !== this);
      return;
    }
    this.socket?.close();
    this.socket = null;
    groups.delete(this.key);
    // Members still open (closing after the owner) receive nothing more.
    for (const m of g.list) m.group = null;
  }
}
