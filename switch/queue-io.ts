/**
 * A port's queue side as queue worker q drives it (run to completion): QueueIO for the
 * port, plus what the worker's breath calls — poll the RX side into the port's rx ring of
 * this queue, transmit on the TX side.
 *
 *   breath of worker q:
 *     poll(): port.poll(room) → allocFrame (worker q's pool) + submit → rx[p][q] staged
 *             flushRx(): pool published, then the ring submitted (one store)
 *     …the same breath consumes rx[p][q] like any input ring…
 *     transmit(): port.transmit() straight from the frame; the frame goes home at once
 *
 * Why a ring between poll and program when one thread does both: frames taken from the
 * medium are published in shared memory before the program runs, so a worker killed or
 * replaced by the watchdog mid-breath leaves them for its replacement (nothing queued is
 * lost), and the accounting walk sees them. It costs a descriptor write and read per packet.
 *
 * Counting: the port's counters for this queue live in their own block (one writer: this
 * worker); every frame submitted is rx_packets and reaches the queue (the ring has room by
 * construction: poll is offered no more than room()); every frame handed to transmit() is
 * tx_packets or tx_dropped.
 */
import { Ring } from '../queues/ring.js';
import { Desc, SUPER_FRAME_HEADROOM, SUPER_FRAME_MAX, XDP_PACKET_HEADROOM, packMeta, packOffLen } from '../queues/frames.js';
import type { FramePool } from '../queues/pool.js';
import { CounterBlock } from '../lib/counters.js';
import { P } from './counters.js';
import { CTL_DOORBELL, CTL_WORDS, type SharedLayout } from './layout.js';
import { Doorbell } from '../queues/doorbell.js';
import type { QueueIO, QueuePort } from './ports/port.js';
import { DescFlag, loadFrameVnet } from '../queues/frame-vnet.js';
import { VnetHdr } from '../lib/net/vnet-hdr.js';

export class QueuePortIO implements QueueIO {
  readonly name: string;
  readonly ifindex: number;
  readonly queue: number;
  readonly queues: number;
  /** Whether this worker polls the port's RX queue (set by QueueEngine.attachQueueSide). */
  receives = false;
  readonly frameSize: number;
  readonly maxFrameLength: number;
  readonly area: Uint8Array;
  readonly written: Int32Array;
  readonly counters: Float64Array;
  readonly shared: SharedArrayBuffer | null;
  /** See QueueIO.direct: the engine transmits here only while it is true. */
  direct = true;
  /** The port's queue side, once opened (rx: polled by the breath; tx: written by it). */
  side: QueuePort | null = null;
  /** False once the side reported it has finished producing (a generator's count). */
  producing = true;
  /** The side gave the worker descriptors that wake it (QueuePort.wakeFds): no timed looks needed. */
  wakes = false;

  private readonly port: number;
  /** The port's index in the switch. */
  get portIndex(): number {
    return this.port;
  }
  private readonly pool: FramePool;
  private readonly rx: Ring;
  /** This queue's tx rings toward every port's device thread, read for room() only. */
  private readonly txRings: Ring[];
  /** Word 3 of every descriptor this side submits: the ingress port, no metadata, no flags. */
  private readonly meta: number;
  /** Word 1's offset half (packOffLen): every frame's data starts after the headroom. */
  private readonly offset = packOffLen(XDP_PACKET_HEADROOM, 0);
  /** The same for a super-frame (queues/frames.ts: SUPER_FRAME_HEADROOM). */
  private readonly superOffset = packOffLen(SUPER_FRAME_HEADROOM, 0);
  private staged = 0;
  /** Slots reserved on the rx ring for the poll in progress. */
  private limit = 0;
  private rxBytes = 0;
  private transmitted = false;
  private txPackets = 0;
  private txBytes = 0;
  private txDropped = 0;
  private readonly block: CounterBlock;
  /** The port's device thread's doorbell (wakeDevice). */
  private readonly deviceBell: Doorbell;
  /** The header of a frame that carries one (DescFlag.VNET), loaded for the side's transmit. */
  private readonly hdr = new VnetHdr();
  /** Where this pool's super-frames start (slot index): frames from there on may be long. */
  private readonly largeFirst: number;
  /** Per queue: the chain takes super-frames whole (layout.frags). */
  private readonly frags: Int32Array;
  private readonly logFn: (level: 'info' | 'warn' | 'error', message: string) => void;

