/**
 * A guest's virtio-net driver (what Linux drivers/net/virtio_net.c does, reduced): bring
 * the device up through the transport, lay out queue pairs in guest memory, post receive
 * buffers, transmit, reclaim, and sleep on interrupts.
 *
 * Buffers are tied to descriptor heads: the buffer of head h in queue q lives at
 * base[q] + h × bufferBytes, so the driver needs no map from head to buffer and a
 * reposted buffer costs one descriptor write. Runs in the VM's own thread (it blocks in
 * Atomics.wait); one thread per VM. Nothing on the data path allocates.
 */
import { GuestMemory } from '../queues/virtqueue-memory.js';
import { SplitDriverQueue } from '../queues/virtqueue-driver.js';
import { PackedDriverQueue, packedLayout, packedLayoutBytes } from '../queues/virtqueue-packed.js';
import {
  NET_HDR_BYTES,
  NET_HDR_NUM_BUFFERS,
  STATUS_ACKNOWLEDGE,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  VIRTQ_DESC_F_NEXT,
  contiguousLayout,
  featureWords,
  hasFeature,
  splitLayoutBytes,
} from '../queues/virtqueue.js';
import * as T from '../queues/virtio-transport.js';
import { GuestAllocator } from './allocator.js';
import { VnetHdr, writeVnetHdr } from '../lib/net/vnet-hdr.js';
import { ByteCopier } from '../queues/copy.js';

export interface DriverOptions {
  /** Queue pairs wanted (MQ); the device may offer fewer. */
  pairs?: number;
  queueSize?: number;
  /** Bytes per receive buffer (≥ 1526 unless MRG_RXBUF is negotiated). */
  rxBufferBytes?: number;
  /** Feature bits not to negotiate even when offered. */
  refuse?: readonly number[];
  /** Transmit through one indirect table per packet (header + data) when negotiated. */
  indirectTx?: boolean;
  /** Ask for the packed virtqueue (RING_PACKED) instead of split rings. */
  packed?: boolean;
  /** Milliseconds to wait for the device to attach / answer a status write. */
  timeoutMs?: number;
  /**
   * Negotiate the offloads (CSUM, HOST_TSO4/6, HOST_ECN, GUEST_CSUM, GUEST_TSO4/6,
   * GUEST_ECN) when offered: the guest may then send super-frames (sendOffload) and receive
   * them, their virtio_net_hdr at bytes[offset − NET_HDR_BYTES] of each received frame.
   * Receiving 64 KB frames: with MRG_RXBUF they span several buffers (copied into one
   * before the program sees them); without it (refused) each receive buffer is
   * BIG_RX_BYTES unless rxBufferBytes says otherwise (Linux's big packets), and the program
   * reads the frame where the device wrote it. Sending them needs txBufferBytes ≥ 65548.
   */
  offloads?: boolean;
  /** Bytes per transmit buffer, header included (default 2048). */
  txBufferBytes?: number;
  /**
   * RX interrupt coalescing (ethtool -C rx-frames): while frames are streaming, ask the
   * device (EVENT_IDX used_event) to interrupt only after this many more (default 0: at
   * the next frame). Needs EVENT_IDX; ignored without it.
   */
  rxCoalesceFrames?: number;
  /** With rxCoalesceFrames: the longest a streaming guest sleeps before it looks anyway (default 50 µs). */
  rxCoalesceUsecs?: number;
  /**
   * Empty polls of every ring before the guest sleeps (net.core.busy_poll): frames that come
   * meanwhile cost no interrupt and no wake-up. Default 256.
   */
  busyPollSpins?: number;
  /**
   * Halt polling (KVM's halt_poll_ns): the longest the guest keeps watching its interrupt
   * word before it really sleeps, in µs (default 200, KVM's default; 0: never). The window
   * adapts as KVM's does: it grows (from 10 µs, doubling) while sleeps end sooner than
   * this, and halves after a sleep longer than it. Why: waking a sleeping thread costs the
   * waker a futex wake (on a VM, an IPI to a halted vCPU: ≈ 19 µs measured on the dev VM,
   * against 0.08 µs when nobody sleeps), so a device that interrupts a guest which went to
   * sleep a moment ago pays more for the interrupt than for the frames.
   */
  haltPollUs?: number;
  /** A second word to ring on a kick: the device thread's own doorbell, when its port gave one. */
  deviceBell?: { sab: SharedArrayBuffer; index: number } | null;
  /**
   * Per pair p, a word to ring on a kick of its TX queue too: the switch queue worker that
   * may poll that ring itself (run to completion), so the kick wakes it without a hop.
   */
  queueBells?: { sab: SharedArrayBuffer; index: number }[];
}

