/**
 * Handing a VM's virtqueue from its device thread to the queue worker that serves it, and
 * back (run to completion: the worker of switch queue q writes its egress into the guest's
 * RX virtqueue of pair q itself, in the breath that decided it).
 *
 * The device thread keeps the control plane (feature negotiation, status, vhost-user
 * messages); when a ring is ready it writes the ring's description into queue q's slot and
 * bumps the slot's generation; worker q picks it up between two breaths (service()),
 * serves or stops serving as the slot says, and acknowledges with that generation. The
 * device waits for the acknowledgement before it goes on, so:
 *  - a ring taken back (reset, GET_VRING_BASE, a new memory table, disconnect) is no longer
 *    touched by the worker once the device continues: the device can answer the front-end
 *    with where the ring stands (an RX ring's published used idx), and close the fds it replaced;
 *  - the worker maps guest memory itself (vhost-user: from the table's fds, alive for as
 *    long as the device holds the table; JS guest: the SharedArrayBuffer its control
 *    request carried), and unmaps it only in its own thread, after it stopped serving:
 *    no thread ever touches a mapping another thread may unmap.
 *
 * Slot of queue q (Int32 words; ring addresses and the memory table in Float64 words):
 *
 *   GEN       device: Atomics.add after writing the slot (pairs with the worker's Atomics.load)
 *   ACK       worker: Atomics.store(GEN it applied) + notify (pairs with the device's wait)
 *   SERVE     1: serve ring VQ as described; 0: do not touch the guest
 *   VQ, SIZE, FLAGS (F_*), BASE (next available index), TAKES (OFFLOAD_* the guest takes)
 *   CALLFD    vhost-user call eventfd (−1: none / JS guest), MEMGEN (which memory)
 *   BROKEN    worker: 1 when the guest broke a ring rule there (the device marks it broken)
 *   TXVQ, TXSIZE, TXBASE, TXCALLFD   the guest's TX ring of the same pair (TXVQ −1: not handed),
 *             which worker q then polls itself (ingress); addresses in Float64 words 4–6
 *   POS, TXPOS   worker: where it left a packed RX / TX ring when it stopped serving it
 *             (PackedDeviceQueue.lastUsed), written before its ACK: a packed ring's position
 *             is not in the ring, so the device thread continues from these (split rings
 *             continue from their used idx)
 *
 * A TX ring is handed over only while no other thread receives from the port (every pair the
 * guest serves is on a worker): the worker is then the only producer on the port's rx ring
 * of its queue, and whoever produces on it next takes the producer side over (Ring.resync,
 * QueueIO.resumeRx / PortIO.resumeRx) only after the handover was acknowledged.
 */

export const enum H {
  GEN,
  ACK,
  SERVE,
  VQ,
  SIZE,
  FLAGS,
  BASE,
  TAKES,
  CALLFD,
  MEMGEN,
  BROKEN,
  TXVQ,
  TXSIZE,
  TXBASE,
  TXCALLFD,
  POS,
  TXPOS,
  WORDS = 18,
}

/** Ring description flags (FLAGS word). */
export const F_EVENT_IDX = 1;
export const F_INDIRECT = 2;
export const F_MRG_RXBUF = 4;
export const F_PACKED = 8;
export const F_GUEST_ECN = 16;

/** ACK of a worker that stopped for good (the switch stops): nothing to wait for. */
export const ACK_GONE = -1;

/** Float64 words per slot: desc, avail (driver area), used (device area) of the RX ring, then of the TX ring. */
const SLOT_F64 = 8;
const TX_F64 = 4;
/** Most memory regions a vhost-user table has (VHOST_MEMORY_BASELINE_NREGIONS). */
export const MAX_REGIONS = 8;
/** The memory table: count, then per region gpa, size, fd offset, fd. */
const TABLE_F64 = 1 + 4 * MAX_REGIONS;

export interface RingHandover {
  vq: number;
  size: number;
  desc: number;
  avail: number;
  used: number;
  flags: number;
  base: number;
  takes: number;
  callFd: number;
  memGen: number;
  /** The guest's TX ring of the same pair, polled by the worker (same flags and memory), or null. */
  tx?: TxRingHandover | null;
  /** Only the TX ring is handed over (the RX ring stays with the device thread). */
  txOnly?: boolean;
}

export interface TxRingHandover {
  vq: number;
  size: number;
  desc: number;
  avail: number;
  used: number;
  /** Next available index (where the device thread's ring stood). */
  base: number;
  callFd: number;
}

