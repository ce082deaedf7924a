/**
 * BPF_MAP_TYPE_ARRAY and (with copies = queues) BPF_MAP_TYPE_PERCPU_ARRAY.
 *
 * Key: u32 index (little-endian), 0 ≤ index < maxEntries. Every element exists and
 * starts as zeros; elements cannot be deleted. A per-queue array keeps one copy of every
 * value per queue: a program writes only its own queue's copy (no sharing of cache lines
 * between queues), the control plane reads all of them.
 *
 * Layout (Int32 words of one SharedArrayBuffer):
 *
 *   0   header (16 words): lock
 *   16  versions: copies × maxEntries seqlock words       (see shared.ts)
 *   V   values:   copies × maxEntries × vw words           (V even: f64-aligned)
 *       value of (copy c, index i) at V + (c × maxEntries + i) × vw
 *
 * vw is valueSize rounded up to 8 bytes, so every value is f64-aligned.
 */
import type { MapSpec, SharedMap, XdpMap } from './map.js';
import { BPF_NOEXIST, MapError, READ_RETRIES, beginWrite, checkSize, checkSpec, endWrite, lock, unlock } from './shared.js';

const HEADER = 16;

function layout(spec: MapSpec, copies: number) {
  const vw = ((spec.valueSize + 7) >>> 3) << 1;
  const vers = HEADER;
  let vals = vers + copies * spec.maxEntries;
  vals += vals & 1;
  return { vw, vers, vals, total: vals + copies * spec.maxEntries * vw };
}

export function createArray(spec: MapSpec, copies: number): SharedMap {
  checkSpec(spec.type, spec.keySize, spec.valueSize, spec.maxEntries);
  if (spec.keySize !== 4) throw new MapError(`${spec.type} map: keySize must be 4 (u32 index), got ${spec.keySize}`);
  return { spec, queues: copies, buffers: [new SharedArrayBuffer(layout(spec, copies).total * 4)] };
}

export class ArrayMap implements XdpMap {
  readonly spec: MapSpec;
  readonly percpu: boolean;
  readonly copies: number;
  /** The copy this thread's hot-path methods use (its queue for a per-queue array). */
  readonly copy: number;
  readonly maxEntries: number;
  /** The map's words; value of index i (own copy) starts at valueWord(i). */
  readonly words: Int32Array;
  /** The same memory as f64, for values holding doubles (index = word / 2). */
  readonly f64: Float64Array;
  private readonly bytes: Uint8Array;
  private readonly vw: number;
  private readonly vers: number;
  private readonly vals: number;

  constructor(shared: SharedMap, queue: number) {
    this.spec = shared.spec;
    this.percpu = shared.spec.type === 'percpu_array';
    this.copies = this.percpu ? shared.queues : 1;
    this.copy = this.percpu ? Math.min(Math.max(0, queue), this.copies - 1) : 0;
    this.maxEntries = shared.spec.maxEntries;
    const sab = shared.buffers[0];
    this.words = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    this.bytes = new Uint8Array(sab);
    const l = layout(shared.spec, this.copies);
    this.vw = l.vw;
    this.vers = l.vers;
    this.vals = l.vals;
  }

  /** Word index of the value of `index` in copy `copy` (own copy by default). Hot path. */
  valueWord(index: number, copy = this.copy): number {
    return this.vals + (copy * this.maxEntries + index) * this.vw;
  }

  /**
   * Hot path: copies the value of `index` (own copy) into `out` as words. False when out
   * of range. Does not allocate.
   */
  lookupIndexWords(index: number, out: Int32Array): boolean {
    if (index >>> 0 !== index || index >= this.maxEntries) return false;
    return this.readWords(this.copy, index, out);
  }

  /** Hot path: one word of a value, read without the seqlock (a single Int32 never tears). */
  readWord(index: number, word: number): number {
    return this.words[this.valueWord(index) + word];
  }

  /**
   * Hot path: adds `delta` (≥ 0, < 2^32) to the u64 (little-endian, two words) at word
   * `word` of the value of `index`, own copy — the counter update a program makes per
   * packet. One Atomics call: an Atomics.add on the low word, which no other writer's add
   * can lose. Only an add that carries into the high word (once per 2^32) takes the
   * entry's seqlock, so a reader never sees the low word wrapped without the carry.
   * Does not allocate.
   */
  addU64(index: number, word: number, delta: number): void {
    if (index >>> 0 !== index || index >= this.maxEntries) return;
    const w = this.words;
    const at = this.valueWord(index) + word;
    if ((w[at] >>> 0) + delta <= 0xffffffff) {
      const old = Atomics.add(w, at, delta) >>> 0; // pairs with readers' seqlock loads; single word
      if (old + delta <= 0xffffffff) return;
      // Another writer took the low word to the wrap between our check and our add (only
      // possible when several threads share a copy): carry now.
      Atomics.add(w, at + 1, 1);
      return;
    }
    const ver = this.vers + this.copy * this.maxEntries + index;
    const v = beginWrite(w, ver);
    const lo = (w[at] >>> 0) + delta;
    w[at] = lo;
    if (lo > 0xffffffff) w[at + 1] = (w[at + 1] + 1) | 0;
    endWrite(w, ver, v);
  }