/** Frames one receive() pass takes before it publishes and looks again (NAPI_POLL_WEIGHT). */
export const RX_BUDGET = 64;
/** KVM's halt_poll_ns default (x86), in µs. */
export const HALT_POLL_US = 200;
/** KVM's halt_poll_ns_grow_start: the first window after none. */
const HALT_POLL_START_NS = 10_000;
/** A receive buffer that holds the largest super-frame behind its header (65535 + 12, 16-aligned). */
export const BIG_RX_BYTES = 65552;
/** Reposted RX buffers published together (Linux refills after each poll; we also do mid-poll). */
const REFILL_BATCH = 32;

const WANTED = [
  VIRTIO_F_VERSION_1,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_MQ,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
];
const OFFLOADS = [
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_ECN,
];

export class VirtioNetDriver {
  readonly t: Int32Array;
  featLo = 0;
  featHi = 0;
  pairs = 0;
  mac = '';
  readonly rx: (SplitDriverQueue | PackedDriverQueue)[] = [];
  readonly tx: (SplitDriverQueue | PackedDriverQueue)[] = [];
  private rxBase: number[] = [];
  private txBase: number[] = [];
  private txTable: number[] = [];
  private rxBytes = 0;
  private txBytes = 2048;
  private mrg = false;
  private indirectTx = false;
  private readonly held: number[][] = [];
  private rxPaused = false;
  private txDirty: Uint8Array = new Uint8Array(0);
  /** Pair p's TX ring was found full since the last wait(): then its completions must wake us. */
  private txFull: Uint8Array = new Uint8Array(0);
  private readonly scratch = new Uint8Array(65536 + NET_HDR_BYTES);
  /** The current halt-poll window in ns (see DriverOptions.haltPollUs). */
  private haltPollNs = 0;
  /** KVM's vCPU stats of the same names: waits that polled, polls that were interrupted, sleeps. */
  haltAttemptedPoll = 0;
  haltSuccessfulPoll = 0;
  haltWakeup = 0;
  /** Guest memory → scratch (merged RX frames), and a program's buffer → guest memory (TX). */
  private readonly rxCopier = new ByteCopier();
  private readonly txCopier = new ByteCopier();
  private alloc: GuestAllocator;
  private readonly bellWords: Int32Array | null;
  private readonly bellIndex: number;
  private readonly txBells: Int32Array[];
  private readonly txBellIndex: number[];

  constructor(
    readonly mem: GuestMemory,
    transport: SharedArrayBuffer,
    readonly opts: DriverOptions = {},
  ) {
    this.t = new Int32Array(transport);
    this.alloc = new GuestAllocator(mem.size);
    this.bellWords = opts.deviceBell ? new Int32Array(opts.deviceBell.sab) : null;
    this.bellIndex = opts.deviceBell?.index ?? 0;
    this.txBells = (opts.queueBells ?? []).map((b) => new Int32Array(b.sab));
    this.txBellIndex = (opts.queueBells ?? []).map((b) => b.index);
  }

  // ── bring-up (virtio 1.x §3.1.1) ────────────────────────────────────────────

