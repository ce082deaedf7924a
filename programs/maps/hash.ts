/**
 * BPF_MAP_TYPE_HASH, and with options PERCPU_HASH (one value per queue) and LRU_HASH
 * (a full map evicts instead of refusing). devmap_hash builds on it.
 *
 * Chained hash table of fixed capacity; keys of any size, compared word by word.
 *
 * Layout (Int32 words of one SharedArrayBuffer):
 *
 *   0   header (16): lock, count, gen (bumped when an entry leaves a chain), free top, clock hand
 *   16  buckets[nb]          entry index + 1 of the chain head, 0 = empty  (nb = 2^k ≥ 2 × max)
 *   F   free[max]            stack of free entry indices (writers only, under the lock)
 *   E   entries[max]         next+1 | version | hash | used | ref | key words…
 *   V   values[copies × max × vw]   value of (copy c, entry e) at V + (c × max + e) × vw
 *
 * Readers (any thread, no lock): walk the chain from the bucket, and for each entry read
 * its version, compare the key, copy the value and the next link, re-read the version;
 * a moved version means a writer was inside — start over. A miss is trusted only if the
 * header's gen did not move during the walk (an entry that left its chain and was reused
 * could have led the walk astray). Writers: see shared.ts.
 *
 * LRU: approximate, as the kernel's is — a hit sets the entry's reference bit (a plain
 * store, only when it is clear, so hot entries do not keep dirtying the line); an insert
 * into a full map runs a CLOCK hand that clears set bits and evicts the first entry whose
 * bit is already clear.
 */
import type { MapSpec, SharedMap, XdpMap } from './map.js';
import {
  BPF_EXIST,
  BPF_NOEXIST,
  E2BIG,
  EEXIST,
  ENOENT,
  OK,
  READ_RETRIES,
  beginWrite,
  checkSize,
  checkSpec,
  endWrite,
  errorFor,
  hashWords,
  lock,
  nextPow2,
  unlock,
  words,
} from './shared.js';

const H_COUNT = 1;
const H_GEN = 2;
const H_FREE_TOP = 3;
const H_HAND = 4;
const HEADER = 16;

const E_NEXT = 0;
const E_VER = 1;
const E_HASH = 2;
const E_USED = 3;
const E_REF = 4;
const E_KEY = 5;

function layout(spec: MapSpec, copies: number) {
  const max = spec.maxEntries;
  const kw = words(spec.keySize);
  const vw = ((spec.valueSize + 7) >>> 3) << 1;
  const nb = nextPow2(Math.max(2, max * 2));
  const buckets = HEADER;
  const free = buckets + nb;
  const entries = free + max;
  const stride = E_KEY + kw;
  let values = entries + max * stride;
  values += values & 1;
  return { max, kw, vw, nb, buckets, free, entries, stride, values, total: values + copies * max * vw };
}

export function createHash(spec: MapSpec, copies: number): SharedMap {
  checkSpec(spec.type, spec.keySize, spec.valueSize, spec.maxEntries);
  const l = layout(spec, copies);
  const sab = new SharedArrayBuffer(l.total * 4);
  const w = new Int32Array(sab);
  // Every entry starts free; popping from the top hands out entry 0 first.
  for (let i = 0; i < l.max; i++) w[l.free + i] = l.max - 1 - i;
  w[H_FREE_TOP] = l.max;
  return { spec, queues: copies, buffers: [sab] };
}

