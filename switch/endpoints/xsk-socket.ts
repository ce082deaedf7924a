/**
 * The application's side of an AF_XDP-style socket (what libxdp's xsk.h gives a program):
 * create or attach, refill FILL, receive from RX, send on TX, reclaim from COMPLETION, and
 * sleep until there is something to do. Usable from any one thread at a time (the app
 * side of each ring has one owner). The UMEM frames the app owns are kept on a local free
 * stack. Nothing on the data path allocates; receive() hands a reused callback the frame.
 *
 *   const sock = XskSocket.create();                 // or XskSocket.attach(shared) in a worker
 *   sock.refill();                                     // give the switch frames to fill
 *   const id = sw.bindXsk(sock.shared, 'eth0', 0);     // (the lead's Switch API)
 *   for (;;) { sock.receive(64, onPacket); sock.refill(); sock.wait(100); }
 */
import { Ring } from '../../queues/ring.js';
import { Doorbell } from '../../queues/doorbell.js';
import { ByteCopier } from '../../queues/copy.js';
import { XskDesc, createXskShared, kAppBell, kRingsWorker, kSwitchBell, xskStats, type XskOptions, type XskShared } from './xsk-shared.js';
import type { DoorbellHandle } from '../../queues/doorbell.js';

export type XskReceiver = (umem: Uint8Array, addr: number, length: number, port: number) => void;

export class XskSocket {
  readonly umem: Uint8Array;
  /** The app's buffer → UMEM. It remembers the last views: send from a buffer you keep (UMEM or your own). */
  private readonly txCopier = new ByteCopier();
  readonly fillRing: Ring;
  readonly completionRing: Ring;
  readonly rxRing: Ring;
  readonly txRing: Ring;
  private readonly free: Uint32Array;
  private freeTop = 0;
  private readonly appBell: Doorbell;
  private readonly frameSize: number;
  private readonly chunkMask: number;

  static create(opts: XskOptions = {}): XskSocket {
    return new XskSocket(createXskShared(opts));
  }

  /** Attaches to a socket another thread created (the app side moves with `shared`). */
  static attach(shared: XskShared): XskSocket {
    return new XskSocket(shared);
  }

  private constructor(readonly shared: XskShared) {
    this.umem = new Uint8Array(shared.umem);
    this.fillRing = new Ring(shared.fill);
    this.completionRing = new Ring(shared.completion);
    this.rxRing = new Ring(shared.rx);
    this.txRing = new Ring(shared.tx);
    const wake = new Int32Array(shared.wake);
    this.appBell = new Doorbell(wake, kAppBell);
    const switchBell = new Doorbell(wake, kSwitchBell);
    // need_wakeup: our submits on FILL/TX ring the switch side when it asked.
    this.fillRing.attachDoorbell(switchBell);
    this.txRing.attachDoorbell(switchBell);
    this.frameSize = shared.frameSize;
    this.chunkMask = ~(shared.frameSize - 1);
    const frames = Math.floor(shared.umem.byteLength / shared.frameSize);
    this.free = new Uint32Array(frames);
    // Frames on FILL, RX, TX or COMPLETION are not ours; a fresh socket has all of them.
    // An attach after another thread used the socket must not hand out frames twice, so
    // only a socket whose rings are all untouched starts with every frame free.
    const untouched = [this.fillRing, this.rxRing, this.txRing, this.completionRing].every((r) => r.count() === 0);
    if (untouched) for (let f = frames - 1; f >= 0; f--) this.free[this.freeTop++] = f * shared.frameSize;
  }

  /** Frames on the app's free stack. */
  get freeFrames(): number {
    return this.freeTop;
  }

  /** Moves up to `max` free frames to FILL (default: all that fit). Returns how many. */
  refill(max = this.freeTop): number {
    const r = this.fillRing;
    const n = r.reserve(Math.min(max, this.freeTop));
    for (let k = 0; k < n; k++) {
      const s = r.slotOf(k);
      r.words[s] = this.free[--this.freeTop];
      r.words[s + 1] = 0;
    }
    r.submit(n);
    return n;
  }