  /** Sum over every copy of the u64 at word `word` of `index` (control plane, tests). */
  sumU64(index: number, word: number): number {
    const out = new Int32Array(this.vw);
    let s = 0;
    for (let c = 0; c < this.copies; c++) {
      this.readWords(c, index, out);
      s += (out[word] >>> 0) + (out[word + 1] >>> 0) * 0x100000000;
    }
    return s;
  }

  private readWords(copy: number, index: number, out: Int32Array): boolean {
    const w = this.words;
    const ver = this.vers + copy * this.maxEntries + index;
    const at = this.vals + (copy * this.maxEntries + index) * this.vw;
    const n = Math.min(out.length, this.vw);
    for (let r = 0; r < READ_RETRIES; r++) {
      // The first version load is plain (see shared.ts: one Atomics call per read).
      const v = w[ver];
      if (v & 1) continue;
      for (let i = 0; i < n; i++) out[i] = w[at + i];
      // Pairs with beginWrite()'s compareExchange and endWrite()'s store: unchanged and even
      // means no writer was inside while we copied.
      if (Atomics.load(w, ver) === v) return true;
    }
    return false;
  }

  private readBytes(copy: number, index: number, out: Uint8Array, outOff: number): boolean {
    const w = this.words;
    const ver = this.vers + copy * this.maxEntries + index;
    const at = (this.vals + (copy * this.maxEntries + index) * this.vw) * 4;
    const n = this.spec.valueSize;
    for (let r = 0; r < READ_RETRIES; r++) {
      const v = w[ver];
      if (v & 1) continue;
      for (let i = 0; i < n; i++) out[outOff + i] = this.bytes[at + i];
      if (Atomics.load(w, ver) === v) return true; // pairs with beginWrite()
    }
    return false;
  }

  private writeBytes(copy: number, index: number, src: Uint8Array, srcOff: number): void {
    const w = this.words;
    const ver = this.vers + copy * this.maxEntries + index;
    const at = (this.vals + (copy * this.maxEntries + index) * this.vw) * 4;
    const v = beginWrite(w, ver);
    for (let i = 0; i < this.spec.valueSize; i++) this.bytes[at + i] = src[srcOff + i];
    endWrite(w, ver, v);
  }

  private index(key: Uint8Array): number {
    checkSize(`${this.spec.type} key`, key.length, 4);
    return (key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24)) >>> 0;
  }

  /** Own copy (a program's view). Does not allocate. */
  lookupInto(key: Uint8Array, out: Uint8Array): boolean {
    const i = this.index(key);
    if (i >= this.maxEntries) return false;
    return this.readBytes(this.copy, i, out, 0);
  }

  /** Bytes of one copy in the per-queue layout entries() returns: valueSize rounded up to 8. */
  get percpuStride(): number {
    return this.vw * 4;
  }

  /**
   * A per-queue array takes a value of valueSize bytes (written to every queue's copy) or
   * queues × round_up(valueSize, 8) bytes (one per queue, as bpftool passes them).
   */
  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    const i = this.index(key);
    if (i >= this.maxEntries) throw new MapError(`${this.spec.type} update: index ${i} is out of range (maxEntries ${this.maxEntries})`);
    if (flags === BPF_NOEXIST) throw new MapError(`${this.spec.type} update: every array element exists (BPF_NOEXIST given)`);
    const perQueue = this.percpu && value.length === this.copies * this.percpuStride && value.length !== this.spec.valueSize;
    if (!perQueue) checkSize(`${this.spec.type} value`, value.length, this.spec.valueSize);
    lock(this.words);
    try {
      if (!this.percpu) this.writeBytes(0, i, value, 0);
      else for (let c = 0; c < this.copies; c++) this.writeBytes(c, i, value, perQueue ? c * this.percpuStride : 0);
    } finally {
      unlock(this.words);
    }
  }

  delete(key: Uint8Array): boolean {
    this.index(key);
    throw new MapError(`${this.spec.type}: elements cannot be deleted (update them to zero instead)`);
  }

  /** Every index; a per-queue array yields queues × round_up(valueSize, 8) bytes per value. */
  *entries(): Iterable<[Uint8Array, Uint8Array]> {
    for (let i = 0; i < this.maxEntries; i++) {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, i, true);
      if (!this.percpu) {
        const value = new Uint8Array(this.spec.valueSize);
        this.readBytes(0, i, value, 0);
        yield [key, value];
      } else {
        const value = new Uint8Array(this.copies * this.percpuStride);
        for (let c = 0; c < this.copies; c++) this.readBytes(c, i, value, c * this.percpuStride);
        yield [key, value];
      }
    }
  }
}