export interface HandoverRegion {
  gpa: number;
  size: number;
  offset: number;
  fd: number;
}

/** Bytes of the shared block for `queues` switch queues (PortType.sharedState). */
export function handoverBytes(queues: number): number {
  return 8 + queues * (H.WORDS * 4 + SLOT_F64 * 8) + TABLE_F64 * 8;
}

export function createHandover(queues: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(handoverBytes(queues));
  new Int32Array(sab, 0, 2)[0] = queues;
  return sab;
}

/** Views over the block; both sides make one. */
export class HandoverBlock {
  readonly queues: number;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  private readonly tableAt: number;

  constructor(readonly sab: SharedArrayBuffer) {
    this.queues = new Int32Array(sab, 0, 2)[0];
    const q = this.queues;
    this.i32 = new Int32Array(sab, 8, q * H.WORDS);
    this.f64 = new Float64Array(sab, 8 + q * H.WORDS * 4, q * SLOT_F64 + TABLE_F64);
    this.tableAt = q * SLOT_F64;
  }

  word(q: number, w: H): number {
    return q * H.WORDS + w;
  }

  /** Reads queue q's ring description (the worker, after it saw GEN move). */
  ring(q: number): RingHandover {
    const i = this.i32;
    const b = q * H.WORDS;
    const f = q * SLOT_F64;
    return {
      vq: i[b + H.VQ],
      size: i[b + H.SIZE],
      flags: i[b + H.FLAGS],
      base: i[b + H.BASE],
      takes: i[b + H.TAKES],
      callFd: i[b + H.CALLFD],
      memGen: i[b + H.MEMGEN],
      desc: this.f64[f],
      avail: this.f64[f + 1],
      used: this.f64[f + 2],
      tx:
        i[b + H.TXVQ] < 0
          ? null
          : {
              vq: i[b + H.TXVQ],
              size: i[b + H.TXSIZE],
              base: i[b + H.TXBASE],
              callFd: i[b + H.TXCALLFD],
              desc: this.f64[f + TX_F64],
              avail: this.f64[f + TX_F64 + 1],
              used: this.f64[f + TX_F64 + 2],
            },
    };
  }

  writeRing(q: number, r: RingHandover | null): void {
    const i = this.i32;
    const b = q * H.WORDS;
    i[b + H.SERVE] = r === null || r.txOnly === true ? 0 : 1;
    const tx = r?.tx ?? null;
    i[b + H.TXVQ] = tx === null ? -1 : tx.vq;
    if (r === null) return;
    i[b + H.VQ] = r.vq;
    i[b + H.SIZE] = r.size;
    i[b + H.FLAGS] = r.flags;
    i[b + H.BASE] = r.base;
    i[b + H.TAKES] = r.takes;
    i[b + H.CALLFD] = r.callFd;
    i[b + H.MEMGEN] = r.memGen;
    const f = q * SLOT_F64;
    this.f64[f] = r.desc;
    this.f64[f + 1] = r.avail;
    this.f64[f + 2] = r.used;
    if (tx === null) return;
    i[b + H.TXSIZE] = tx.size;
    i[b + H.TXBASE] = tx.base;
    i[b + H.TXCALLFD] = tx.callFd;
    this.f64[f + TX_F64] = tx.desc;
    this.f64[f + TX_F64 + 1] = tx.avail;
    this.f64[f + TX_F64 + 2] = tx.used;
  }

  /** The vhost-user memory table (written by the device before a slot that names its MEMGEN). */
  writeTable(regions: readonly HandoverRegion[]): void {
    if (regions.length > MAX_REGIONS) throw new RangeError(`${regions.length} memory regions, at most ${MAX_REGIONS}`);
    const f = this.f64;
    const t = this.tableAt;
    f[t] = regions.length;
    regions.forEach((r, k) => {
      f[t + 1 + 4 * k] = r.gpa;
      f[t + 2 + 4 * k] = r.size;
      f[t + 3 + 4 * k] = r.offset;
      f[t + 4 + 4 * k] = r.fd;
    });
  }

  table(): HandoverRegion[] {
    const f = this.f64;
    const t = this.tableAt;
    const out: HandoverRegion[] = [];
    for (let k = 0; k < f[t]; k++) out.push({ gpa: f[t + 1 + 4 * k], size: f[t + 2 + 4 * k], offset: f[t + 3 + 4 * k], fd: f[t + 4 + 4 * k] });
    return out;
  }
}