  constructor(
    layout: SharedLayout,
    port: number,
    queue: number,
    name: string,
    pool: FramePool,
    written: Int32Array,
    area: Uint8Array,
    log: (level: 'info' | 'warn' | 'error', message: string) => void,
    shared: SharedArrayBuffer | null = null,
  ) {
    this.shared = shared;
    this.port = port;
    this.queue = queue;
    this.queues = layout.queues;
    this.name = name;
    this.ifindex = port + 1;
    this.frameSize = layout.frameSize;
    this.maxFrameLength = layout.frameSize - XDP_PACKET_HEADROOM;
    this.area = area;
    this.written = written;
    this.pool = pool;
    // The producer side of rx[p][q]; the engine holds the consumer side of the same ring.
    // No doorbell: the producer is the consumer's own thread, which is awake.
    this.rx = new Ring(layout.rx[port][queue]);
    // Observers only (count()): the engine produces on these rings.
    this.txRings = layout.tx[queue].map((sab) => new Ring(sab));
    this.meta = packMeta(port, 0, 0);
    this.frags = new Int32Array(layout.frags);
    // No super-frames: no frame index reaches it.
    const sp = layout.pools[layout.ports + queue];
    this.largeFirst = sp.large === 0 ? Number.MAX_SAFE_INTEGER : sp.largeFirst;
    this.block = CounterBlock.fromShared(layout.portQueueCounters[port][queue]);
    this.deviceBell = new Doorbell(new Int32Array(layout.control), port * CTL_WORDS + CTL_DOORBELL);
    this.counters = this.block.values;
    this.logFn = log;
  }

  // ── QueueIO (what the port's side calls) ───────────────────────────────────

  allocFrame(): number {
    const f = this.pool.alloc();
    if (f < 0) {
      this.counters[P.rx_packets]++;
      this.counters[P.rx_no_buffer]++;
    }
    return f;
  }

  freeFrame(frame: number): void {
    // Published with the pool at the end of the poll (a frame taken and given back in the
    // same poll leaves the published state as it was).
    this.pool.free(frame);
  }

  dataOffset(frame: number): number {
    return frame * this.frameSize + (frame >= this.largeFirst ? SUPER_FRAME_HEADROOM : XDP_PACKET_HEADROOM);
  }

  room(): number {
    let room = this.limit - this.staged;
    // The pool bounds it too, for producers that wait rather than drop (a lossless replay):
    // frames still out on other threads' tx rings come back through the recycle rings.
    const pool = this.pool;
    let free = pool.available();
    if (free < room) free += pool.refill();
    if (free < room) room = free;
    // And the space left on this queue's tx rings toward device threads (a capture file's
    // writer): what is polled now leaves by one of them in this breath, and a frame that
    // finds its tx ring full is an xdp_tx_full drop. A producer that waits for the
    // slowest egress wastes no work on frames it would drop (tcpreplay blocked on its socket).
    const tx = this.txRings;
    for (let p = 0; p < tx.length; p++) {
      const space = tx[p].size - tx[p].count();
      if (space < room) room = space;
    }
    return room;
  }

  submit(frame: number, length: number, hash: number, flags = 0): boolean {
    const ring = this.rx;
    const s = this.staged;
    // poll() offers a side no more than the room it reserved (`limit`), so the last test only
    // guards a misbehaving port.
    // A super-frame of this pool (a guest's TSO send handed on whole) holds up to SUPER_FRAME_MAX.
    const max = frame >= this.largeFirst ? SUPER_FRAME_MAX : this.maxFrameLength;
    if ((length >>> 0) !== length || length > max || length < 14 || s >= this.limit) {
      this.counters[P.rx_packets]++;
      this.counters[P.rx_dropped]++;
      this.free(frame);
      return false;
    }
    // Counted locally, published once per poll (one writer: this worker).
    this.rxBytes += length;
    const w = ring.words;
    const o = ring.slotOf(s);
    w[o + Desc.FRAME] = frame;
    w[o + Desc.OFFLEN] = (frame >= this.largeFirst ? this.superOffset : this.offset) | (length << 16);
    w[o + Desc.HASH] = hash;
    w[o + Desc.META] = this.meta | flags;
    this.staged = s + 1;
    return true;
  }

  submitHashed(frame: number, length: number, hashes: Int32Array, at: number): boolean {
    return this.submit(frame, length, hashes[at]);
  }

  allocSuperFrame(): number {
    return this.pool.allocLarge();
  }

