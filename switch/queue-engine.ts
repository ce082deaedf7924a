/**
 * One RX queue's engine: the breath a queue worker takes over and over.
 *
 *   breathe():
 *     run to completion: poll this queue's RX side of every port the workers poll (gen,
 *       replay, …) into that port's rx ring of this queue (QueuePortIO)
 *     for each input ring (device rx rings, then cpumap rings from other queues):
 *       n = ring.peek(budget)
 *       for each descriptor: ctx.load(desc); verdict = program(ctx); route(verdict)
 *     socket endpoints: take what applications queued for transmit
 *     release the input rings, then flush: one submit per tx/cpu/recycle ring touched,
 *            pools published, counters added once (a worker that dies before the release
 *            has published nothing: its packets are still in the rings for its replacement)
 *
 * Exit counters: every packet taken from an input ring is counted in exactly one of
 * xdp_drop, xdp_aborted, xdp_invalid, xdp_tx_xmit, xdp_tx_full, xdp_redirect,
 * xdp_redirect_err, xdp_pass (switch/counters.ts).
 *
 * Nothing here allocates per packet: one context object, the frames' preallocated views,
 * counters in a typed array, routing by integer switch.
 *
 * GRO (lib/net/gro.ts): frames staged for a port that takes TCP super-frames (its device
 * published OFFLOAD_TSO, and the switch has super-frames) go through that port's GRO table
 * instead of straight onto its tx ring; the tables are flushed before the rings are
 * published, so nothing is held past the breath. Programs see segments, before GRO, as XDP
 * does. A frame carrying a virtio_net_hdr (descriptor flag F_VNET) keeps it on every ring;
 * a socket endpoint or the local stack gets its partial checksum completed first.
 *
 * A program can write anything into its context. The frame, ingress port and hash a packet
 * is routed with come from its descriptor, never back from ctx; after the program, a few
 * integer compares check that data/dataEnd/dataMeta still describe a packet of at least
 * ETH_HLEN bytes inside the frame (else ABORTED: no descriptor ever points outside its
 * frame); a verdict that is not an integer 0…4 is xdp_invalid; a redirect index is used only
 * when it is an integer in range (else xdp_redirect_err).
 */
import { Ring } from '../queues/ring.js';
import { Doorbell } from '../queues/doorbell.js';
import { FrameArea, Desc, packMeta, packOffLen, SUPER_FRAME_HEADROOM, SUPER_FRAME_MAX, XDP_PACKET_HEADROOM } from '../queues/frames.js';
import { FramePool, RecycleRing } from '../queues/pool.js';
import { CounterBlock } from '../lib/counters.js';
import { P, Q, QUEUE_COUNTERS } from './counters.js';
import { CTL_DOORBELL, CTL_INPUT, CTL_POS, CTL_WORDS, offloadsGeneration, queueDoorbell, workerThread, type SharedLayout } from './layout.js';
import { XdpContext, Bound, Redirect } from '../programs/context.js';
import { Verdict } from '../programs/verdicts.js';
import type { XdpProgram } from '../programs/program.js';
import type { QueueEndpoint, TxEmit } from './endpoints/endpoint.js';
import { ByteCopier } from '../queues/copy.js';
import { DescFlag, OFFLOAD_TSO, loadFrameVnet, offloadsFor, storeFrameVnet, VNET_AT } from '../queues/frame-vnet.js';
import { Gro, type GroHost } from '../lib/net/gro.js';
import { GsoPlan, gsoErrorText } from '../lib/net/gso.js';
import { completeChecksum, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, VnetHdr } from '../lib/net/vnet-hdr.js';
import { QueuePortIO } from './queue-io.js';
import { BreathJournal } from './breath-journal.js';
import { journalWords } from './layout.js';

/** The verdict argument a tap armed before the program gets (the packet has none yet). */
export const TAP_ENTRY = -1;

/** Sees every packet at the hook, with its verdict, while a capture is armed (xdpdump). */
export interface PacketTap {
  observe(ctx: XdpContext, verdict: number): void;
}

/** Reported (at most once a second, by the worker) when a program leaves the packet's bounds unusable. */
export const BOUNDS_ERROR = 'program left ctx.data/dataEnd/dataMeta outside its frame (packets ABORTED)';
export const INVALID_VERDICT = 'program returned something other than a verdict 0…4 (packets dropped, xdp_invalid)';

/** A program-written value is an index into [0, n): a number, an integer, in range. Never throws. */
function isIndex(x: unknown, n: number): x is number {
  return typeof x === 'number' && (x | 0) === x && x >= 0 && x < n;
}

export class QueueEngine {
  readonly queue: number;
  readonly thread: number;
  readonly ctx: XdpContext;
  readonly counters: CounterBlock;
  readonly doorbell: Doorbell;
  /** Errors thrown by programs since the last take (message, count) — reported off the hot path. */
  lastError: string | null = null;
  errorCount = 0;
  program: XdpProgram;
  tap: PacketTap | null = null;
  /** A tap that sees each packet before the program runs (verdict argument ENTRY). */
  tapEntry: PacketTap | null = null;
  /** Socket endpoints by id (Redirect.XSK targets) and the local stack (PASS), when bound. */
  readonly endpoints: (QueueEndpoint | null)[] = [];
  passEndpoint: QueueEndpoint | null = null;