export class HashMap implements XdpMap {
  readonly spec: MapSpec;
  readonly percpu: boolean;
  readonly lru: boolean;
  readonly copies: number;
  readonly copy: number;
  readonly maxEntries: number;
  /** The map's words: values of entry e (own copy) start at valueWord(e). */
  readonly words: Int32Array;
  /** The same memory as f64 (index = word / 2); values are f64-aligned. */
  readonly f64: Float64Array;
  /** Hot-path key scratch: fill keyBytes (or keyWords), then call a *Scratch method. */
  readonly keyWords: Int32Array;
  readonly keyBytes: Uint8Array;
  /** Hot-path value scratch for updateScratch(). */
  readonly valueWords: Int32Array;
  readonly valueBytes: Uint8Array;
  protected readonly bytes: Uint8Array;
  protected readonly kw: number;
  protected readonly vw: number;
  protected readonly mask: number;
  protected readonly bucketsAt: number;
  protected readonly freeAt: number;
  protected readonly entriesAt: number;
  protected readonly stride: number;
  protected readonly valuesAt: number;
  // Scratch for the byte-array API, separate from the program's scratch above.
  private readonly tmpKey: Int32Array;
  private readonly tmpKeyBytes: Uint8Array;
  private readonly tmpValue: Int32Array;
  private readonly tmpValueBytes: Uint8Array;

  constructor(shared: SharedMap, queue: number) {
    const spec = shared.spec;
    this.spec = spec;
    this.percpu = spec.type === 'percpu_hash';
    this.lru = spec.type === 'lru_hash';
    this.copies = this.percpu ? shared.queues : 1;
    this.copy = this.percpu ? Math.min(Math.max(0, queue), this.copies - 1) : 0;
    this.maxEntries = spec.maxEntries;
    const l = layout(spec, this.copies);
    this.kw = l.kw;
    this.vw = l.vw;
    this.mask = l.nb - 1;
    this.bucketsAt = l.buckets;
    this.freeAt = l.free;
    this.entriesAt = l.entries;
    this.stride = l.stride;
    this.valuesAt = l.values;
    const sab = shared.buffers[0];
    this.words = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    this.bytes = new Uint8Array(sab);
    this.keyWords = new Int32Array(this.kw);
    this.keyBytes = new Uint8Array(this.keyWords.buffer, 0, spec.keySize);
    this.valueWords = new Int32Array(Math.max(1, this.vw));
    this.valueBytes = new Uint8Array(this.valueWords.buffer, 0, spec.valueSize);
    this.tmpKey = new Int32Array(this.kw);
    this.tmpKeyBytes = new Uint8Array(this.tmpKey.buffer, 0, spec.keySize);
    this.tmpValue = new Int32Array(Math.max(1, this.vw));
    this.tmpValueBytes = new Uint8Array(this.tmpValue.buffer, 0, spec.valueSize);
  }

  /** Number of entries in use. */
  get count(): number {
    return Atomics.load(this.words, H_COUNT); // pairs with the writers' Atomics.add
  }

  /** Word index where entry e's value (copy `copy`, own by default) starts. Hot path. */
  valueWord(e: number, copy = this.copy): number {
    return this.valuesAt + (copy * this.maxEntries + e) * this.vw;
  }

  // ---- readers (any thread, no lock) -----------------------------------------------

  /**
   * Finds the entry holding key `k` (kw words) and copies its value (own copy) into
   * `out` (words) if out is given. Returns the entry index or -1. Never allocates.
   */
  protected find(k: Int32Array, out: Int32Array | null): number {
    const w = this.words;
    const kw = this.kw;
    const h = hashWords(k, 0, kw);
    const bucket = this.bucketsAt + (h & this.mask);
    const n = out === null ? 0 : Math.min(out.length, this.vw);
    retry: for (let r = 0; r < READ_RETRIES; r++) {
      // Plain loads (one Atomics call per entry visited, see shared.ts): an older gen only
      // makes the miss check stricter; the chain head and every next link are single
      // words published with Atomics.store after the entry they name was written whole.
      const gen = w[H_GEN];
      let e = w[bucket] - 1;
      let steps = 0;
      while (e >= 0) {
        if (++steps > this.maxEntries) continue retry; // a recycled entry led us in a circle
        const base = this.entriesAt + e * this.stride;
        const v = w[base + E_VER];
        if (v & 1) continue retry;
        let match = w[base + E_HASH] === h && w[base + E_USED] === 1;
        for (let i = 0; match && i < kw; i++) match = w[base + E_KEY + i] === k[i];
        const next = w[base + E_NEXT] - 1;
        if (match && n !== 0) {
          const at = this.valuesAt + (this.copy * this.maxEntries + e) * this.vw;
          for (let i = 0; i < n; i++) out![i] = w[at + i];
        }
        if (Atomics.load(w, base + E_VER) !== v) continue retry; // pairs with beginWrite()
        if (match) {
          // LRU reference bit: a hint, plain store, only when clear (see the file comment).
          if (this.lru && w[base + E_REF] === 0) w[base + E_REF] = 1;
          return e;
        }
        e = next;
      }
      // Pairs with the Atomics.add on H_GEN in unlink(): unchanged means no entry left a
      // chain while we walked, so the miss is real.
      if (Atomics.load(w, H_GEN) === gen) return -1;
    }
    return -1;
  }

