/**
 * Single-producer / single-consumer ring of fixed-size entries in a SharedArrayBuffer.
 *
 * Contract: exactly one thread produces (reserve/submit) and exactly one thread consumes
 * (peek/release). Entries are `width` Int32 words (1 for frame indices, 4 for packet
 * descriptors). Nothing here blocks and nothing here allocates after construction.
 *
 * Byte layout (all Int32, little-endian as the platform is):
 *
 *   offset   0  ┌──────────────────────────────┐
 *               │ kProd: producer index (u32)  │  cache line 0: written by the producer only
 *   offset  64  ├──────────────────────────────┤
 *               │ kCons: consumer index (u32)  │  cache line 1: written by the consumer only
 *   offset 128  ├──────────────────────────────┤
 *               │ kFlags: bit 0 NEEDS_WAKEUP   │  cache line 2: written by the consumer,
 *               │ kSize, kWidth (read-only)    │  read by the producer after submit
 *   offset 192  ├──────────────────────────────┤
 *               │ slots: size × width × 4 bytes│  slot of index i is (i & mask)
 *               └──────────────────────────────┘
 *
 * Indices run free over 2^32 and are masked on access. Unsigned subtraction modulo 2^32
 * (`(prod - cons) >>> 0`) is the fill level even across the wrap.
 *
 * The doorbell is not part of the ring: a consumer thread owns one doorbell word that
 * every ring it consumes from rings (see queues/doorbell.ts), so one Atomics.wait
 * covers all of them.
 */
import { Doorbell } from './doorbell.js';

const kProd = 0; // Int32 word index (byte 0)
// The producer's intent (see intend()), in the producer's own cache line.
const kIntentN = 1;
const kIntentProd = 2;
const kIntentMark = 3;
const kIntentMarkLarge = 4;
const kCons = 16; // Int32 word index (byte 64)
const kFlags = 32; // Int32 word index (byte 128)
const kSize = 33;
const kWidth = 34;
const kHeaderWords = 48; // 192 bytes

export const NEEDS_WAKEUP = 1;

export function ringBytes(size: number, width: number): number {
  return (kHeaderWords + size * width) * 4;
}

export class Ring {
  /** Word of the producer index and of the consumer index (a breath journal names them). */
  static readonly PROD_WORD = kProd;
  static readonly CONS_WORD = kCons;
  readonly sab: SharedArrayBuffer;
  readonly size: number;
  readonly width: number;
  readonly mask: number;
  /** The whole ring as Int32 words; entries start at `base`. */
  readonly words: Int32Array;
  readonly base = kHeaderWords;

  // Producer-local state.
  private prodLocal = 0;
  private consCached = 0;
  // Consumer-local state.
  private consLocal = 0;
  private prodCached = 0;

  private doorbell: Doorbell | null = null;

  /** Creates a new ring: `size` must be a power of two. */
  static create(size: number, width: number, startIndex = 0): Ring {
    if (size < 2 || (size & (size - 1)) !== 0) throw new RangeError(`ring size ${size} is not a power of two ≥ 2`);
    if (width < 1 || width > 16) throw new RangeError(`ring entry width ${width} words is out of range 1..16`);
    const sab = new SharedArrayBuffer(ringBytes(size, width));
    const w = new Int32Array(sab);
    w[kSize] = size;
    w[kWidth] = width;
    // A non-zero start lets tests exercise the 2^32 wrap-around.
    w[kProd] = startIndex | 0;
    w[kCons] = startIndex | 0;
    return new Ring(sab);
  }