/** The device thread's side: hands rings over and waits for the workers to take them. */
export class HandoverWriter {
  readonly block: HandoverBlock;
  /** Which queues a worker serves now (SERVE = 1 acknowledged or pending). */
  readonly serving: Uint8Array;
  /** Which queues' workers poll the guest's TX ring of their pair (ingress). */
  readonly txServing: Uint8Array;
  /** A TX ring came back since the last wait(): the device thread produces on the rx rings again. */
  private txReturned = false;
  /**
   * Called by wait() once every worker let go of the TX rings taken back: the device thread
   * takes over the producer side of the port's rx rings (PortIO.resumeRx).
   */
  resumeRx: (() => void) | null = null;

  constructor(
    sab: SharedArrayBuffer,
    readonly wake: (q: number) => void,
    private readonly log: (message: string) => void,
  ) {
    this.block = new HandoverBlock(sab);
    this.serving = new Uint8Array(this.block.queues);
    this.txServing = new Uint8Array(this.block.queues);
  }

  get queues(): number {
    return this.block.queues;
  }

  /**
   * Gives queue q's worker ring `r` (null: take it back). Returns at once; wait() before
   * relying on it.
   */
  hand(q: number, r: RingHandover | null): void {
    this.block.writeRing(q, r);
    this.serving[q] = r === null || r.txOnly === true ? 0 : 1;
    const tx = r?.tx != null ? 1 : 0;
    if (this.txServing[q] === 1 && tx === 0) this.txReturned = true;
    this.txServing[q] = tx;
    // Pairs with the worker's Atomics.load(GEN) in service(): the slot above is visible first.
    Atomics.add(this.block.i32, this.block.word(q, H.GEN), 1);
    this.wake(q);
  }

  /** Takes every ring back that a worker serves, and waits until none touches the guest. */
  takeAll(): void {
    let any = false;
    for (let q = 0; q < this.serving.length; q++) {
      if (this.serving[q] === 0 && this.txServing[q] === 0) continue;
      this.hand(q, null);
      any = true;
    }
    if (any) this.wait();
  }

  /**
   * Waits until every worker acknowledged its slot's generation: then a ring taken back
   * is no longer touched, a ring given is served. A worker that does not answer within
   * `timeoutMs` (not started, restarting, stopped) is reported; it applies the slot when it runs.
   */
  wait(timeoutMs = 2000): boolean {
    const i = this.block.i32;
    const end = Date.now() + timeoutMs;
    let ok = true;
    for (let q = 0; q < this.serving.length; q++) {
      const g = this.block.word(q, H.GEN);
      const a = this.block.word(q, H.ACK);
      for (;;) {
        const gen = Atomics.load(i, g);
        const ack = Atomics.load(i, a);
        // ACK_GONE: the worker has stopped for good and touches nothing.
        if (ack === gen || ack === ACK_GONE) break;
        const left = end - Date.now();
        if (left <= 0) {
          ok = false;
          this.log(`queue ${q}: its worker did not take the ring handover within ${timeoutMs} ms; it will when it runs`);
          break;
        }
        // Pairs with the worker's Atomics.store(ACK) + notify in service().
        Atomics.wait(i, a, ack, Math.min(left, 50));
      }
    }
    if (this.txReturned) {
      // No worker polls those TX rings any more (a worker that did not answer is gone or
      // restarting: its successor applies the slot before it polls).
      this.txReturned = false;
      this.resumeRx?.();
    }
    return ok;
  }

  /**
   * Where queue q's worker left the packed RX ring (`tx`: TX ring) it served, lastAvail's
   * encoding; read after takeAll() (the worker wrote it before its ACK, which wait() loaded).
   */
  position(q: number, tx: boolean): number {
    return this.block.i32[this.block.word(q, tx ? H.TXPOS : H.POS)];
  }

  /** Whether a worker found its guest breaking a ring rule; clears the flag. */
  takeBroken(): boolean {
    let any = false;
    const i = this.block.i32;
    for (let q = 0; q < this.serving.length; q++) {
      const w = this.block.word(q, H.BROKEN);
      // Pairs with the worker's Atomics.store(BROKEN, 1) in broken().
      if (Atomics.load(i, w) !== 0) {
        Atomics.store(i, w, 0);
        any = true;
      }
    }
    return any;
  }
}
