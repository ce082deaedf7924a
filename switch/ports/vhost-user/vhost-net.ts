/**
 * The virtio-net device behind a vhost-user session: the session's rings served by the
 * switch's virtio-net data path (switch/endpoints/virtio-net-queues.ts) over the guest's
 * RAM mapped in this thread. Implements the session's host (memory, ring start/stop, fds)
 * and the data path's host (interrupts through call eventfds, broken guests).
 *
 * A guest that breaks a ring rule (a descriptor outside every region, a loop…) marks the
 * device broken: counted (tx/rx_drop_malformed, needs_reset), logged at most once a
 * second, each ring's error eventfd signalled (QEMU logs "vhost vring error"), and no ring
 * is served until the front-end stops them all (GET_VRING_BASE, which QEMU sends when the
 * guest resets the device) or reconnects. Only this port's device is affected.
 *
 * Fds the session hands over (memory, kick, call, err) are closed by the session when
 * replaced; memory fds by this class when the table is replaced or dropped.
 */
import { readlinkSync } from 'node:fs';
import { close as closeFd, eventfdWrite, setNonBlocking } from '../../../lib/native/index.js';
import { checkLayout, SplitDeviceQueue } from '../../../queues/virtqueue-device.js';
import { checkPackedLayout, PackedDeviceQueue } from '../../../queues/virtqueue-packed.js';
import { VIRTIO_NET_F_MRG_RXBUF, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC } from '../../../queues/virtqueue.js';
import { VirtioNetQueues, type DeviceQueue, type FrameSink, type NetQueueHost } from '../../endpoints/virtio-net-queues.js';
import { GuestMapping } from './mapping.js';
import { guestOffloads } from './offloads.js';
import type { VnetHdr } from '../../../lib/net/vnet-hdr.js';
import type { MemoryTable } from './memory-table.js';
import { ringGpa, type Session, type SessionHost } from './session.js';
import { F_EVENT_IDX, F_INDIRECT, F_MRG_RXBUF, F_PACKED, type HandoverWriter } from '../../../queues/virtq-handover.js';

export interface VhostNetOptions {
  maxPairs: number;
  name: string;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

export class VhostNet implements SessionHost, NetQueueHost {
  readonly net: VirtioNetQueues;
  session: Session | null = null;
  private mapping: GuestMapping | null = null;
  /** Split or packed (RING_PACKED negotiated), as the session's features say. */
  private readonly queues: (DeviceQueue | null)[];
  /** Where a ring continues when served again without a stop in between (disable → enable), or −1 (a packed ring's position encodes its wrap counter: PackedDeviceQueue.lastAvail). */
  private readonly resumeAt: Int32Array;
  /** A queue was dropped outside ringsChanged (stopRing): the data path must restart without it. */
  private dropped = false;
  /** A guest broke a ring rule: nothing is served until every ring stops. */
  brokenWhy: string | null = null;
  private lastLog = -Infinity;
  private suppressed = 0;
  /**
   * Run to completion: queue worker q writes RX ring 2q itself (queue-side.ts) while every
   * pair below the switch's queue count is served; else this thread serves every ring.
   */
  handover: HandoverWriter | null = null;
  /** The RX rings of pairs 0 … queues−1 are on the workers now. */
  private handed = false;
  /** Which memory table the workers map (bumped with every table). */
  private memGen = 0;
  /**
   * The queue workers receive this port (no flow-steering rules): worker q then polls the
   * guest's TX ring of pair q too, when the guest serves exactly pairs 0 … queues−1.
   */
  txOnWorkers = false;
  /** The TX rings of pairs 0 … queues−1 are on the workers now. */
  private txHanded = false;

  constructor(
    private readonly opts: VhostNetOptions,
    counters: Float64Array,
    base: number,
  ) {
    this.net = new VirtioNetQueues(opts.maxPairs, this, counters, base);
    this.queues = new Array(2 * opts.maxPairs).fill(null);
    this.resumeAt = new Int32Array(2 * opts.maxPairs).fill(-1);
  }

  // ── data path (the port's poll/transmit/flushTx) ───────────────────────────

  poll(budget: number, sink: FrameSink): number {
    // A queue worker found the guest breaking an RX ring rule (it counted it).
    if (this.handed && this.handover!.takeBroken()) this.broken('the guest broke an RX ring rule (found by its queue worker)');
    return this.net.poll(budget, sink);
  }