  private readonly budget: number;
  private readonly poolFrames: number;
  /** Ordinary frame slots of all pools; super-frames follow, superStride slots per pool. */
  private readonly smallSlots: number;
  private readonly superStride: number;
  private readonly inputs: Ring[];
  private readonly peeked: Int32Array;
  private readonly tx: Ring[];
  private readonly txStaged: Int32Array;
  private readonly cpuOut: (Ring | null)[];
  private readonly cpuStaged: Int32Array;
  private readonly recycle: (RecycleRing | null)[];
  private readonly pool: FramePool;
  /** This queue's own frames, [poolFirst, poolFirst + poolCount): freed without a division. */
  private readonly poolFirst: number;
  private readonly poolCount: number;
  /** Ports whose RX queue this worker polls itself, and each port's TX side here (null: its device thread's tx ring). */
  private readonly rxSides: QueuePortIO[] = [];
  private readonly txSides: (QueuePortIO | null)[];
  /** Which pre-written frame each frame holds (QueueIO.written), -1 once this worker writes one itself. */
  private readonly written: Int32Array;
  /** True between start-ingress and stop: the queue sides are polled (else only what is queued is drained). */
  ingressOpen = false;
  /** Bumped when an RX side finishes for good (the worker reports it between breaths). */
  finishedSides = 0;
  private readonly area: Uint8Array;
  private readonly copier = new ByteCopier();
  private readonly frameSize: number;
  private readonly views: Uint8Array[];
  private readonly dataViews: DataView[];
  /**
   * This breath's counts, added to the shared block once by flush(). Int32: a counter
   * bumped per packet in a Float64Array is a chain of float adds through memory (≈ 4 ns a
   * packet here), in an Int32Array an integer add. Bytes have a number of their own (added
   * once per burst): a breath's sum can pass 2^31 with a large budget.
   */
  private readonly local: Int32Array;
  private breathBytes = 0;
  /** The context's own broadcast flags: a program that replaces ctx.broadcastPorts is not followed. */
  private readonly broadcastPorts: Uint8Array;
  private readonly ports: number;
  private readonly emit: TxEmit;
  /** This worker's control words: which packet is in hand, for the watchdog. */
  private readonly ctl: Int32Array;
  private readonly ctlBase: number;
  /** GRO per egress port (null without super-frames); groOn[p] from the port's published offloads. */
  private readonly gro: (Gro | null)[];
  private readonly groOn: Uint8Array;
  /** Each port's published offloads (OFFLOAD_*), loaded again when their generation moves. */
  private readonly portTakes: Int32Array;
  private readonly offloads: Int32Array;
  private readonly offloadsGen: number;
  /** The generation portTakes was loaded at (-1: never). */
  private offloadsSeen = -1;
  private readonly came = new VnetHdr();
  /**
   * The header of a frame on its way out (takesVnet, deliverTo): its own object, since GRO
   * delivers while `came` still describes the segment it is taking.
   */
  private readonly outHdr = new VnetHdr();
  /** Descriptor flags (DescFlag.VNET) of the packet in hand: they travel with its frame. */
  private inFlags = 0;
  /** The chain takes super-frames whole (all its programs declare frags); see setProgram(). */
  private frags = false;
  private readonly fragsWord: Int32Array;
  /** Bytes a super-frame's view spans (its slots): the bound a program must stay inside. */
  private readonly superBytes: number;
  /** Cuts a super-frame for a socket endpoint or the local stack (they take MTU-sized packets). */
  private readonly cut = new GsoPlan();
  private readonly segHdr = new VnetHdr();
  /** Segments the last deliverTo() cut a super-frame into (0: it was not cut). */
  private cutSegments = 0;
  private readonly layoutRef: SharedLayout;
  /** The breath's publication, all or nothing (switch/breath-journal.ts), and its words' ids. */
  private readonly journal: BreathJournal;
  private inputIds = new Int32Array(0);
  private txIds = new Int32Array(0);
  private cpuIds = new Int32Array(0);
  private recycleIds = new Int32Array(0);
  private depthIds = [0, 0];

  constructor(layout: SharedLayout, queue: number, program: XdpProgram) {
    this.queue = queue;
    this.layoutRef = layout;
    this.thread = workerThread(layout, queue);
    this.budget = layout.budget;
    this.poolFrames = layout.poolFrames;
    this.smallSlots = layout.smallSlots;
    this.superStride = layout.superFrames * layout.superSpan;
    this.ports = layout.ports;
    this.program = program;
    const area = new FrameArea(layout.area, layout.frameSize);
    this.area = area.bytes;
    this.frameSize = layout.frameSize;
    this.views = area.frameViews();
    this.dataViews = area.frameDataViews();
    this.superBytes = layout.superSpan * layout.frameSize;
    // A super-frame is named by its first slot; its views span all its slots, so a program
    // that takes super-frames whole (frags) reads its headers and the engine bounds-checks
    // against its real end. Made once here, like every other view.
    for (let f = layout.smallSlots; f + layout.superSpan <= this.views.length; f += layout.superSpan) {
      this.views[f] = new Uint8Array(layout.area, f * layout.frameSize, this.superBytes);
      this.dataViews[f] = new DataView(layout.area, f * layout.frameSize, this.superBytes);
    }
    this.ctx = new XdpContext(layout.frameSize, layout.ports, this.views, this.dataViews);
    this.ctx.rxQueueIndex = queue;
    this.broadcastPorts = this.ctx.broadcastPorts;
    this.ctl = new Int32Array(layout.control);
    this.ctlBase = this.thread * CTL_WORDS;
    // The word its worker sleeps on (shared by every queue that worker runs).
    this.doorbell = new Doorbell(this.ctl, queueDoorbell(layout, queue));

    const inputs: Ring[] = [];
    for (let p = 0; p < layout.ports; p++) inputs.push(new Ring(layout.rx[p][queue]));
    for (let r = 0; r < layout.queues; r++) {
      const sab = layout.cpu[r][queue];
      if (sab !== null) inputs.push(new Ring(sab));
    }
    this.inputs = inputs;
    this.peeked = new Int32Array(inputs.length);

    this.tx = layout.tx[queue].map((sab) => new Ring(sab));
    this.txStaged = new Int32Array(this.tx.length);
    const ctl = new Int32Array(layout.control);
    // Producers ring the consumer's doorbell: device p's for tx rings, worker r's for cpu rings.
    this.tx.forEach((ring, p) => ring.attachDoorbell(new Doorbell(ctl, p * CTL_WORDS + CTL_DOORBELL)));
    this.cpuOut = layout.cpu[queue].map((sab, r) => {
      if (sab === null) return null;
      const ring = new Ring(sab);
      ring.attachDoorbell(new Doorbell(ctl, queueDoorbell(layout, r)));
      return ring;
    });
    this.cpuStaged = new Int32Array(layout.queues);
    this.recycle = layout.pools.map((pool, o) => (o === this.thread ? null : new RecycleRing(pool.rings[this.thread])));
    this.pool = new FramePool(layout.pools[this.thread]);
    this.counters = CounterBlock.fromShared(layout.queueCounters[queue]);
    this.journal = new BreathJournal(layout.journals[queue], journalWords(layout.ports, layout.queues), QUEUE_COUNTERS.length);
    this.finishBreath();
    this.finishPredecessor(layout, queue);
    this.poolFirst = this.pool.first;
    this.poolCount = this.pool.count;
    this.local = new Int32Array(QUEUE_COUNTERS.length);
    this.emit = (src, off, len, port) => this.transmitCopy(src, off, len, port);
    this.offloads = new Int32Array(layout.offloads);
    this.offloadsGen = offloadsGeneration(layout);
    this.fragsWord = new Int32Array(layout.frags);
    this.groOn = new Uint8Array(layout.ports);
    this.portTakes = new Int32Array(layout.ports);
    this.gro = Array.from({ length: layout.ports }, (_, p) => (layout.superFrames > 0 ? new Gro(new EngineGroHost(this, p)) : null));
    this.txSides = new Array<QueuePortIO | null>(layout.ports).fill(null);
    this.written = new Int32Array(layout.pools.length * layout.poolFrames).fill(-1);
  }