  /** Hot path: is the key in keyWords/keyBytes present? Entry index or -1. */
  findScratch(): number {
    return this.find(this.keyWords, null);
  }

  /** Hot path: copies the value for the scratch key (own copy) into `out` as words. */
  lookupScratch(out: Int32Array): boolean {
    return this.find(this.keyWords, out) >= 0;
  }

  /**
   * Hot path: finds the scratch key and claims its entry for an in-place value update
   * (the program's `bpf_spin_lock`): returns the entry index with its version odd, or -1.
   * The caller edits words[valueWord(e) …] and must call release(e) right after.
   */
  acquire(): number {
    const w = this.words;
    for (let r = 0; r < READ_RETRIES; r++) {
      const e = this.find(this.keyWords, null);
      if (e < 0) return -1;
      const base = this.entriesAt + e * this.stride;
      const v = beginWrite(w, base + E_VER);
      // The entry may have been freed and reused between find() and the claim.
      let same = w[base + E_USED] === 1;
      for (let i = 0; same && i < this.kw; i++) same = w[base + E_KEY + i] === this.keyWords[i];
      if (same) return e;
      endWrite(w, base + E_VER, v);
    }
    return -1;
  }

  /** Ends an acquire(): publishes the entry (version back to even). */
  release(e: number): void {
    const ver = this.entriesAt + e * this.stride + E_VER;
    // Pairs with readers' version loads: the value written since acquire() is now whole.
    Atomics.store(this.words, ver, (this.words[ver] + 1) | 0);
  }

  lookupInto(key: Uint8Array, out: Uint8Array): boolean {
    checkSize(`${this.spec.type} key`, key.length, this.spec.keySize);
    this.tmpKeyBytes.set(key);
    if (this.find(this.tmpKey, this.tmpValue) < 0) return false;
    out.set(this.tmpValueBytes.subarray(0, Math.min(out.length, this.spec.valueSize)));
    return true;
  }

  // ---- writers (under the map lock) -------------------------------------------------

  /**
   * Program-side insert or replace of the scratch key with the scratch value (own copy;
   * other queues' copies of a new per-queue entry start at zero). Returns OK, E2BIG,
   * EEXIST or ENOENT — never throws, never allocates.
   */
  updateScratch(flags = 0): number {
    lock(this.words);
    try {
      return this.put(this.keyWords, this.valueWords, flags, -1);
    } finally {
      unlock(this.words);
    }
  }

  /** Program-side delete of the scratch key. */
  deleteScratch(): boolean {
    lock(this.words);
    try {
      return this.remove(this.keyWords);
    } finally {
      unlock(this.words);
    }
  }