  /** Waits for a device, negotiates, lays out queues, posts RX buffers, sets DRIVER_OK. */
  init(): void {
    const t = this.t;
    const timeout = this.opts.timeoutMs ?? 10_000;
    // Pairs with the device's Atomics.store/notify of kAttached in attach().
    const deadline = Date.now() + timeout;
    while (Atomics.load(t, T.kAttached) !== 1) {
      if (Date.now() > deadline) throw new Error('no virtio device attached to this VM');
      // Pairs with Atomics.notify(kAttached) in the device's attach(); the timeout re-checks the deadline.
      Atomics.wait(t, T.kAttached, 0, 50);
    }
    this.alloc = new GuestAllocator(this.mem.size);
    this.rx.length = 0;
    this.tx.length = 0;
    this.writeStatus(0);
    this.writeStatus(STATUS_ACKNOWLEDGE);
    this.writeStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    const devLo = t[T.kDeviceFeaturesLo] >>> 0;
    const devHi = t[T.kDeviceFeaturesHi] >>> 0;
    const wanted = [...WANTED, ...(this.opts.packed ? [VIRTIO_F_RING_PACKED] : []), ...(this.opts.offloads ? OFFLOADS : [])];
    const [wLo, wHi] = featureWords(wanted.filter((b) => !(this.opts.refuse ?? []).includes(b)));
    this.featLo = (devLo & wLo) >>> 0;
    this.featHi = (devHi & wHi) >>> 0;
    t[T.kDriverFeaturesLo] = this.featLo | 0;
    t[T.kDriverFeaturesHi] = this.featHi | 0;
    this.writeStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    // kStatus was stored before kAckSeq, which writeStatus() saw (pairs with serviceStatus()).
    if ((Atomics.load(t, T.kStatus) & STATUS_FEATURES_OK) === 0) throw new Error('device refused our features');

    const has = (bit: number) => hasFeature(this.featLo, this.featHi, bit);
    this.mrg = has(VIRTIO_NET_F_MRG_RXBUF);
    this.indirectTx = (this.opts.indirectTx ?? false) && has(VIRTIO_RING_F_INDIRECT_DESC);
    this.pairs = has(VIRTIO_NET_F_MQ) ? Math.max(1, Math.min(this.opts.pairs ?? 1, t[T.kMaxPairs])) : 1;
    this.mac = has(VIRTIO_NET_F_MAC) ? T.wordsToMac(t[T.kMacLo] >>> 0, t[T.kMacHi]) : '02:00:00:00:00:01';
    t[T.kPairs] = this.pairs;
    // Linux's big_packets: a guest that takes TSO but not MRG_RXBUF posts buffers that hold
    // a whole 64 KB super-frame (Linux chains pages; here one buffer), so the device writes
    // each super-frame into one buffer and the guest reads it in place, without merging.
    const big = !this.mrg && (has(VIRTIO_NET_F_GUEST_TSO4) || has(VIRTIO_NET_F_GUEST_TSO6));
    this.rxBytes = this.opts.rxBufferBytes ?? (big ? BIG_RX_BYTES : 2048);
    this.txBytes = this.opts.txBufferBytes ?? 2048;
    if (!this.mrg && this.rxBytes < 1526) throw new Error(`receive buffers of ${this.rxBytes} bytes need MRG_RXBUF`);
    const eventIdx = has(VIRTIO_RING_F_EVENT_IDX);
    const packed = has(VIRTIO_F_RING_PACKED);
    this.rxBase = [];
    this.txBase = [];
    this.txTable = [];
    for (let q = 0; q < 2 * this.pairs; q++) {
      const maxSize = t[T.queueWord(q, T.QMAXSIZE)];
      const size = Math.min(this.opts.queueSize ?? 256, maxSize);
      const layout = packed ? packedLayout(this.alloc.take(packedLayoutBytes(size), 16), size) : contiguousLayout(this.alloc.take(splitLayoutBytes(size), 16), size);
      const dq = packed ? new PackedDriverQueue(this.mem, layout, eventIdx) : new SplitDriverQueue(this.mem, layout, eventIdx);
      t[T.queueWord(q, T.QSIZE)] = size;
      t[T.queueWord(q, T.QDESC)] = layout.desc;
      t[T.queueWord(q, T.QDRIVER)] = layout.avail;
      t[T.queueWord(q, T.QDEVICE)] = layout.used;
      t[T.queueWord(q, T.QREADY)] = 1;
      if (q % 2 === 0) {
        this.rx.push(dq);
        this.rxBase.push(this.alloc.take(size * this.rxBytes, 16));
      } else {
        this.tx.push(dq);
        this.txBase.push(this.alloc.take(size * this.txBytes, 16));
        this.txTable.push(this.alloc.take(size * 32, 16));
      }
    }
    this.held.length = 0;
    for (let p = 0; p < this.pairs; p++) this.held.push([]);
    this.txDirty = new Uint8Array(this.pairs);
    this.txFull = new Uint8Array(this.pairs);
    this.writeStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    if ((Atomics.load(t, T.kStatus) & STATUS_DRIVER_OK) === 0) throw new Error('device did not accept DRIVER_OK');
    for (let p = 0; p < this.pairs; p++) {
      const q = this.rx[p];
      while (q.freeCount > 0) this.postRx(p);
      if (q.publish()) this.kick(2 * p);
    }
  }