  /**
   * Names the words a breath publishes in the journal (the same order in every incarnation),
   * then finishes a breath a predecessor ended in the middle of publishing: its values are
   * stored again and the rings and pool reload their local indices from them.
   */
  private finishBreath(): void {
    const j = this.journal;
    this.inputIds = Int32Array.from(this.inputs, (r) => j.target(r.words, Ring.CONS_WORD));
    this.txIds = Int32Array.from(this.tx, (r) => j.target(r.words, Ring.PROD_WORD));
    this.cpuIds = Int32Array.from(this.cpuOut, (r) => (r === null ? -1 : j.target(r.words, Ring.PROD_WORD)));
    this.recycleIds = Int32Array.from(this.recycle, (r) => (r === null ? -1 : j.target(r.shared.words, Ring.PROD_WORD)));
    const [stack, large] = this.pool.depthWords();
    this.depthIds = [j.target(stack, 0), j.target(large, 0)];
    this.counters.beginWrite();
    const replayed = j.replay(this.counters.values);
    this.counters.endWrite();
    if (!replayed) return;
    for (const r of this.inputs) r.resync();
    for (const r of this.tx) {
      r.resync();
      r.wake();
    }
    for (const r of this.cpuOut) {
      r?.resync();
      r?.wake();
    }
    for (const r of this.recycle) r?.resync();
    this.pool.resync();
  }

  /**
   * A worker ended between publishing its pool and submitting a poll's frames to a queue
   * side's rx ring (QueuePortIO.poll) left them out of both: submit them now, before anything
   * takes from this queue's pool, so they run through this queue like any other.
   */
  private finishPredecessor(layout: SharedLayout, queue: number): void {
    for (let p = 0; p < layout.ports; p++) {
      const sab = layout.rx[p][queue];
      if (sab === null) continue;
      const ring = new Ring(sab);
      const n = ring.takeIntent(this.pool.available(), this.pool.largeAvailable());
      if (n > 0) ring.submit(n);
    }
  }

  /**
   * Installs a chain. `frags`: every program of it takes super-frames whole, so the devices
   * may hand this queue a TSO super-frame as one packet instead of its segments (what
   * BPF_F_XDP_HAS_FRAGS lets a multi-buffer NIC do). Off the hot path (start, reload).
   */
  setProgram(program: XdpProgram, frags: boolean): void {
    this.program = program;
    this.frags = frags;
    // Pairs with DeviceIO.receiveOffload's Atomics.load (whole or cut, per super-frame).
    Atomics.store(this.fragsWord, this.queue, frags ? 1 : 0);
  }

  /** Whether the installed chain takes super-frames whole. */
  get takesFrags(): boolean {
    return this.frags;
  }

  /**
   * Run to completion: this worker drives port p's queue side (its RX queue when `rx`, its
   * TX side when `tx`). Returns the QueueIO to open the port's side with; set `io.side` after.
   */
  attachQueueSide(p: number, name: string, rx: boolean, tx: boolean, log: (level: 'info' | 'warn' | 'error', message: string) => void, shared: SharedArrayBuffer | null = null): QueuePortIO {
    const io = new QueuePortIO(this.layoutRef, p, this.queue, name, this.pool, this.written, this.area, log, shared);
    io.receives = rx;
    if (rx) this.rxSides.push(io);
    if (tx) this.txSides[p] = io;
    this.sides.push(io);
    return io;
  }

  /** Sides that take handovers from their device thread (QueuePort.service), set once opened. */
  private readonly sides: QueuePortIO[] = [];
  private serviced: QueuePortIO[] = [];

  /** After the sides are opened: which of them want service() once a breath. */
  sidesOpened(): void {
    this.serviced = this.sides.filter((io) => io.side?.service !== undefined);
  }

  /** The side of port p this engine drives, or null (control requests for it). */
  sideOf(p: number): QueuePortIO | null {
    for (const io of this.sides) if (io.portIndex === p) return io;
    return null;
  }

  /** Names of the ports whose RX side here has finished (off the hot path). */
  finishedPorts(): string[] {
    return this.rxSides.filter((io) => !io.producing).map((io) => io.name);
  }

  /** Ports this worker polls that still produce (a finished generator does not). */
  producing(): boolean {
    if (!this.ingressOpen) return false;
    // A side whose descriptors wake the worker (QueuePort.wakeFds) needs no timed look.
    for (const io of this.rxSides) if (io.producing && !io.wakes) return true;
    return false;
  }

  /** One breath. Returns how many packets it took from the input rings. */
  breathe(): number {
    const budget = this.budget;
    const inputs = this.inputs;
    const peeked = this.peeked;
    const c = this.local;
    let total = 0;
    // One load a breath, however many ports: pairs with the Atomics.add after a device's
    // store in DeviceIO.drain (a port's offloads changed); its new word is loaded after it.
    const gen = Atomics.load(this.offloads, this.offloadsGen);
    if (gen !== this.offloadsSeen) this.loadOffloads(gen);
    // Handovers first (a VM's ring given to or taken from this queue): one load per side.
    const serviced = this.serviced;
    for (let s = 0; s < serviced.length; s++) serviced[s].side!.service!();
    // Run to completion: take this queue's share of every polled medium first; the frames
    // land on the port's rx ring of this queue and are processed below in this breath.
    if (this.ingressOpen) {
      const sides = this.rxSides;
      for (let s = 0; s < sides.length; s++) {
        const io = sides[s];
        if (!io.producing) continue;
        const n = io.poll(budget);
        if (n < 0) this.finishedSides++;
        // This thread submitted them (QueuePortIO.poll): peek needs no load of the shared index.
        else if (io.submitted !== 0) inputs[io.portIndex].producedHere(io.submitted);
      }
    }
    for (let i = 0; i < inputs.length; i++) {
      const ring = inputs[i];
      const n = ring.peek(budget);
      peeked[i] = n;
      if (n === 0) continue;
      // A plain store: only the supervisor's watchdog reads it, after it saw no progress.
      this.ctl[this.ctlBase + CTL_INPUT] = i;
      // Counted per burst: a worker that dies mid-breath publishes none of its counts anyway.
      this.breathBytes += this.runBatch(ring, 0, n, c);
      c[Q.packets] += n;
      total += n;
    }
    let sent = 0;
    const eps = this.endpoints;
    for (let e = 0; e < eps.length; e++) {
      const ep = eps[e];
      if (ep !== null) sent += ep.pollTx(budget, this.emit);
    }
    if (this.passEndpoint !== null) sent += this.passEndpoint.pollTx(budget, this.emit);
    // An empty breath has nothing to publish.
    if (total === 0 && sent === 0) return 0;
    // The inputs are released in flush(), with everything else the breath publishes.
    this.flush();
    return total;
  }

  /** The ports' offloads changed (generation `gen`): which take what, which get GRO. */
  private loadOffloads(gen: number): void {
    this.offloadsSeen = gen;
    const gro = this.gro;
    for (let p = 0; p < gro.length; p++) {
      // Pairs with the device's Atomics.store in DeviceIO.drain, made before its generation bump.
      const takes = Atomics.load(this.offloads, p);
      this.portTakes[p] = takes;
      if (gro[p] !== null) this.groOn[p] = (takes & OFFLOAD_TSO) !== 0 ? 1 : 0;
    }
  }