  transmit(area: Uint8Array, offset: number, length: number, queue: number): boolean {
    return this.net.transmit(area, offset, length, queue);
  }

  /** What the guest takes on receive now (OFFLOAD_*, from its negotiated features): nothing until live. */
  offloads(): number {
    const s = this.session;
    return s === null || !this.net.live ? 0 : guestOffloads((bit) => s.has(bit));
  }

  /** transmit() with the frame's virtio_net_hdr, for a guest whose offloads() cover it (no GUEST_ECN is offered). */
  transmitOffload(area: Uint8Array, offset: number, length: number, queue: number, h: VnetHdr): boolean {
    return this.net.transmitOffload(area, offset, length, queue, h, false);
  }

  flush(): void {
    this.net.flush();
  }

  /**
   * The switch queue whose worker polls the TX ring that `fd` kicks, or −1: the kick is rung
   * through to that worker's doorbell (the port's watcher thread sees the eventfd).
   */
  txQueueOfKick(fd: number): number {
    const s = this.session;
    if (!this.txHanded || s === null) return -1;
    const h = this.handover!;
    for (let q = 0; q < h.queues; q++) if (s.vrings[2 * q + 1].kickFd === fd) return q;
    return -1;
  }

  /** Wakes queue q's worker (a kick on the TX ring it polls). */
  wakeQueue(q: number): void {
    this.handover?.wake(q);
  }

  /** The kick fds of the rings being served (for the thread that waits on them). */
  kickFds(): number[] {
    const s = this.session;
    if (s === null) return [];
    const out: number[] = [];
    for (let i = 0; i < this.queues.length; i++) if (this.queues[i] !== null && s.vrings[i].kickFd >= 0) out.push(s.vrings[i].kickFd);
    return out;
  }

  // ── SessionHost ────────────────────────────────────────────────────────────

  setMemory(table: MemoryTable | null): string | null {
    // Queues over the old mapping go first (their indices are kept in resumeAt).
    this.dropQueues();
    const old = this.mapping;
    this.mapping = null;
    if (table !== null) {
      try {
        this.mapping = new GuestMapping(table);
        // No worker serves a ring now (dropQueues): the table is theirs to map from the next handover.
        this.memGen++;
        this.handover?.block.writeTable(table.regions);
      } catch (e) {
        this.mapping = old;
        return (e as Error).message;
      }
    }
    if (old !== null) {
      old.release();
      for (const r of old.table.regions) this.closeFd(r.fd);
    }
    return null;
  }

  ringsChanged(): void {
    const s = this.session;
    if (s === null) return;
    // The workers' rings come home first (a call fd may have changed, a ring may stop).
    const wasHanded = this.handed;
    this.reclaim();
    // A device stopped by the front-end (every ring) is a reset: a broken guest gets another chance.
    if (this.brokenWhy !== null && s.vrings.every((v) => !v.started)) this.brokenWhy = null;
    this.net.publishAll();
    let changed = false;
    for (let i = 0; i < this.queues.length; i++) {
      const want = s.serving(i) && this.brokenWhy === null && this.mapping !== null;
      const q = this.queues[i];
      if (!want && q !== null) {
        this.resumeAt[i] = q.lastAvail;
        this.queues[i] = null;
        changed = true;
      } else if (want && q === null) {
        const built = this.build(i);
        if (typeof built === 'string') {
          this.broken(`ring ${i}: ${built}`);
          return;
        }
        this.queues[i] = built;
        changed = true;
      }
    }
    if (this.dropped) changed = true;
    this.dropped = false;
    if (!changed && !wasHanded && this.net.live === this.queues.some((q) => q !== null)) return;
    if (this.queues.some((q) => q !== null) && this.brokenWhy === null) this.startNet(s);
    else this.net.stop();
  }

  stopRing(i: number): number {
    // The worker answers where its ring stands before we do.
    this.reclaim();
    const q = this.queues[i];
    let base: number;
    if (q !== null) {
      if (q.publishUsed()) this.interrupt(i);
      base = q.lastAvail;
    } else base = this.resumeAt[i] >= 0 ? this.resumeAt[i] : this.session!.vrings[i].base;
    this.queues[i] = null;
    this.resumeAt[i] = -1;
    // The data path must not serve it again: stopped now, restarted without it by the
    // ringsChanged() the session calls next.
    this.net.stop();
    this.dropped = true;
    return base;
  }