  /**
   * Hands up to `max` received packets to `fn` (bytes at umem[addr, addr + length), valid
   * until recycled) and returns their frames to the free stack after each call. Returns how many.
   */
  receive(max: number, fn: XskReceiver): number {
    const r = this.rxRing;
    const n = r.peek(max);
    const w = r.words;
    for (let k = 0; k < n; k++) {
      const e = r.entryOf(k);
      const addr = w[e + XskDesc.ADDR_LO] >>> 0;
      fn(this.umem, addr, w[e + XskDesc.LEN] >>> 0, w[e + XskDesc.OPTIONS] & 0xffff);
      this.free[this.freeTop++] = addr & this.chunkMask;
    }
    r.release(n);
    return n;
  }

  /**
   * Copies a frame into a free UMEM frame and queues it on TX (`port`: the egress port for
   * sockets on the local stack; ignored otherwise). False when no frame or no TX room.
   * Call flushTx() (or wakeup()) after a batch.
   */
  send(src: Uint8Array, offset: number, length: number, port = 0): boolean {
    if (length > this.frameSize) return false;
    if (this.freeTop === 0) this.reclaim();
    if (this.freeTop === 0 || this.txRing.reserve(this.txStaged + 1) <= this.txStaged) return false;
    const addr = this.free[--this.freeTop];
    this.txCopier.copy(this.umem, addr, src, offset, length);
    this.postTx(addr, length, port);
    return true;
  }

  /** Queues a frame the app wrote in place (addr from allocFrame()). */
  sendFrame(addr: number, length: number, port = 0): boolean {
    if (this.txRing.reserve(this.txStaged + 1) <= this.txStaged) return false;
    this.postTx(addr, length, port);
    return true;
  }

  /** A free frame's address for in-place writes, or -1. */
  allocFrame(): number {
    if (this.freeTop === 0) this.reclaim();
    return this.freeTop === 0 ? -1 : this.free[--this.freeTop];
  }

  /**
   * After bindXsk: our submits on FILL and TX ring the queue worker's own doorbell (the handle
   * bindXsk returned), so the worker, asleep on it, wakes at once instead of polling.
   */
  attachSwitchBell(h: DoorbellHandle): void {
    const bell = Doorbell.fromHandle(h);
    this.fillRing.attachDoorbell(bell);
    this.txRing.attachDoorbell(bell);
    // Pairs with the endpoint's Atomics.load in wakesWorker(): from now on the worker may sleep long.
    Atomics.store(new Int32Array(this.shared.wake), kRingsWorker, 1);
  }

  /** Publishes staged TX descriptors (rings the switch side if it asked: need_wakeup). */
  flushTx(): void {
    this.txRing.submit(this.txStaged);
    this.txStaged = 0;
  }

  /** Takes finished TX frames back from COMPLETION. Returns how many. */
  reclaim(): number {
    const r = this.completionRing;
    const n = r.peek(r.size);
    for (let k = 0; k < n; k++) this.free[this.freeTop++] = (r.words[r.entryOf(k)] >>> 0) & this.chunkMask;
    r.release(n);
    return n;
  }

  /**
   * Sleeps (never on a main thread) until the switch posts RX or COMPLETION entries, or
   * `timeoutMs`. Returns at once when RX already has entries.
   */
  wait(timeoutMs: number): void {
    const seen = this.appBell.read();
    this.rxRing.setNeedsWakeup();
    this.completionRing.setNeedsWakeup();
    // Re-check after setting the flag: pairs with the switch side's submit (Ring.submit),
    // which either sees our flag and rings, or published before our check here.
    if (this.rxRing.peek(1) === 0 && this.completionRing.peek(1) === 0) this.appBell.sleep(seen, timeoutMs);
    this.rxRing.clearNeedsWakeup();
    this.completionRing.clearNeedsWakeup();
  }

  /** Counters the switch side keeps (XDP_STATISTICS and packet counts). */
  stats(): Record<string, number> {
    return xskStats(this.shared);
  }

  private txStaged = 0;

  private postTx(addr: number, length: number, port: number): void {
    const r = this.txRing;
    const s = r.slotOf(this.txStaged++);
    r.words[s] = addr;
    r.words[s + 1] = 0;
    r.words[s + 2] = length;
    r.words[s + 3] = port & 0xffff;
  }
}