  takesFrags(): boolean {
    // Pairs with QueueEngine.setProgram's Atomics.store (this worker's own, at a chain swap).
    return Atomics.load(this.frags, this.queue) !== 0;
  }

  wakeDevice(): void {
    this.deviceBell.ring();
  }

  resumeRx(): void {
    // Pairs with the device thread's last Ring.submit, made before it handed the ring over.
    this.rx.resync();
  }

  count(name: string, n = 1): void {
    this.counters[this.counterIndex(name)] += n;
  }

  counterIndex(name: string): number {
    return this.block.indexOf(name, `port ${this.name}`);
  }

  log(level: 'info' | 'warn' | 'error', message: string): void {
    this.logFn(level, message);
  }

  // ── what the worker's breath calls ─────────────────────────────────────────

  /** Frames the last poll() submitted on the rx ring (the engine, its consumer, counts them in). */
  submitted = 0;

  /** Polls the RX side for at most `budget` frames; returns what it produced, or -1 once finished. */
  poll(budget: number): number {
    this.submitted = 0;
    const side = this.side!;
    // A side whose one chain may become several frames (a VM's super-frame cut into
    // segments) is given room for them beyond its budget (QueuePort.burst).
    const room = this.rx.reserve(side.burst === undefined ? budget : budget + side.burst);
    if (room === 0) return 0;
    this.limit = room;
    const n = side.poll!(room);
    const staged = this.staged;
    if (staged !== 0) {
      const c = this.counters;
      c[P.rx_packets] += staged;
      c[P.rx_bytes] += this.rxBytes;
      this.rxBytes = 0;
      // The pool's stack depth first, then the descriptors: no frame is ever both free and
      // queued. Ended between the two, a worker leaves its successor the intent to finish.
      this.rx.intend(staged, this.pool.available(), this.pool.largeAvailable());
      this.pool.publish();
      this.rx.submit(staged);
      this.rx.clearIntent();
      this.submitted = staged;
      this.staged = 0;
    }
    this.limit = 0;
    if (n < 0) this.producing = false;
    return n;
  }

  /**
   * A frame from this queue to the port's TX side; the caller frees the frame after.
   * Counted locally and published with the breath (flushTx), as the queue's own exit
   * counters are: a worker that dies mid-breath has published none of that breath's counts.
   */
  transmit(area: Uint8Array, offset: number, length: number, frameBase: number, flags: number): boolean {
    let sent: boolean;
    try {
      let hdr: VnetHdr | null = null;
      if ((flags & DescFlag.VNET) !== 0) {
        hdr = this.hdr;
        loadFrameVnet(hdr, area, frameBase, offset - frameBase);
      }
      sent = this.side!.transmit!(area, offset, length, hdr);
    } catch (e) {
      sent = this.failed(e);
    }
    return this.counted(sent, length);
  }

  /** A side's transmit threw: logged, and the frame counted as dropped. */
  private failed(e: unknown): false {
    this.log('error', `transmit failed: ${(e as Error).message}`);
    return false;
  }

  /** Counts a transmit: tx_packets and tx_bytes, or tx_dropped. */
  private counted(sent: boolean, length: number): boolean {
    this.transmitted = true;
    if (sent) {
      this.txPackets++;
      this.txBytes += length;
    } else this.txDropped++;
    return sent;
  }

  /** Whether the side writes gathered super-frames (transmitGather). */
  gathers(): boolean {
    return this.side !== null && this.side.transmitGather !== undefined;
  }

  /** transmit() of a super-frame given as pieces (QueuePort.transmitGather), counted the same. */
  transmitGather(area: Uint8Array, pieces: Int32Array, first: number, n: number, total: number, hdr: VnetHdr): boolean {
    let sent: boolean;
    try {
      sent = this.side!.transmitGather!(area, pieces, first, n, total, hdr);
    } catch (e) {
      sent = this.failed(e);
    }
    return this.counted(sent, total);
  }

  /** After a breath: lets a side that batches its writes push them out. */
  flushTx(): void {
    if (!this.transmitted) return;
    this.transmitted = false;
    const c = this.counters;
    c[P.tx_packets] += this.txPackets;
    c[P.tx_bytes] += this.txBytes;
    c[P.tx_dropped] += this.txDropped;
    this.txPackets = this.txBytes = this.txDropped = 0;
    const side = this.side!;
    if (side.flushTx !== undefined) side.flushTx();
  }

  private free(frame: number): void {
    this.pool.free(frame);
  }
}