  /**
   * `bytes` of guest memory for the program's own use (an application's buffers live in
   * guest RAM too), at an address aligned to `align`; valid until the next reset, after
   * which the program asks again (GuestProgram.start runs again).
   */
  reserve(bytes: number, align = 16): number {
    return this.alloc.take(bytes, align);
  }

  /** The device status as the device last published it. */
  deviceStatus(): number {
    // Pairs with the device's Atomics.store(kStatus) in serviceStatus() and needsReset().
    return Atomics.load(this.t, T.kStatus);
  }

  needsReset(): boolean {
    return (this.deviceStatus() & STATUS_DEVICE_NEEDS_RESET) !== 0;
  }

  /** Resets the device and brings it up again (what a driver does after NEEDS_RESET). */
  reset(): void {
    this.init();
  }

  /** Writes the status register and waits until the device applied it. */
  writeStatus(value: number): void {
    const t = this.t;
    t[T.kStatusReq] = value;
    // Pairs with the device's Atomics.load(kReqSeq) in poll(): our kStatusReq store is seen first.
    const seq = (Atomics.add(t, T.kReqSeq, 1) + 1) | 0;
    this.ringDevice();
    const deadline = Date.now() + (this.opts.timeoutMs ?? 10_000);
    for (;;) {
      // Pairs with the device's Atomics.store/notify of kAckSeq in serviceStatus().
      const ack = Atomics.load(t, T.kAckSeq);
      if (ack === seq) return;
      if (Atomics.load(t, T.kAttached) !== 1 || Date.now() > deadline) throw new Error(`device did not answer status write 0x${value.toString(16)}`);
      Atomics.wait(t, T.kAckSeq, ack, 20);
    }
  }

  // ── receive ─────────────────────────────────────────────────────────────────

  /**
   * Hands every frame waiting on pair p's RX queue to `onFrame` (bytes valid only during
   * the call), reposts the buffers, and kicks if the device asks. Returns frames handled.
   */
  receive(p: number, onFrame: (bytes: Uint8Array, offset: number, length: number, pair: number) => void): number {
    let frames = 0;
    for (;;) {
      const n = this.poll(p, RX_BUDGET, onFrame);
      frames += n;
      if (n < RX_BUDGET) return frames;
    }
  }

  /**
   * One NAPI poll of pair p's RX queue (Linux virtnet_poll): at most `budget` frames to
   * `onFrame` (bytes valid only during the call), each buffer put back on the avail ring
   * as soon as its frame is read, and the ring published (kicking where the device asks)
   * every REFILL_BATCH buffers and at the end — so the device finds buffers while the
   * driver is still polling, not only after it. Returns frames handled: fewer than
   * `budget` means the ring was drained.
   */
  poll(p: number, budget: number, onFrame: (bytes: Uint8Array, offset: number, length: number, pair: number) => void): number {
    const q = this.rx[p];
    const bytes = this.mem.bytes;
    let frames = 0;
    let unpublished = 0;
    while (frames < budget && q.getUsed()) {
      const addr = this.rxBase[p] + q.usedId * this.rxBytes;
      const len = q.usedLen;
      const nb = this.mrg ? this.mem.view.getUint16(addr + NET_HDR_NUM_BUFFERS, true) : 1;
      if (nb <= 1) {
        if (len >= NET_HDR_BYTES) onFrame(bytes, addr + NET_HDR_BYTES, Math.min(len, this.rxBytes) - NET_HDR_BYTES, p);
        // Reposted after the program read it: the device may write it again at once.
        this.recycleRx(p, q.usedId);
        unpublished++;
      } else {
        // A merged frame: the first buffer then nb − 1 more used entries, in order.
        const sc = this.scratch;
        let at = Math.min(len, this.rxBytes);
        this.rxCopier.copy(sc, 0, bytes, addr, at);
        this.recycleRx(p, q.usedId);
        for (let k = 1; k < nb && q.getUsed(); k++) {
          const a = this.rxBase[p] + q.usedId * this.rxBytes;
          const l = Math.min(q.usedLen, this.rxBytes, sc.length - at);
          this.rxCopier.copy(sc, at, bytes, a, l);
          at += l;
          this.recycleRx(p, q.usedId);
        }
        unpublished += nb;
        onFrame(this.scratch, NET_HDR_BYTES, at - NET_HDR_BYTES, p);
      }
      frames++;
      if (unpublished >= REFILL_BATCH) {
        unpublished = 0;
        if (q.publish()) this.kick(2 * p);
      }
    }
    if (q.publish()) this.kick(2 * p);
    return frames;
  }