  closeFd(fd: number): void {
    try {
      closeFd(fd);
    } catch (e) {
      this.opts.log('warn', `vhost-user ${this.opts.name}: ${(e as Error).message}`);
    }
  }

  isEventfd(fd: number): boolean {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:[eventfd]') return false;
      // Read only when poll says readable, but a blocking eventfd would still stall this
      // thread if that ever raced: QEMU's are non-blocking already; a test client's may not be.
      setNonBlocking(fd);
      return true;
    } catch {
      return false;
    }
  }

  /** The connection ended: every ring stops, memory is unmapped, the session is gone. */
  detach(): void {
    this.session?.reset();
    this.dropQueues();
    this.resumeAt.fill(-1);
    this.setMemory(null);
    this.brokenWhy = null;
    this.session = null;
  }

  // ── NetQueueHost ───────────────────────────────────────────────────────────

  interrupt(queue: number): void {
    // The guest asked for it (EVENT_IDX or no NO_INTERRUPT): one eventfd write, QEMU injects the IRQ.
    const fd = this.session?.vrings[queue].callFd ?? -1;
    if (fd < 0) return;
    try {
      eventfdWrite(fd, 1);
    } catch (e) {
      this.broken(`ring ${queue} call eventfd: ${(e as Error).message}`);
    }
  }

  broken(why: string): void {
    if (this.brokenWhy === null) {
      this.brokenWhy = why;
      this.reclaim();
      for (let i = 0; i < this.queues.length; i++) {
        if (this.queues[i] !== null) this.resumeAt[i] = this.queues[i]!.lastAvail;
        this.queues[i] = null;
      }
      this.net.stop();
      const s = this.session;
      // The error eventfds are how a back-end tells QEMU a ring failed.
      for (const v of s?.vrings ?? []) {
        if (v.errFd < 0) continue;
        try {
          eventfdWrite(v.errFd, 1);
        } catch {
          // QEMU closed it: nothing more to tell.
        }
      }
    }
    // A guest that breaks the rules in a loop must not flood the log.
    const now = Date.now();
    if (now - this.lastLog >= 1000) {
      this.lastLog = now;
      const more = this.suppressed > 0 ? ` (${this.suppressed} more since the last message)` : '';
      this.suppressed = 0;
      this.opts.log('warn', `vhost-user ${this.opts.name}: ${why}; device broken until the front-end stops its rings or reconnects${more}`);
    } else this.suppressed++;
  }

  describe(): Record<string, unknown> {
    const s = this.session;
    return {
      connected: s !== null,
      features: s === null ? null : `0x${s.features.toString(16)}`,
      // Which virtqueue layout the guest's driver and this device agreed on (RING_PACKED).
      ring: s === null ? null : s.packed ? 'packed' : 'split',
      protocolFeatures: s === null ? null : `0x${s.protocolFeatures.toString(16)}`,
      memoryRegions: this.mapping?.table.regions.map((r) => ({ guest: `0x${r.gpa.toString(16)}`, size: r.size })) ?? [],
      rings: s?.vrings.map((v, i) => ({ index: i, num: v.num, started: v.started, enabled: v.enabled, served: this.queues[i] !== null, avail: this.queues[i]?.lastAvail ?? null })) ?? [],
      live: this.net.live,
      // Which switch queues' workers write the guest's RX ring of their pair themselves.
      rxRingsOnWorkers: this.handed ? [...this.handover!.serving.keys()] : [],
      // Which switch queues' workers poll the guest's TX ring of their pair themselves.
      txRingsOnWorkers: this.txHanded ? [...this.handover!.txServing.keys()] : [],
      broken: this.brokenWhy ?? s?.broken ?? null,
    };
  }

  // ── internals ──────────────────────────────────────────────────────────────

  private build(i: number): DeviceQueue | string {
    const s = this.session!;
    const v = s.vrings[i];
    const m = this.mapping!;
    const packed = s.packed;
    const at = ringGpa(m.table, v, packed);
    if (typeof at === 'string') return at;
    const layout = { size: v.num, ...at };
    const err = packed ? checkPackedLayout(m.memory, layout) : checkLayout(m.memory, layout);
    if (err !== null) return err;
    const base = this.resumeAt[i] >= 0 ? this.resumeAt[i] : v.base;
    // Bits 0–14 of a packed ring's base index its descriptor ring (bit 15 is the wrap counter).
    if (packed && (base & 0x7fff) >= v.num) return `packed ring base 0x${base.toString(16)} (SET_VRING_BASE) indexes beyond the ring (size ${v.num})`;
    const opts = { eventIdx: s.has(VIRTIO_RING_F_EVENT_IDX), indirect: s.has(VIRTIO_RING_F_INDIRECT_DESC) };
    const q = packed ? new PackedDeviceQueue(m.memory, layout, opts) : new SplitDeviceQueue(m.memory, layout, opts);
    q.resume(base);
    this.resumeAt[i] = -1;
    return q;
  }