  /** Bytes of one queue's value in the per-queue layout entries() returns. */
  get percpuStride(): number {
    return this.vw * 4;
  }

  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    checkSize(`${this.spec.type} key`, key.length, this.spec.keySize);
    const perQueue = this.percpu && value.length === this.copies * this.percpuStride && value.length !== this.spec.valueSize;
    if (!perQueue) checkSize(`${this.spec.type} value`, value.length, this.spec.valueSize);
    this.tmpKeyBytes.set(key);
    lock(this.words);
    let code: number;
    try {
      if (!perQueue) {
        this.tmpValueBytes.set(value);
        code = this.put(this.tmpKey, this.tmpValue, flags, this.percpu ? -2 : -1);
      } else {
        code = OK;
        for (let c = 0; c < this.copies && code === OK; c++) {
          this.tmpValue.fill(0);
          this.tmpValueBytes.set(value.subarray(c * this.percpuStride, c * this.percpuStride + this.spec.valueSize));
          code = this.put(this.tmpKey, this.tmpValue, c === 0 ? flags : BPF_EXIST, c);
        }
      }
    } finally {
      unlock(this.words);
    }
    if (code !== OK) throw errorFor(code, `${this.spec.type} update`);
  }

  delete(key: Uint8Array): boolean {
    checkSize(`${this.spec.type} key`, key.length, this.spec.keySize);
    this.tmpKeyBytes.set(key);
    lock(this.words);
    try {
      return this.remove(this.tmpKey);
    } finally {
      unlock(this.words);
    }
  }

  /** Removes every entry (control plane). */
  clear(): void {
    for (const [k] of [...this.entries()]) this.delete(k);
  }

  /**
   * Writes value words `val` for key `k`. `copy`: -1 own copy only, -2 every copy, c ≥ 0
   * that copy. Caller holds the map lock.
   */
  private put(k: Int32Array, val: Int32Array, flags: number, copy: number): number {
    const w = this.words;
    const h = hashWords(k, 0, this.kw);
    const bucket = this.bucketsAt + (h & this.mask);
    let e = this.chainFind(k, h, bucket);
    if (e >= 0 && flags === BPF_NOEXIST) return EEXIST;
    if (e < 0 && flags === BPF_EXIST) return ENOENT;
    if (e >= 0) {
      const base = this.entriesAt + e * this.stride;
      const v = beginWrite(w, base + E_VER);
      this.writeValue(e, val, copy);
      endWrite(w, base + E_VER, v);
      return OK;
    }
    if (w[H_FREE_TOP] === 0) {
      if (!this.lru) return E2BIG;
      this.evictOne();
    }
    const top = w[H_FREE_TOP] - 1;
    w[H_FREE_TOP] = top;
    e = w[this.freeAt + top];
    const base = this.entriesAt + e * this.stride;
    const v = beginWrite(w, base + E_VER);
    for (let i = 0; i < this.kw; i++) w[base + E_KEY + i] = k[i];
    w[base + E_HASH] = h;
    w[base + E_USED] = 1;
    w[base + E_REF] = 0;
    w[base + E_NEXT] = w[bucket];
    for (let c = 0; c < this.copies; c++) {
      const at = this.valueWord(e, c);
      for (let i = 0; i < this.vw; i++) w[at + i] = 0;
    }
    this.writeValue(e, val, copy);
    endWrite(w, base + E_VER, v);
    // Publishes the whole entry at the head of its chain. Pairs with find()'s bucket load.
    Atomics.store(w, bucket, e + 1);
    Atomics.add(w, H_COUNT, 1); // pairs with the count getter
    return OK;
  }

  private writeValue(e: number, val: Int32Array, copy: number): void {
    const w = this.words;
    const from = copy === -2 ? 0 : copy === -1 ? this.copy : copy;
    const to = copy === -2 ? this.copies - 1 : from;
    for (let c = from; c <= to; c++) {
      const at = this.valueWord(e, c);
      for (let i = 0; i < this.vw; i++) w[at + i] = val[i];
    }
  }

  /** Writer-side chain search (plain loads suffice under the lock). */
  private chainFind(k: Int32Array, h: number, bucket: number): number {
    const w = this.words;
    for (let e = w[bucket] - 1; e >= 0; e = w[this.entriesAt + e * this.stride + E_NEXT] - 1) {
      const base = this.entriesAt + e * this.stride;
      if (w[base + E_HASH] !== h) continue;
      let match = true;
      for (let i = 0; match && i < this.kw; i++) match = w[base + E_KEY + i] === k[i];
      if (match) return e;
    }
    return -1;
  }

  private remove(k: Int32Array): boolean {
    const h = hashWords(k, 0, this.kw);
    const bucket = this.bucketsAt + (h & this.mask);
    const e = this.chainFind(k, h, bucket);
    if (e < 0) return false;
    this.unlink(e, bucket);
    return true;
  }

  /** Takes entry e out of its chain and frees it. Caller holds the lock. */
  private unlink(e: number, bucket: number): void {
    const w = this.words;
    const base = this.entriesAt + e * this.stride;
    const v = beginWrite(w, base + E_VER); // readers on e start over
    const next = w[base + E_NEXT];
    if (w[bucket] === e + 1) {
      Atomics.store(w, bucket, next); // pairs with find()'s bucket load
    } else {
      let p = w[bucket] - 1;
      while (w[this.entriesAt + p * this.stride + E_NEXT] !== e + 1) p = w[this.entriesAt + p * this.stride + E_NEXT] - 1;
      Atomics.store(w, this.entriesAt + p * this.stride + E_NEXT, next); // read by find() inside p's version window
    }
    w[base + E_USED] = 0;
    endWrite(w, base + E_VER, v);
    // Pairs with find()'s gen loads: a walk that passed through e re-checks its miss.
    Atomics.add(w, H_GEN, 1);
    w[this.freeAt + w[H_FREE_TOP]] = e;
    w[H_FREE_TOP] = w[H_FREE_TOP] + 1;
    Atomics.sub(w, H_COUNT, 1); // pairs with the count getter
  }

  /** CLOCK eviction (LRU maps). Caller holds the lock; the map is full. */
  private evictOne(): void {
    const w = this.words;
    let hand = w[H_HAND];
    for (let step = 0; step < 2 * this.maxEntries + 1; step++) {
      const e = hand;
      hand = hand + 1 === this.maxEntries ? 0 : hand + 1;
      const base = this.entriesAt + e * this.stride;
      if (w[base + E_USED] !== 1) continue;
      if (w[base + E_REF] !== 0 && step < 2 * this.maxEntries) {
        w[base + E_REF] = 0;
        continue;
      }
      w[H_HAND] = hand;
      this.unlink(e, this.bucketsAt + (w[base + E_HASH] & this.mask));
      return;
    }
  }

  // ---- control plane -----------------------------------------------------------------

  /** Entry indices in use (a snapshot; for scans like devmap_hash broadcast, not per packet). */
  protected isUsed(e: number): boolean {
    return this.words[this.entriesAt + e * this.stride + E_USED] === 1;
  }

  /** Every (key, value); a per-queue hash yields queues × round_up(valueSize, 8) bytes per value. */
  *entries(): Iterable<[Uint8Array, Uint8Array]> {
    const w = this.words;
    for (let e = 0; e < this.maxEntries; e++) {
      const base = this.entriesAt + e * this.stride;
      const key = new Uint8Array(this.spec.keySize);
      const value = new Uint8Array(this.percpu ? this.copies * this.percpuStride : this.spec.valueSize);
      let ok = false;
      for (let r = 0; r < READ_RETRIES; r++) {
        const v = Atomics.load(w, base + E_VER); // pairs with endWrite()
        if (v & 1) continue;
        ok = w[base + E_USED] === 1;
        if (ok) {
          key.set(this.bytes.subarray((base + E_KEY) * 4, (base + E_KEY) * 4 + this.spec.keySize));
          if (!this.percpu) value.set(this.bytes.subarray(this.valueWord(e, 0) * 4, this.valueWord(e, 0) * 4 + this.spec.valueSize));
          else
            for (let c = 0; c < this.copies; c++)
              value.set(this.bytes.subarray(this.valueWord(e, c) * 4, this.valueWord(e, c) * 4 + this.spec.valueSize), c * this.percpuStride);
        }
        if (Atomics.load(w, base + E_VER) === v) break; // pairs with beginWrite()
        ok = false;
      }
      if (ok) yield [key, value];
    }
  }
}