  /** Stop reposting receive buffers (the device runs out and drops); resume posts them all. */
  pauseRx(paused: boolean): void {
    this.rxPaused = paused;
    if (paused) return;
    for (let p = 0; p < this.pairs; p++) {
      const h = this.held[p];
      while (h.length > 0) {
        h.pop();
        this.postRx(p);
      }
      if (this.rx[p].publish()) this.kick(2 * p);
    }
  }

  // ── transmit ────────────────────────────────────────────────────────────────

  /**
   * Queues one frame on pair p (copied into a TX buffer behind a zeroed header). Returns
   * false when the TX ring is full after reclaiming. Published by flushTx().
   */
  send(p: number, src: Uint8Array, offset: number, length: number): boolean {
    return this.sendOffload(p, src, offset, length, null);
  }

  /**
   * send() with a virtio_net_hdr (a TSO super-frame: gso_type, gso_size, hdr_len, and the
   * NEEDS_CSUM partial checksum; see lib/net/vnet-hdr.ts), as negotiated with `offloads`.
   */
  sendOffload(p: number, src: Uint8Array, offset: number, length: number, hdr: VnetHdr | null): boolean {
    if (length > this.txBytes - NET_HDR_BYTES) return false;
    const at = this.txSlot(p);
    if (at < 0) return false;
    this.txCopier.copy(this.mem.bytes, at, src, offset, length);
    return this.sendSlot(p, length, hdr);
  }

  /**
   * Where the next frame of pair p may be built in place, in mem.bytes (up to txRoom bytes),
   * or -1 when the TX ring is full after reclaiming: the program writes its frame straight
   * into the TX buffer and sendSlot() queues it, as Linux's virtio_net transmits the skb
   * itself (the one copy is the application's, into the buffer), not a copy of it.
   */
  txSlot(p: number): number {
    const q = this.tx[p];
    if (q.freeCount === 0) this.reclaimTx(p);
    if (q.freeCount === 0) {
      this.txFull[p] = 1;
      return -1;
    }
    return this.txBase[p] + q.nextHead * this.txBytes + NET_HDR_BYTES;
  }

  /** Bytes a frame built at txSlot() may take. */
  get txRoom(): number {
    return this.txBytes - NET_HDR_BYTES;
  }

  /** Queues the frame of `length` bytes built at txSlot(p) (called right after it), with its header or none. */
  sendSlot(p: number, length: number, hdr: VnetHdr | null): boolean {
    const q = this.tx[p];
    if (length > this.txBytes - NET_HDR_BYTES || q.freeCount === 0) return false;
    const h = q.nextHead;
    const buf = this.txBase[p] + h * this.txBytes;
    const bytes = this.mem.bytes;
    bytes.fill(0, buf, buf + NET_HDR_BYTES);
    if (hdr !== null) writeVnetHdr(hdr, bytes, buf, false);
    if (this.indirectTx) {
      const table = this.txTable[p] + h * 32;
      q.writeTableEntry(table, 0, buf, NET_HDR_BYTES, VIRTQ_DESC_F_NEXT, 1);
      q.writeTableEntry(table, 1, buf + NET_HDR_BYTES, length, 0, 0);
      q.addIndirect(table, 2);
    } else {
      q.addOne(buf, NET_HDR_BYTES + length, false);
    }
    this.txDirty[p] = 1;
    return true;
  }

  /** Publishes queued frames on every pair and kicks where the device asks. */
  flushTx(): void {
    for (let p = 0; p < this.pairs; p++) {
      if (this.txDirty[p] === 0) continue;
      this.txDirty[p] = 0;
      if (this.tx[p].publish()) this.kick(2 * p + 1);
    }
  }

  /** Takes back TX buffers the device is done with. */
  reclaimTx(p: number): number {
    let n = 0;
    while (this.tx[p].getUsed()) n++;
    return n;
  }

  // ── interrupts ──────────────────────────────────────────────────────────────