  /**
   * Runs the program on peeked entries [from, to) of `ring` and routes each; returns their
   * bytes as they arrived (rx_bytes). One call per ring per breath: what every packet needs
   * from `this` is read once into locals here, not once per packet.
   */
  private runBatch(ring: Ring, from: number, to: number, c: Int32Array): number {
    const w = ring.words;
    const ctx = this.ctx;
    const program = this.program;
    const frameSize = this.frameSize;
    // A super-frame (a chain that takes frags) may end anywhere in its slots.
    const smallSlots = this.smallSlots;
    const superBytes = this.superBytes;
    const tapEntry = this.tapEntry;
    const tap = this.tap;
    const ctl = this.ctl;
    const pos = this.ctlBase + CTL_POS;
    // ring.entryOf(k), with the ring's fields read once: the program call between two
    // packets keeps the compiler from hoisting those loads itself.
    const first = ring.base;
    const at = ring.consumerIndex;
    const mask = ring.mask;
    const width = ring.width;
    let bytes = 0;
    // The loop starts one pass early with an empty pass: where V8 has compiled this loop
    // alone (on-stack replacement, §3 "code V8 leaves unoptimized"), it enters that code at
    // the first back edge, so no packet's hash is boxed by the unoptimized pass before it.
    for (let k = from - 1; k < to; k++) {
      if (k < from) continue;
      // A plain store: the watchdog reads which packet is in hand only after it saw no progress.
      ctl[pos] = k;
      const o = first + (((at + k) & mask) * width);
      // What the engine routes by comes from the descriptor, never back from the context: a
      // program can write any field of ctx, and must not be able to name another frame, port or hash.
      const frame = w[o + Desc.FRAME];
      const offLen = w[o + Desc.OFFLEN];
      const meta = w[o + Desc.META];
      const hash = w[o + Desc.HASH];
      const port = meta & 0xff;
      const off = offLen & 0xffff;
      const len = offLen >>> 16;
      const metaLen = (meta >>> 8) & 0xff;
      bytes += len;
      // A super-frame reaches a chain that does not take frags only across a reload or a
      // cpumap hop from a queue whose chain does: cut here, each segment run as a packet.
      if ((meta & DescFlag.VNET) !== 0 && frame >= smallSlots && !this.frags && this.cutForChain(frame, off, len, meta, hash, c)) continue;
      this.inFlags = meta & DescFlag.VNET;
      ctx.point(frame);
      ctx.data = off;
      ctx.dataEnd = off + len;
      ctx.dataMeta = off - metaLen;
      ctx.ingressIfindex = port + 1;
      ctx.hash = hash;
      ctx.redirectKind = 0;
      if (tapEntry !== null) tapEntry.observe(ctx, TAP_ENTRY);
      let v: number;
      try {
        v = program(ctx);
        // Anything but an integer is not a verdict (xdp_invalid below); -1 keeps the tap's
        // arithmetic on numbers. Integers outside 0…4 stay as they are: the capture shows them.
        if (typeof v !== 'number' || (v | 0) !== v) v = -1;
      } catch (e) {
        v = Verdict.ABORTED;
        this.errorCount++;
        if (this.lastError === null) this.lastError = e instanceof Error ? e.message : String(e);
      }
      // The bounds as the program left them must describe a packet inside this frame: every
      // descriptor written from them, every copy and the tap rely on it. A handful of integer
      // compares, no allocation. Otherwise ABORTED (as a program that threw), and the bounds are
      // put back as the packet arrived so the tap reads inside the frame.
      const d = ctx.data;
      const e = ctx.dataEnd;
      const m = ctx.dataMeta;
      // Bounds the program left as they came are the descriptor's, checked at submit: three
      // compares instead of the whole check, for the programs that do not move them.
      if (
        (d !== off || e !== off + len || m !== off - metaLen) &&
        (typeof d !== 'number' || typeof e !== 'number' || typeof m !== 'number' ||
          (d | 0) !== d || (e | 0) !== e || (m | 0) !== m ||
          m < 0 || m > d || d - m > Bound.META_MAX || e - d < Bound.ETH_HLEN || e > (frame < smallSlots ? frameSize : superBytes))
      ) {
        ctx.data = off;
        ctx.dataEnd = off + len;
        ctx.dataMeta = off - metaLen;
        v = Verdict.ABORTED;
        this.errorCount++;
        if (this.lastError === null) this.lastError = BOUNDS_ERROR;
      }
      if (tap !== null) {
        // The tap reads these too: it sees the packet's own ingress port (armed taps only;
        // ctx.frame and ctx.packet are always the frame's own, see XdpContext.point).
        ctx.ingressIfindex = port + 1;
        tap.observe(ctx, v);
      }
      this.route(v, ctx, frame, port, hash, c);
    }
    return bytes;
  }

  /**
   * Where a verdict sends the packet. Kept small (each case's work in a method of its own)
   * so that V8 inlines it into runBatch: called, it cost a dropped packet a tenth of its time
   * (seven arguments pushed per packet).
   */
  private route(v: number, ctx: XdpContext, frame: number, port: number, hash: number, c: Int32Array): void {
    switch (v) {
      case Verdict.DROP:
        c[Q.xdp_drop]++;
        this.free(frame);
        return;
      case Verdict.ABORTED:
        c[Q.xdp_aborted]++;
        this.free(frame);
        return;
      case Verdict.TX:
        this.routeTx(ctx, frame, port, hash, c);
        return;
      case Verdict.REDIRECT:
        this.routeRedirect(ctx, frame, port, hash, c);
        return;
      case Verdict.PASS:
        this.routePass(ctx, frame, port, c);
        return;
      default:
        this.routeInvalid(frame, c);
    }
  }

  private routeTx(ctx: XdpContext, frame: number, port: number, hash: number, c: Int32Array): void {
    if (this.stageTx(port, frame, ctx.data, ctx.dataEnd - ctx.data, hash, this.inFlags)) c[Q.xdp_tx_xmit]++;
    else {
      c[Q.xdp_tx_full]++;
      this.free(frame);
    }
  }

  private routeRedirect(ctx: XdpContext, frame: number, port: number, hash: number, c: Int32Array): void {
    // The common target, a port whose queue side this worker writes (no GRO, no header
    // on the frame), straight to transmitWhole: stageTx's and redirect()'s other cases
    // (cpumap, xskmap, broadcast, GRO, tx rings) off the way, ≈ 10% of a redirect.
    const idx = ctx.redirectIndex;
    if (ctx.redirectKind === Redirect.PORT && isIndex(idx, this.ports)) {
      const side = this.txSides[idx];
      if (side !== null && side.direct && this.groOn[idx] === 0 && this.inFlags === 0) {
        if (this.transmitWhole(side, frame, ctx.data, ctx.dataEnd - ctx.data, 0)) c[Q.xdp_redirect]++;
        else {
          c[Q.xdp_tx_full]++;
          this.free(frame);
        }
        return;
      }
    }
    this.redirect(ctx, frame, port, hash, c);
  }

