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
 * Open: a worker replaced by the watchdog cannot close the socket of the thread it replaces
 * (the descriptor is the process's, the number died with the thread), so that socket stays
 * open and in the fanout group, and the flows the kernel hashes to it go to a ring nobody
 * reads (uncounted) until the process exits. Fixing it needs the number kept where the replacement finds it (the
 * device thread opening the sockets and handing them to the workers would also keep what
 * is in the ring).
 *
 * Sleeping: wakeFds() gives the worker the socket, so an idle worker blocks in poll() on it
 * and wakes when the kernel hands a packet over (switch/queue-sleep.ts). Off the data path,
 * at most every STATS_MS: the kernel's drops for this socket (rx_missed) and the link's flags.
 */
import type { PortConfig, QueueIO, QueuePort } from '../port.js';
import { rssHash } from '../../../flows/rss.js';
import { DEFAULT_RSS_KEY, newToeplitzTable } from '../../../flows/toeplitz.js';
import * as native from '../../../lib/native/index.js';
import { PacketSocket, linkUp } from './socket.js';

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
    const fanout = io.queues > 1 && io.receives ? fanoutGroup(this.ifindexOf()) : -1;
    this.sock.open({ rx: io.receives, fanout });
    this.sock.carrier = linkUp(this.ifname);
    this.lastStats = performance.now();
    this.fds = io.receives ? [this.sock.fd] : [];
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
    // The clock is read when the ring ran dry, or every STATS_POLLS polls under load.
    if ((n < budget || ++this.polls >= STATS_POLLS) && performance.now() - this.lastStats >= STATS_MS) this.readStats();
    return n;
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
  }
}