  /**
   * Sleeps until an interrupt or `timeoutMs`, unless a used ring already has entries
   * (NAPI's napi_complete_done: re-enable, re-check, then sleep). Interrupts stay enabled
   * afterwards (cheap with EVENT_IDX: the device interrupts once, when used idx passes
   * used_event). `busy` says frames came since the last wait: then, with rxCoalesceFrames,
   * the device is asked to interrupt only after that many more frames and the sleep lasts
   * at most rxCoalesceUsecs (ethtool -C rx-frames / rx-usecs), so a stream costs the
   * device an interrupt per batch instead of one per frame.
   */
  wait(timeoutMs: number, busy = false): void {
    // Read the bell first: an interrupt after this read changes it and wait returns at once.
    const seen = Atomics.load(this.t, T.kGuestBell);
    const frames = busy ? (this.opts.rxCoalesceFrames ?? 0) : 0;
    const ms = frames > 0 ? Math.min(timeoutMs, (this.opts.rxCoalesceUsecs ?? 50) / 1000) : timeoutMs;
    for (let p = 0; p < this.pairs; p++) {
      if (this.rx[p].enableInterruptsAfter(frames)) return;
      // TX completions wake the guest only when a send found the ring full (Linux stops the
      // queue and enables the callback then, virtqueue_enable_cb_delayed); otherwise buffers
      // are reclaimed when the next send needs them, and a completion is no reason to wake.
      if (this.txFull[p] !== 0) {
        this.txFull[p] = 0;
        if (this.tx[p].enableInterrupts()) return;
      } else this.tx[p].disableInterrupts();
    }
    if (this.needsReset()) return;
    const max = (this.opts.haltPollUs ?? HALT_POLL_US) * 1000;
    const t0 = performance.now();
    const window = this.haltPollNs;
    if (window > 0) {
      this.haltAttemptedPoll++;
      const end = t0 + window / 1e6;
      // Pairs with the device's Atomics.add of kGuestBell in interrupt(): an interrupt now
      // finds no sleeper, and its notify is a cheap no-op.
      while (Atomics.load(this.t, T.kGuestBell) === seen) if (performance.now() >= end) break;
      if (Atomics.load(this.t, T.kGuestBell) !== seen) {
        this.haltSuccessfulPoll++;
        return;
      }
    }
    // Pairs with the device's Atomics.add/notify of kGuestBell in interrupt().
    Atomics.wait(this.t, T.kGuestBell, seen, ms);
    this.haltWakeup++;
    // KVM's grow_halt_poll_ns / shrink_halt_poll_ns: a sleep that a longer window would have
    // caught grows it; one longer than the limit halves it.
    const slept = (performance.now() - t0) * 1e6;
    if (slept > max) this.haltPollNs = Math.floor(window / 2); // (not >>> 1: a window may pass 2^31 ns)
    else if (slept > window) this.haltPollNs = Math.min(max, window === 0 ? HALT_POLL_START_NS : window * 2);
  }

  private postRx(p: number): void {
    const q = this.rx[p];
    const h = q.nextHead;
    q.addOne(this.rxBase[p] + h * this.rxBytes, this.rxBytes, true);
  }

  private recycleRx(p: number, head: number): void {
    if (this.rxPaused) this.held[p].push(head);
    else this.postRx(p);
  }

  private kick(queue: number): void {
    // A statistic only; the bell below is what wakes the device.
    Atomics.add(this.t, T.queueWord(queue, T.QKICKS), 1);
    const p = queue >>> 1;
    if ((queue & 1) === 1 && p < this.txBells.length) {
      // Pairs with the queue worker's Atomics.wait (or its sleep helper) on its doorbell.
      Atomics.add(this.txBells[p], this.txBellIndex[p], 1);
      Atomics.notify(this.txBells[p], this.txBellIndex[p], 1);
    }
    this.ringDevice();
  }

  private ringDevice(): void {
    // Pairs with an Atomics.wait on kDeviceBell in the device thread, if it sleeps there.
    Atomics.add(this.t, T.kDeviceBell, 1);
    Atomics.notify(this.t, T.kDeviceBell);
    if (this.bellWords !== null) {
      // Pairs with the device thread's Atomics.waitAsync on its doorbell (Doorbell.sleepAsync).
      Atomics.add(this.bellWords, this.bellIndex, 1);
      Atomics.notify(this.bellWords, this.bellIndex, 1);
    }
  }
}