  private routePass(ctx: XdpContext, frame: number, port: number, c: Int32Array): void {
    c[Q.xdp_pass]++;
    if (this.passEndpoint !== null) this.deliverTo(this.passEndpoint, null, frame, ctx.data, ctx.dataEnd - ctx.data, port, this.inFlags);
    this.free(frame);
  }

  /** Linux drops an unknown action and warns (bpf_warn_invalid_xdp_action); so do we, through the same rate-limited report as errors. */
  private routeInvalid(frame: number, c: Int32Array): void {
    c[Q.xdp_invalid]++;
    this.errorCount++;
    if (this.lastError === null) this.lastError = INVALID_VERDICT;
    this.free(frame);
  }

  private redirect(ctx: XdpContext, frame: number, port: number, hash: number, c: Int32Array): void {
    const idx = ctx.redirectIndex;
    const len = ctx.dataEnd - ctx.data;
    switch (ctx.redirectKind) {
      case Redirect.PORT:
        if (!isIndex(idx, this.ports)) break;
        if (this.stageTx(idx, frame, ctx.data, len, hash, this.inFlags)) c[Q.xdp_redirect]++;
        else {
          c[Q.xdp_tx_full]++;
          this.free(frame);
        }
        return;
      case Redirect.CPU: {
        const ring = isIndex(idx, this.cpuOut.length) ? this.cpuOut[idx] : null;
        if (ring === null) break;
        const s = this.cpuStaged[idx];
        if (ring.reserve(s + 1) <= s) {
          c[Q.xdp_tx_full]++;
          this.free(frame);
          return;
        }
        this.writeDesc(ring, s, frame, ctx.data, len, hash, port, ctx.data - ctx.dataMeta, this.inFlags);
        this.cpuStaged[idx] = s + 1;
        c[Q.xdp_redirect]++;
        return;
      }
      case Redirect.XSK: {
        const ep = isIndex(idx, this.endpoints.length) ? this.endpoints[idx] : null;
        if (ep === null) break; // not bound to this queue: dropped, as Linux does
        if (this.deliverTo(ep, null, frame, ctx.data, len, port, this.inFlags)) c[Q.xdp_redirect]++;
        else c[Q.xdp_redirect_err]++;
        this.free(frame); // copy mode: the socket has its own copy
        return;
      }
      case Redirect.BROADCAST:
        this.broadcast(ctx, frame, hash, c);
        return;
    }
    c[Q.xdp_redirect_err]++;
    this.free(frame);
  }