  /** Attaches to a ring another thread created. */
  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.words = new Int32Array(sab);
    this.size = this.words[kSize];
    this.width = this.words[kWidth];
    this.mask = this.size - 1;
    if (this.size < 2 || (this.size & this.mask) !== 0) throw new RangeError('not a ring: bad size word');
    this.resync();
  }

  /**
   * A producer that publishes in two steps — its pool's depth, then this ring — records the
   * submit it is about to make: a thread ended between the two (a watchdog's or a test's
   * terminate) would leave the frames out of the pool and off the ring. Its successor
   * finishes the submit (takeIntent). Plain stores: only a successor reads them, after the
   * thread has ended (terminate joins it). `mark`/`markLarge`: the pool depths it publishes.
   */
  intend(n: number, mark: number, markLarge: number): void {
    const w = this.words;
    w[kIntentProd] = this.prodLocal | 0;
    w[kIntentMark] = mark;
    w[kIntentMarkLarge] = markLarge;
    w[kIntentN] = n;
  }

  /** The submit recorded by intend() was made. */
  clearIntent(): void {
    this.words[kIntentN] = 0;
  }

  /**
   * A successor's start (the producer is gone): the frames its predecessor took from a pool
   * whose depth it published (the depths equal `mark`/`markLarge`) but never submitted here.
   * Returns how many to submit (their descriptors are in the slots), 0 when there is nothing
   * to finish; clears the record either way.
   */
  takeIntent(mark: number, markLarge: number): number {
    const w = this.words;
    const n = w[kIntentN];
    if (n === 0) return 0;
    w[kIntentN] = 0;
    // Pairs with submit()'s Atomics.store(kProd): moved on means the submit was made.
    if (Atomics.load(w, kProd) !== w[kIntentProd]) return 0;
    return w[kIntentMark] === mark && w[kIntentMarkLarge] === markLarge ? n : 0;
  }

  /** Reloads local indices from shared memory (after attach, or when a restarted thread takes over a side). */
  resync(): void {
    // Pairs with the Atomics.store in submit()/release() of whichever thread owned the side before.
    this.prodLocal = Atomics.load(this.words, kProd) >>> 0;
    this.consLocal = Atomics.load(this.words, kCons) >>> 0;
    this.consCached = this.consLocal;
    this.prodCached = this.prodLocal;
  }

  /** The producer rings this doorbell after a submit when the consumer asked to be woken. */
  attachDoorbell(doorbell: Doorbell): void {
    this.doorbell = doorbell;
  }

  // ── producer side ────────────────────────────────────────────────────────────

  /**
   * Reserves up to `n` slots; returns how many were granted (0 when full). Write entry k
   * at `slotOf(k)`; then submit(granted). Does not allocate.
   */
  reserve(n: number): number {
    let free = this.size - ((this.prodLocal - this.consCached) >>> 0);
    if (free < n) {
      // Pairs with Atomics.store(kCons) in release(): frees we see were fully consumed.
      this.consCached = Atomics.load(this.words, kCons) >>> 0;
      free = this.size - ((this.prodLocal - this.consCached) >>> 0);
    }
    return n < free ? n : free;
  }

  /** Word offset in `words` of the k-th reserved (not yet submitted) entry. */
  slotOf(k: number): number {
    return this.base + (((this.prodLocal + k) & this.mask) * this.width);
  }

  /** The producer index submit(n) will store (staged in a breath journal first). */
  producerAfter(n: number): number {
    return (this.prodLocal + n) | 0;
  }

  /** Rings the consumer's doorbell whether or not it asked (a successor's replayed submit). */
  wake(): void {
    if (this.doorbell !== null) this.doorbell.ring();
  }

  /** Publishes `n` reserved entries with one store, then rings the doorbell if asked to. */
  submit(n: number): void {
    if (n === 0) return;
    this.prodLocal = (this.prodLocal + n) >>> 0;
    // Pairs with Atomics.load(kProd) in peek(): entries written above are visible first.
    Atomics.store(this.words, kProd, this.prodLocal | 0);
    // Pairs with the consumer's Atomics.or(kFlags) before it re-checks and sleeps: either it
    // sees our new prod in its re-check, or we see its flag here and wake it. A ring without
    // a doorbell (its consumer is the producing thread itself) skips the load: an Atomics
    // call is a builtin call in V8's optimised code, about 13 ns here.
    if (this.doorbell !== null && (Atomics.load(this.words, kFlags) & NEEDS_WAKEUP) !== 0) {
      this.doorbell.ring();
    }
  }

  /** Convenience for one-word rings: push one value; false (and nothing written) when full. */
  push1(value: number): boolean {
    if (this.reserve(1) === 0) return false;
    this.words[this.slotOf(0)] = value;
    this.submit(1);
    return true;
  }

  // ── consumer side ────────────────────────────────────────────────────────────

  /** Number of entries ready to read, up to `n`. Read entry k at `entryOf(k)`; then release. */
  peek(n: number): number {
    let avail = (this.prodCached - this.consLocal) >>> 0;
    if (avail < n) {
      // Pairs with Atomics.store(kProd) in submit().
      this.prodCached = Atomics.load(this.words, kProd) >>> 0;
      avail = (this.prodCached - this.consLocal) >>> 0;
    }
    return n < avail ? n : avail;
  }

  /**
   * The consumer's own thread produced `n` more entries on this ring (through another Ring
   * object over the same buffer, in program order before this call): peek() may count them
   * without loading the shared index. A plain add, no atomics: the entries were written by
   * this thread. Never ahead of the real index, since the producer's submit came first.
   */
  producedHere(n: number): void {
    this.prodCached = (this.prodCached + n) >>> 0;
  }

  /**
   * The ring index of peeked entry 0: entry k is at base + ((first + k) & mask) * width, for
   * a loop that keeps the ring's fields in locals (entryOf's arithmetic, read once).
   */
  get consumerIndex(): number {
    return this.consLocal;
  }

  /** Word offset in `words` of the k-th peeked entry. */
  entryOf(k: number): number {
    return this.base + (((this.consLocal + k) & this.mask) * this.width);
  }

  /** The consumer index release(n) will store (staged in a breath journal first). */
  consumerAfter(n: number): number {
    return (this.consLocal + n) | 0;
  }

  /** Returns `n` peeked slots to the producer with one store. */
  release(n: number): void {
    if (n === 0) return;
    this.consLocal = (this.consLocal + n) >>> 0;
    // Pairs with Atomics.load(kCons) in reserve(): our reads of the slots happened before.
    Atomics.store(this.words, kCons, this.consLocal | 0);
  }

  /** Consumer: ask the producer to ring the doorbell on its next submit. */
  setNeedsWakeup(): void {
    // Pairs with the Atomics.load(kFlags) in submit().
    Atomics.or(this.words, kFlags, NEEDS_WAKEUP);
  }

  clearNeedsWakeup(): void {
    Atomics.and(this.words, kFlags, ~NEEDS_WAKEUP);
  }

  // ── either side / observers ─────────────────────────────────────────────────

  /** Entries in the ring right now, as any thread sees it. */
  count(): number {
    return ((Atomics.load(this.words, kProd) >>> 0) - (Atomics.load(this.words, kCons) >>> 0)) >>> 0;
  }

  isEmpty(): boolean {
    return this.count() === 0;
  }

  /** Calls fn(wordOffset) for every entry currently queued (for accounting, not the data path). */
  forEachQueued(fn: (wordOffset: number) => void): void {
    const prod = Atomics.load(this.words, kProd) >>> 0;
    let i = Atomics.load(this.words, kCons) >>> 0;
    while (i !== prod) {
      fn(this.base + ((i & this.mask) * this.width));
      i = (i + 1) >>> 0;
    }
  }
}