  /**
   * Serves the rings in this.queues: the RX rings of pairs 0 … queues−1 by their queue
   * workers when all of them are served, the rest here.
   */
  private startNet(s: Session): void {
    const mrg = s.has(VIRTIO_NET_F_MRG_RXBUF);
    const h = this.handover;
    let served = this.queues;
    // A guest that takes TSO too: worker q's GRO writes its super-frames into ring 2q itself,
    // with the headers what the guest negotiated lets through (takes).
    if (h !== null && this.mapping !== null) {
      let all = true;
      for (let q = 0; q < h.queues; q++) if (2 * q >= this.queues.length || this.queues[2 * q] === null) all = false;
      if (all) {
        served = this.queues.slice();
        // The TX rings too when they are all of them: this thread then receives from none,
        // and each worker is the only producer on its queue's rx ring.
        let tx = this.txOnWorkers;
        for (let i = 0; i < this.queues.length; i++) if ((i < 2 * h.queues) !== (this.queues[i] !== null)) tx = false;
        const flags =
          (s.has(VIRTIO_RING_F_EVENT_IDX) ? F_EVENT_IDX : 0) | (s.has(VIRTIO_RING_F_INDIRECT_DESC) ? F_INDIRECT : 0) | (mrg ? F_MRG_RXBUF : 0) | (s.packed ? F_PACKED : 0);
        for (let q = 0; q < h.queues; q++) {
          const vq = 2 * q;
          const v = s.vrings[vq];
          const at = ringGpa(this.mapping.table, v, s.packed) as { desc: number; avail: number; used: number };
          let txRing = null;
          if (tx) {
            const w = s.vrings[vq + 1];
            const wAt = ringGpa(this.mapping.table, w, s.packed) as { desc: number; avail: number; used: number };
            txRing = { vq: vq + 1, size: w.num, ...wAt, base: this.queues[vq + 1]!.lastAvail, callFd: w.callFd };
            served[vq + 1] = null;
          }
          h.hand(q, { vq, size: v.num, ...at, flags, base: this.queues[vq]!.lastAvail, takes: guestOffloads((bit) => s.has(bit)), callFd: v.callFd, memGen: this.memGen, tx: txRing });
          served[vq] = null;
        }
        h.wait();
        this.handed = true;
        this.txHanded = tx;
      }
    }
    this.net.start(this.mapping!.memory, served, mrg);
  }

  /**
   * Takes the rings back from the queue workers and waits until none touches the guest;
   * this thread's ring objects continue where the workers stopped: at the ring's published
   * used idx (an RX ring uses every chain it pops, in order; a worker publishes before it
   * lets go, and one that died mid-breath had its last chains popped, never used).
   */
  private reclaim(): void {
    const h = this.handover;
    if (h === null || !this.handed) return;
    h.takeAll();
    const txHanded = this.txHanded;
    this.handed = false;
    this.txHanded = false;
    // A TX ring too: every chain a worker popped it used (the frame taken or counted
    // dropped), and published before it let go.
    for (let i = 0; i < 2 * h.queues && i < this.queues.length; i++) {
      const r = this.queues[i];
      if (r === null || r === undefined) continue;
      if (r instanceof SplitDeviceQueue) r.resumeAtUsed();
      // A packed ring's position is not in the ring: the worker left it in its slot (a TX
      // ring this thread kept serving continues as it is).
      else if (i % 2 === 0 || txHanded) r.resume(h.position(i >> 1, i % 2 === 1));
    }
  }

  private dropQueues(): void {
    this.reclaim();
    this.net.publishAll();
    for (let i = 0; i < this.queues.length; i++) {
      const q = this.queues[i];
      if (q !== null) this.resumeAt[i] = q.lastAvail;
      this.queues[i] = null;
    }
    this.net.stop();
  }
}
