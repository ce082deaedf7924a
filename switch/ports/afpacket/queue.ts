/**
 * The afpacket port's side in queue worker q (run to completion), as an RX/TX queue pair of a
 * multi-queue NIC: worker q owns one AF_PACKET socket with its own ring, polls the ring in
 * its breath and transmits on the same socket in the same breath, so a packet from a veth
 * to another veth never changes thread.
 *
 *   kernel ──fanout (flow hash)──▶ ring q ──poll──▶ worker q: program ──sendmmsg──▶ socket q
 *
 * Several queues: the sockets join one PACKET_FANOUT group in PACKET_FANOUT_HASH mode. The
 * kernel's flow hash is symmetric (both directions of a connection hash alike) and follows
 * the flow, not the CPU, so every packet of a flow lands on the same queue and stays in
 * order — what RSS does on a NIC. PACKET_FANOUT_CPU would follow the CPU that sent into the
 * veth, which the scheduler moves: one TCP flow would be spread over queues and reordered.
 * Where flow-steering rules steer the port (ethtool -N), the rule decides the queue: the
 * Switch then leaves receive on the device thread (io.receives false) and this side only sends,
 * on a socket bound with protocol 0, which receives nothing.
 *
 * The descriptor's hash is the switch's RSS hash (Toeplitz, default key), as on every other
 * path, so a program sees the same hash whichever thread received the packet.
 *
 * A worker killed by the watchdog (or a crash) cannot close its socket, and a socket with a
 * mapped ring stays open and in the fanout group until the ring is unmapped too: the flows
 * the kernel hashes to it would go to a ring nobody reads. So each side records its socket
 * and ring in its queue's slot (../queue-slots.ts), and a replacement first unmaps and closes
 * what its predecessor left there. What was in that ring is lost with it, counted by nobody:
 * the kernel had handed it over.
 *
 * Sleeping: wakeFds() gives the worker the socket, so an idle worker blocks in poll() on it
 * and wakes when the kernel hands a packet over (switch/queue-sleep.ts). Off the data path,
 * at most every STATS_MS: the kernel's drops for this socket (rx_missed) and the link's flags
 * — before the worker sleeps (idle()), or every STATS_POLLS busy polls under load.
 */
import type { PortConfig, QueueIO, QueuePort } from '../port.js';
import { rssHash } from '../../../flows/rss.js';
import { DEFAULT_RSS_KEY, newToeplitzTable } from '../../../flows/toeplitz.js';
import * as native from '../../../lib/native/index.js';
import { PacketSocket, linkUp } from './socket.js';
import { QueueSlot } from '../queue-slots.js';

const STATS_MS = 100;
/** Polls between two looks at the clock while traffic flows. */
const STATS_POLLS = 1024;

/** The fanout group of an interface in this process: the same for every queue, distinct per interface. */
export function fanoutGroup(ifindex: number): number {
  return (Math.imul(process.pid, 0x9e3779b1) ^ Math.imul(ifindex, 0x85ebca6b)) >>> 16;
}

export class AfPacketQueue implements QueuePort {
  private readonly sock: PacketSocket;
  private readonly ifname: string;
  private readonly rx: boolean;
  private polls = 0;
  private lastStats = 0;
  private readonly fds: number[];
  /** This queue's slot in the port's shared state (what a successor must let go of). */
  private readonly slot: QueueSlot | null;

  constructor(config: PortConfig, io: QueueIO) {
    this.ifname = config.interface as string;
    this.rx = io.receives;
    const table = newToeplitzTable(DEFAULT_RSS_KEY);
    const area = io.area;
    this.sock = new PacketSocket(
      this.ifname,
      config,
      {
        area,
        counters: io.counters,
        allocFrame: () => io.allocFrame(),
        dataOffset: (f) => io.dataOffset(f),
        deliver: (f, d, len) => void io.submit(f, len, rssHash(table, area, d, len)),
        counterIndex: (n) => io.counterIndex(n),
        log: (level, m) => io.log(level, m),
      },
      io.maxFrameLength,
    );
    this.slot = io.shared === null ? null : new QueueSlot(io.shared, io.queue);
    this.releasePredecessor(io);
    const fanout = io.queues > 1 && io.receives ? fanoutGroup(this.ifindexOf()) : -1;
    this.sock.open({ rx: io.receives, fanout });
    this.slot?.record(this.sock.fd, this.sock.ringMapping());
    this.sock.carrier = linkUp(this.ifname);
    this.lastStats = performance.now();
    this.fds = io.receives ? [this.sock.fd] : [];
  }

  /** Unmaps and closes the ring and socket a dead predecessor of this queue left open. */
  private releasePredecessor(io: QueueIO): void {
    const left = this.slot?.left() ?? null;
    if (left === null) return;
    try {
      if (left.length > 0) native.munmap({ buffer: new ArrayBuffer(0), address: left.address, length: left.length });
      native.close(left.fd);
      io.log('info', `closed the socket (fd ${left.fd}) of the worker this one replaces`);
    } catch (e) {
      io.log('warn', `closing the socket (fd ${left.fd}) of the worker this one replaces: ${(e as Error).message}`);
    }
    this.slot!.clear();
  }

  private ifindexOf(): number {
    // PacketSocket.open resolves it again with a clear error when the interface is missing.
    try {
      return native.ifNameToIndex(this.ifname);
    } catch {
      return 0;
    }
  }

  poll(budget: number): number {
    const n = this.sock.poll(budget);
    // Under load (the worker never sleeps) the clock is read every STATS_POLLS polls that
    // found packets. Otherwise the stats are read in idle(), before the worker sleeps: never
    // between a packet's read and its send. They cost two syscalls and a socket, and reading
    // them whenever a poll came back short (as before) held the first packet after each
    // 100 ms of quiet — a ping into an idle switch — for that long.
    if (n !== 0 && ++this.polls >= STATS_POLLS && performance.now() - this.lastStats >= STATS_MS) this.readStats();
    return n;
  }

  /** Before the worker sleeps: the kernel's drops and the link's flags, at most every STATS_MS. */
  idle(): void {
    if (performance.now() - this.lastStats >= STATS_MS) this.readStats();
  }

  transmit(area: Uint8Array, offset: number, length: number): boolean {
    return this.sock.transmit(area, offset, length);
  }

  flushTx(): void {
    this.sock.flushTx();
    // A send-only side (rx on the device thread) is never polled: look at the link from here.
    if (!this.rx && performance.now() - this.lastStats >= STATS_MS) this.readStats();
  }

  wakeFds(): readonly number[] {
    return this.fds;
  }

  private readStats(): void {
    this.polls = 0;
    this.lastStats = performance.now();
    this.sock.readDrops();
    this.sock.carrier = linkUp(this.ifname);
  }

  close(): void {
    this.sock.flushTx();
    this.sock.readDrops();
    this.sock.close();
    this.slot?.clear();
  }
}