  /**
   * Cuts a super-frame for a chain without frags into segments of this queue's pool (their
   * checksums left partial when it was NEEDS_CSUM, as the device cuts) and runs each through
   * the chain. Counted rx_gso_packets/rx_gso_segments; each segment is one of rx<q>_packets.
   * False when it carries no GSO (then it is an ordinary frame).
   */
  private cutForChain(frame: number, off: number, len: number, meta: number, hash: number, c: Int32Array): boolean {
    const h = this.came;
    const base = frame * this.frameSize;
    loadFrameVnet(h, this.area, base, off);
    if (h.gsoType === VIRTIO_NET_HDR_GSO_NONE) return false;
    const plan = this.cut;
    const n = plan.prepare(this.area, base + off, len, h.gsoType, h.gsoSize);
    if (this.pool.available() < n) this.pool.refill();
    if (n < 0 || this.pool.available() < n || plan.segmentLength(0) > this.frameSize - XDP_PACKET_HEADROOM) {
      // Malformed (the device checked it: not expected) or no frames to cut into: one packet
      // (runBatch's caller counted it), dropped.
      c[Q.xdp_aborted]++;
      this.errorCount++;
      if (this.lastError === null) this.lastError = n < 0 ? `super-frame for a chain without frags: ${gsoErrorText(n)}` : 'no free frames to cut a super-frame into for a chain without frags (xdp_aborted)';
      this.free(frame);
      return true;
    }
    c[Q.rx_gso_packets]++;
    c[Q.rx_gso_segments] += n;
    // The caller counted the super-frame as one packet: its segments are the packets.
    c[Q.packets] += n - 1;
    const partial = (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0;
    const sh = this.segHdr;
    sh.clear();
    sh.flags = partial ? VIRTIO_NET_HDR_F_NEEDS_CSUM : h.flags;
    sh.csumStart = plan.at.l4;
    sh.csumOffset = plan.csumOffset;
    const segMeta = (meta & ~DescFlag.VNET) | (sh.flags !== 0 ? DescFlag.VNET : 0);
    for (let i = 0; i < n; i++) {
      const seg = this.pool.alloc();
      const at = seg * this.frameSize;
      const sl = plan.write(i, this.area, at + XDP_PACKET_HEADROOM, partial);
      if (sh.flags !== 0) storeFrameVnet(sh, this.area, at, XDP_PACKET_HEADROOM);
      this.written[seg] = -1;
      this.runOne(seg, XDP_PACKET_HEADROOM, sl, segMeta, hash, c);
    }
    this.free(frame);
    return true;
  }

  /**
   * runBatch's work for one packet of this worker's own making (a segment cutForChain made).
   * A copy of runBatch's loop body on purpose: runBatch calling this per descriptor instead
   * measured 3–7% more CPU per packet on drop (`npm run bench -- engine`, best of two runs
   * each, 2-core VM), so the hot loop keeps its hoisted locals. Change both together.
   */
  private runOne(frame: number, off: number, len: number, meta: number, hash: number, c: Int32Array): void {
    const ctx = this.ctx;
    const port = meta & 0xff;
    this.inFlags = meta & DescFlag.VNET;
    ctx.point(frame);
    ctx.data = off;
    ctx.dataEnd = off + len;
    ctx.dataMeta = off;
    ctx.ingressIfindex = port + 1;
    ctx.hash = hash;
    ctx.redirectKind = 0;
    if (this.tapEntry !== null) this.tapEntry.observe(ctx, TAP_ENTRY);
    let v: number;
    try {
      v = this.program(ctx);
      if (typeof v !== 'number' || (v | 0) !== v) v = -1;
    } catch (e) {
      v = Verdict.ABORTED;
      this.errorCount++;
      if (this.lastError === null) this.lastError = e instanceof Error ? e.message : String(e);
    }
    // The same bounds check as runBatch's (a segment is an ordinary frame).
    const d = ctx.data;
    const e = ctx.dataEnd;
    const m = ctx.dataMeta;
    if (
      typeof d !== 'number' || typeof e !== 'number' || typeof m !== 'number' ||
      (d | 0) !== d || (e | 0) !== e || (m | 0) !== m ||
      m < 0 || m > d || d - m > Bound.META_MAX || e - d < Bound.ETH_HLEN || e > this.frameSize
    ) {
      ctx.data = off;
      ctx.dataEnd = off + len;
      ctx.dataMeta = off;
      v = Verdict.ABORTED;
      this.errorCount++;
      if (this.lastError === null) this.lastError = BOUNDS_ERROR;
    }
    if (this.tap !== null) {
      ctx.ingressIfindex = port + 1;
      this.tap.observe(ctx, v);
    }
    this.route(v, ctx, frame, port, hash, c);
  }

  /** Sends a copy to every flagged port; the original goes to the last one. */
  private broadcast(ctx: XdpContext, frame: number, hash: number, c: Int32Array): void {
    const flags = this.broadcastPorts;
    const len = ctx.dataEnd - ctx.data;
    let last = -1;
    for (let p = 0; p < this.ports; p++) if (flags[p] !== 0) last = p;
    if (last < 0) {
      c[Q.xdp_redirect_err]++;
      this.free(frame);
      return;
    }
    const src = this.area;
    const fs = this.frameSize;
    const from = frame * fs + ctx.data;
    for (let p = 0; p < last; p++) {
      if (flags[p] === 0) continue;
      // A super-frame (frags) is copied into a super-frame.
      const copy = frame < this.smallSlots ? this.pool.alloc() : this.pool.allocLarge();
      if (copy < 0) continue; // counted by the pool (alloc_empty)
      src.copyWithin(copy * fs + ctx.data, from, from + len);
      if (copy < this.smallSlots) this.written[copy] = -1;
      if (this.inFlags !== 0) src.copyWithin(copy * fs + VNET_AT, frame * fs + VNET_AT, frame * fs + VNET_AT + 10);
      if (!this.stageTx(p, copy, ctx.data, len, hash, this.inFlags)) this.free(copy);
    }
    if (this.stageTx(last, frame, ctx.data, len, hash, this.inFlags)) c[Q.xdp_redirect]++;
    else {
      c[Q.xdp_tx_full]++;
      this.free(frame);
    }
  }

  /** Endpoint transmit: copy into one of this queue's own frames and send it out of `port`. */
  private transmitCopy(src: Uint8Array, off: number, len: number, port: number): boolean {
    if (port < 0 || port >= this.ports || len < 0 || len > this.frameSize - XDP_PACKET_HEADROOM || off < 0 || off + len > src.length) return false;
    const f = this.pool.alloc();
    if (f < 0) return false;
    const dst = f * this.frameSize + XDP_PACKET_HEADROOM;
    // No Buffer.copy: on Node 20 it makes a view per call (see endpoints/copy.ts).
    this.copier.copy(this.area, dst, src, off, len);
    this.written[f] = -1;
    if (this.stageTx(port, f, XDP_PACKET_HEADROOM, len, 0, 0)) return true;
    this.free(f);
    return false;
  }

  /**
   * Puts a frame on `port`'s TX side: transmitted here when this worker drives the port's
   * queue side (then the frame goes home at once); else through the port's GRO table when
   * its device takes TSO; else staged on the port's tx ring.
   * True: the frame is gone (transmitted, merged, or owned by the ring). False: no room, or
   * the medium refused it; the caller still owns the frame and counts the verdict as an error.
   */
  private stageTx(port: number, frame: number, off: number, len: number, hash: number, flags: number): boolean {
    const side = this.txSides[port];
    if (side !== null && side.direct) {
      // A guest that takes TSO (its RX ring on this worker): GRO first; what leaves the table
      // is written into the ring by groDeliver, in this breath. A frame with a header the
      // guest does not take (UDP GSO, ECN without GUEST_ECN) skips GRO and is cut.
      if (this.groOn[port] !== 0 && (flags === 0 || this.takesVnet(port, frame * this.frameSize, off))) {
        return this.groReceive(port, frame, frame * this.frameSize, off, len, flags);
      }
      return this.transmitDirect(port, side, frame, off, len, flags);
    }
    if (this.groOn[port] !== 0) return this.groReceive(port, frame, frame * this.frameSize, off, len, flags);
    return this.stageRing(port, frame, off, len, hash, flags);
  }

  /** Writes a frame on the queue side of `port` (see stageTx); the frame goes home when taken. */
  private transmitDirect(port: number, side: QueuePortIO, frame: number, off: number, len: number, flags: number): boolean {
    if (flags === 0 || this.takesVnet(port, frame * this.frameSize, off)) return this.transmitWhole(side, frame, off, len, flags);
    // A frame whose header the medium does not take (a partial checksum, a GSO super-frame
    // from a chain that takes frags) is completed or cut here: the side gets whole packets.
    this.local[Q.tx_frames]++;
    const ok = this.deliverTo(null, side, frame, off, len, port, flags);
    // Each segment is a frame handed to the side (its tx_packets or tx_dropped).
    const n = this.cutSegments;
    if (n > 0) {
      this.local[Q.tx_frames] += n - 1;
      side.counters[P.tx_gso_packets]++;
      side.counters[P.tx_gso_segments] += n;
    }
    if (!ok) return false;
    this.free(frame);
    return true;
  }

  /**
   * A frame the side takes as it is (with its header, if `flags` says it has one), the frame
   * home once written. Small, so that V8 inlines the side's transmit with it into runBatch
   * on the redirect fast path.
   */
  private transmitWhole(side: QueuePortIO, frame: number, off: number, len: number, flags: number): boolean {
    this.local[Q.tx_frames]++;
    const base = frame * this.frameSize;
    if (!side.transmit(this.area, base + off, len, base, flags)) return false;
    this.free(frame);
    return true;
  }

  /** Into `port`'s GRO table (the frame is GRO's now: merged, held, or delivered). */
  private groReceive(port: number, frame: number, base: number, off: number, len: number, flags: number): boolean {
    const came = this.came;
    if (flags !== 0) loadFrameVnet(came, this.area, base, off);
    else came.clear();
    this.gro[port]!.receive(frame, base + off, len, came);
    return true;
  }

  /**
   * What leaves `port`'s GRO table: written into the guest's ring here when this worker
   * serves it (the frame goes home at once; a refusal is the side's tx_dropped), else onto
   * the port's tx ring for its device thread.
   */
  groDeliver(port: number, frame: number, off: number, len: number, hdr: VnetHdr | null): void {
    let flags = 0;
    if (hdr !== null) {
      storeFrameVnet(hdr, this.area, frame * this.frameSize, off);
      flags = DescFlag.VNET;
    }
    const side = this.txSides[port];
    if (side !== null && side.direct) {
      // Refused: the side counted it (tx_dropped); the frame is ours to send home.
      if (!this.transmitDirect(port, side, frame, off, len, flags)) this.free(frame);
      return;
    }
    if (!this.stageRing(port, frame, off, len, 0, flags)) {
      this.local[Q.rx_gro_tx_full]++;
      this.free(frame);
    }
  }

  /**
   * Whether GRO may hand `port` a super-frame of this gso_type as pieces: this worker
   * writes the port's medium itself (a guest's RX ring), whose side gathers, and the port
   * takes the header (else the super-frame is made, and cut where it must be).
   */
  groGathers(port: number, gsoType: number): boolean {
    const side = this.txSides[port];
    if (side === null || !side.direct || !side.gathers()) return false;
    const need = offloadsFor(gsoType, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    return (this.portTakes[port] & need) === need;
  }

  /** A super-frame GRO gathers into `port`'s medium (groGathers said yes); GRO frees the segments after. */
  groDeliverGather(port: number, pieces: Int32Array, first: number, n: number, total: number, hdr: VnetHdr): void {
    this.local[Q.tx_frames]++;
    this.local[Q.rx_gro_gathered]++;
    // Refused: the side counted it (tx_dropped).
    this.txSides[port]!.transmitGather(this.area, pieces, first, n, total, hdr);
  }

  /** Onto the port's tx ring (GRO's way out too). */
  private stageRing(port: number, frame: number, off: number, len: number, hash: number, flags: number): boolean {
    const ring = this.tx[port];
    const s = this.txStaged[port];
    if (ring.reserve(s + 1) <= s) return false;
    this.writeDesc(ring, s, frame, off, len, hash, port, 0, flags);
    this.txStaged[port] = s + 1;
    this.local[Q.tx_frames]++;
    return true;
  }

  private writeDesc(ring: Ring, k: number, frame: number, off: number, len: number, hash: number, port: number, metaLen: number, flags: number): void {
    const w = ring.words;
    const o = ring.slotOf(k);
    w[o + Desc.FRAME] = frame;
    w[o + Desc.OFFLEN] = packOffLen(off, len);
    w[o + Desc.HASH] = hash;
    w[o + Desc.META] = packMeta(port, metaLen, 0) | flags;
  }

  /**
   * Hands a packet to a socket endpoint or the local stack (`ep`, a copy) or to a port's
   * queue side (`side`, transmitted), which all take whole, checksummed, MTU-sized packets:
   * a partial checksum is completed in place, and a super-frame (which only a frags chain
   * lets through) is cut, each segment going from one scratch frame of this queue's pool,
   * as Linux segments a GSO skb before a socket or device that cannot take it. True when
   * every packet was taken.
   */
  private deliverTo(ep: QueueEndpoint | null, side: QueuePortIO | null, frame: number, off: number, len: number, port: number, flags: number): boolean {
    const base = frame * this.frameSize;
    this.cutSegments = 0;
    if (flags === 0) return this.hand(ep, side, base + off, len, port);
    const h = this.outHdr;
    loadFrameVnet(h, this.area, base, off);
    if (h.gsoType === VIRTIO_NET_HDR_GSO_NONE) {
      if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
        completeChecksum(this.area, base + off, len, h.csumStart, h.csumOffset);
        if (side !== null) side.counters[P.tx_csum_sw]++;
      }
      return this.hand(ep, side, base + off, len, port);
    }
    const plan = this.cut;
    const n = plan.prepare(this.area, base + off, len, h.gsoType, h.gsoSize);
    if (n < 0) return false;
    const seg = this.pool.alloc();
    if (seg < 0) return false;
    this.cutSegments = n;
    const at = seg * this.frameSize + XDP_PACKET_HEADROOM;
    let taken = 0;
    for (let i = 0; i < n; i++) {
      if (plan.segmentLength(i) > this.frameSize - XDP_PACKET_HEADROOM) break;
      const sl = plan.write(i, this.area, at, false);
      if (this.hand(ep, side, at, sl, port)) taken++;
    }
    this.written[seg] = -1;
    this.free(seg);
    return taken === n;
  }

  /**
   * Whether `port` takes the frame at base + off with its header as it is (its published
   * offloads, this breath), as Linux's validate_xmit_skb asks of a device's features.
   */
  private takesVnet(port: number, base: number, off: number): boolean {
    const h = this.outHdr;
    loadFrameVnet(h, this.area, base, off);
    const need = offloadsFor(h.gsoType, h.flags);
    return need >= 0 && (this.portTakes[port] & need) === need;
  }

  private hand(ep: QueueEndpoint | null, side: QueuePortIO | null, at: number, len: number, port: number): boolean {
    // flags 0: the packet is whole and checksummed (a queue side loads no header).
    return ep !== null ? ep.deliver(this.area, at, len, port) : side!.transmit(this.area, at, len, 0, 0);
  }

  /** A free super-frame of this queue's pool, or -1. */
  allocSuper(): number {
    return this.pool.allocLarge();
  }

  /** Returns a frame (a segment GRO merged, a super-frame that found no room) to its pool. */
  release(frame: number): void {
    this.free(frame);
  }

  get frameBytes(): number {
    return this.frameSize;
  }

  get areaBytes(): Uint8Array {
    return this.area;
  }

  /** Returns a frame to the pool it belongs to. */
  private free(frame: number): void {
    // Run to completion: most frames are this queue's own (one unsigned compare, no division).
    if ((frame - this.poolFirst) >>> 0 < this.poolCount) this.pool.freeOwn(frame);
    else this.freeForeign(frame);
  }

  /** A frame of another queue's pool (or a super-frame): home through that pool's recycle ring. */
  private freeForeign(frame: number): void {
    const owner = frame < this.smallSlots ? (frame / this.poolFrames) | 0 : ((frame - this.smallSlots) / this.superStride) | 0;
    const r = this.recycle[owner];
    if (r === null) this.pool.free(frame);
    else r.put(frame);
  }

  /** Publishes everything staged this breath: one submit per ring, counters once. */
  private flush(): void {
    const gro = this.gro;
    for (let p = 0; p < gro.length; p++) {
      const g = gro[p];
      if (g === null) continue;
      g.flush();
      if (g.merged + g.superFrames + g.csumBad + g.noBuffer !== 0) {
        const c = this.local;
        c[Q.rx_gro_merged] += g.merged;
        c[Q.rx_gro_packets] += g.superFrames;
        c[Q.rx_gro_csum_bad] += g.csumBad;
        c[Q.rx_gro_no_buffer] += g.noBuffer;
        g.merged = g.superFrames = g.csumBad = g.noBuffer = 0;
      }
    }
    // Frames freed back into our own pool are only ours until we take them again.
    if (this.pool.available() === 0) this.pool.refill();
    // Everything this breath publishes, staged first and committed with one store: a worker
    // ended anywhere below leaves a successor that stores it all again (breath-journal.ts).
    const j = this.journal;
    const inputs = this.inputs;
    const peeked = this.peeked;
    for (let i = 0; i < inputs.length; i++) {
      if (peeked[i] !== 0) j.word(this.inputIds[i], inputs[i].consumerAfter(peeked[i]));
    }
    for (let p = 0; p < this.tx.length; p++) {
      if (this.txStaged[p] !== 0) j.word(this.txIds[p], this.tx[p].producerAfter(this.txStaged[p]));
    }
    for (let r = 0; r < this.cpuOut.length; r++) {
      if (this.cpuStaged[r] !== 0) j.word(this.cpuIds[r], this.cpuOut[r]!.producerAfter(this.cpuStaged[r]));
    }
    for (let o = 0; o < this.recycle.length; o++) {
      const r = this.recycle[o];
      if (r !== null && r.pending !== 0) j.word(this.recycleIds[o], r.shared.producerAfter(r.pending));
    }
    j.word(this.depthIds[0], this.pool.available());
    j.word(this.depthIds[1], this.pool.largeAvailable());
    // Integers only here (each sum is made by j.add): V8 may leave this function unoptimized
    // up to the loop it compiled alone (on-stack replacement), where a double is boxed.
    const shared = this.counters.values;
    const local = this.local;
    for (let i = 0; i < local.length; i++) {
      if (local[i] !== 0 && i !== Q.bytes && i !== Q.breaths) j.add(i, shared, local[i]);
      local[i] = 0;
    }
    j.add(Q.bytes, shared, this.breathBytes);
    j.add(Q.breaths, shared, 1);
    this.breathBytes = 0;
    j.commit();
    // Release first, publish after (the order a successor without the journal relied on).
    for (let i = 0; i < inputs.length; i++) {
      if (peeked[i] !== 0) {
        inputs[i].release(peeked[i]);
        peeked[i] = 0;
      }
    }
    for (let p = 0; p < this.tx.length; p++) {
      if (this.txStaged[p] !== 0) {
        this.tx[p].submit(this.txStaged[p]);
        this.txStaged[p] = 0;
      }
    }
    for (let r = 0; r < this.cpuOut.length; r++) {
      if (this.cpuStaged[r] !== 0) {
        this.cpuOut[r]!.submit(this.cpuStaged[r]);
        this.cpuStaged[r] = 0;
      }
    }
    for (let o = 0; o < this.recycle.length; o++) {
      const r = this.recycle[o];
      if (r !== null) r.flush();
    }
    this.pool.publish();
    // Bracketed: a reader sees this breath's packets and its exits together, or neither.
    this.counters.beginWrite();
    for (let k = 0, m = j.counterEntries(); k < m; k++) j.store(k, shared);
    this.counters.endWrite();
    const eps = this.endpoints;
    for (let e = 0; e < eps.length; e++) {
      const ep = eps[e];
      if (ep !== null) ep.flush();
    }
    if (this.passEndpoint !== null) this.passEndpoint.flush();
    const sides = this.txSides;
    for (let p = 0; p < sides.length; p++) {
      const io = sides[p];
      if (io !== null) io.flushTx();
    }
    j.done();
  }

  /** Adds to a counter outside a breath (sleeps, restarts). */
  bump(index: number, n = 1): void {
    this.counters.values[index] += n;
  }

  /** Sets NEEDS_WAKEUP on every input and reports whether all are still empty (then sleeping is safe). */
  /** The worker is about to sleep: each side's off-path upkeep (QueuePort.idle). */
  idle(): void {
    for (const io of this.sides) io.side?.idle?.();
  }

  prepareSleep(): boolean {
    let empty = true;
    for (const ring of this.inputs) {
      ring.setNeedsWakeup();
      if (ring.peek(1) !== 0) empty = false;
    }
    for (const ep of this.endpoints) if (ep !== null && ep.prepareSleep !== undefined && !ep.prepareSleep()) empty = false;
    const pass = this.passEndpoint;
    if (pass !== null && pass.prepareSleep !== undefined && !pass.prepareSleep()) empty = false;
    return empty;
  }

  /**
   * Whether every bound endpoint's application rings this worker's doorbell itself (then the
   * worker may sleep until rung); an endpoint whose application does not must be looked at
   * again soon. Called before sleeping, off the hot path.
   */
  endpointsWakeMe(): boolean {
    for (const ep of this.endpoints) if (ep !== null && ep.wakesWorker?.() !== true) return false;
    const pass = this.passEndpoint;
    return pass === null || pass.wakesWorker?.() === true;
  }

  endSleep(): void {
    for (const ring of this.inputs) ring.clearNeedsWakeup();
    for (const ep of this.endpoints) if (ep !== null && ep.endSleep !== undefined) ep.endSleep();
    if (this.passEndpoint !== null && this.passEndpoint.endSleep !== undefined) this.passEndpoint.endSleep();
  }

  /** Packets waiting in this queue's input rings (for the watchdog and draining). */
  pending(): number {
    let n = 0;
    for (const ring of this.inputs) n += ring.count();
    return n;
  }

  /**
   * Recovery after the watchdog ended a worker stuck on a packet: the packets before it in
   * that batch were never published (nothing is, until the breath's flush), so they are
   * processed again normally; the packet it hung on is dropped and counted aborted.
   * Returns false when the recorded position no longer names a queued packet.
   */
  recoverFromHang(input: number, pos: number): boolean {
    const ring = this.inputs[input];
    if (ring === undefined || ring.peek(pos + 1) !== pos + 1) return false;
    const w = ring.words;
    const c = this.local;
    this.breathBytes += this.runBatch(ring, 0, pos, c);
    c[Q.packets] += pos + 1;
    c[Q.xdp_aborted]++;
    this.free(w[ring.entryOf(pos) + Desc.FRAME]);
    this.peeked.fill(0);
    this.peeked[input] = pos + 1;
    this.flush();
    return true;
  }
}

/**
 * GRO's view of a queue engine for one egress port: super-frames from the queue's own pool;
 * what leaves goes into the guest's RX ring when this worker serves it, else onto that
 * port's tx ring with its header (DescFlag.VNET) in the frame (QueueEngine.groDeliver).
 */
class EngineGroHost implements GroHost {
  readonly bytes: Uint8Array;
  readonly superFrameBytes = SUPER_FRAME_MAX;
  private readonly fs: number;

  constructor(
    private readonly engine: QueueEngine,
    private readonly port: number,
  ) {
    this.bytes = engine.areaBytes;
    this.fs = engine.frameBytes;
  }

  allocSuper(): number {
    return this.engine.allocSuper();
  }

  superOffset(handle: number): number {
    return handle * this.fs + SUPER_FRAME_HEADROOM;
  }

  deliver(handle: number, at: number, len: number, hdr: VnetHdr): void {
    const off = at - handle * this.fs;
    this.engine.groDeliver(this.port, handle, off, len, hdr.flags !== 0 || hdr.gsoType !== VIRTIO_NET_HDR_GSO_NONE ? hdr : null);
  }

  release(handle: number): void {
    this.engine.release(handle);
  }

  gathers(gsoType: number): boolean {
    return this.engine.groGathers(this.port, gsoType);
  }

  deliverGather(pieces: Int32Array, first: number, n: number, total: number, hdr: VnetHdr): void {
    this.engine.groDeliverGather(this.port, pieces, first, n, total, hdr);
  }
}
