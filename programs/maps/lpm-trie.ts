/**
 * BPF_MAP_TYPE_LPM_TRIE: longest-prefix match over IPv4 (keySize 8) or IPv6 (keySize 20)
 * keys, or any key of 4 + n bytes: { prefixlen u32 little-endian, data[n] network order }.
 *
 * A multibit trie: a root of 2^16 slots (the first 16 address bits), then nodes of 16
 * slots (4 bits each), with leaf pushing inside a node: a prefix lives in the node whose
 * bits its last bit falls in and is written into every slot it covers there, unless a
 * longer prefix already holds the slot. A lookup walks from the root, remembers the last
 * leaf it passed, and stops where there is no child: an IPv4 /24 is 3 node visits, a /32
 * 5 (the root, 512 KiB, stays in cache; a stride-4 trie from bit 0 took 6 and 8).
 *
 * Layout (Int32 words of one SharedArrayBuffer):
 *
 *   0   header (16): lock, count, gen, node free top, nodes used, record free top
 *   R   record free stack[max + 1]
 *   X   exact index[xs]  rec + 1, open addressing on (prefixlen, data): writers only
 *   C   records[max + 1] (unused) | tag | used | hash | prefixlen | data words | value words
 *   N   node free stack[nmax]
 *   O   root[2^16]       { leaf word, child node }   (2^8 for 1-byte keys)
 *   T   nodes[nmax]      16 × { leaf word, child node }   (node 0 unused: child 0 = none)
 *
 * A leaf word is (record + 1) | (tag << 22): the record's tag changes every time the
 * record is reused, so a reader holding a stale leaf word notices.
 *
 * Concurrency: records are immutable while a slot can point at them. Writers (control
 * plane) hold the map lock; a new record is written whole before any slot points at it;
 * a new node is filled before its parent's child word points at it; every slot and child
 * word is published with Atomics.store. Changing a prefix's value writes a new record
 * (copy-and-swap: maxEntries + 1 records exist, so there is always one to swap in) and
 * repoints the slots. Memory a reader might be reading — an unlinked record or node — is
 * reused only after the header's gen word is bumped. A reader takes no lock and makes one
 * Atomics call per lookup: it notes gen (plain load), walks with plain loads (each word
 * is tear-free; each node is reached through the word that published it), copies the
 * value, and re-reads gen with Atomics.load — unchanged means nothing it read was
 * recycled meanwhile, so the value is one record's, whole. Changed: it walks again.
 * A lookup racing with an update sees the table before or after it, never a mix.
 */
import type { MapSpec, SharedMap, XdpMap } from './map.js';
import {
  BPF_EXIST,
  BPF_NOEXIST,
  E2BIG,
  EEXIST,
  ENOENT,
  MapError,
  OK,
  READ_RETRIES,
  checkSize,
  checkSpec,
  errorFor,
  hashWords,
  lock,
  nextPow2,
  unlock,
  words,
} from './shared.js';

const H_COUNT = 1;
const H_GEN = 2;
const H_NFREE = 3;
const H_NUSED = 4;
const H_RFREE = 5;
const HEADER = 16;

const R_TAG = 1;
const R_USED = 2;
const R_HASH = 3;
const R_PLEN = 4;
const R_DATA = 5;

const NODE_WORDS = 32;
const REC_BITS = 22;
const REC_MASK = (1 << REC_BITS) - 1;
const TAG_MASK = 511;
const MAX_BYTES = 1 << 30;

function layout(spec: MapSpec) {
  const max = spec.maxEntries;
  const dataBytes = spec.keySize - 4;
  const bits = dataBytes * 8;
  const rootBits = Math.min(16, bits);
  const levels = 1 + (bits - rootBits) / 4;
  const dw = words(dataBytes);
  const vw = words(spec.valueSize);
  const xs = nextPow2(max * 2);
  const nmax = 1 + max * Math.max(0, levels - 1);
  const recCount = max + 1; // one spare for copy-and-swap value updates
  const rfree = HEADER;
  const exact = rfree + recCount;
  const recs = exact + xs;
  const rstride = R_DATA + dw + vw;
  const nfree = recs + recCount * rstride;
  const root = nfree + nmax;
  const nodes = root + (2 << rootBits);
  return { max, recCount, dataBytes, bits, rootBits, levels, dw, vw, xs, nmax, rfree, exact, recs, rstride, nfree, root, nodes, total: nodes + nmax * NODE_WORDS };
}

export function createLpmTrie(spec: MapSpec): SharedMap {
  checkSpec(spec.type, spec.keySize, spec.valueSize, spec.maxEntries);
  if (spec.keySize < 5 || spec.keySize > 260) throw new MapError(`lpm_trie map: keySize ${spec.keySize} is not 4 + 1..256 (8 for IPv4, 20 for IPv6)`);
  if (spec.maxEntries >= REC_MASK) throw new MapError(`lpm_trie map: maxEntries ${spec.maxEntries} is too large (< ${REC_MASK})`);
  const l = layout(spec);
  if (l.total * 4 > MAX_BYTES)
    throw new MapError(`lpm_trie map: ${spec.maxEntries} prefixes of ${l.bits} bits need ${Math.ceil((l.total * 4) / 2 ** 20)} MiB of trie; lower maxEntries`);
  const sab = new SharedArrayBuffer(l.total * 4);
  const w = new Int32Array(sab);
  for (let i = 0; i < l.recCount; i++) w[l.rfree + i] = l.recCount - 1 - i;
  w[H_RFREE] = l.recCount;
  w[H_NUSED] = 1; // the root
  return { spec, queues: 1, buffers: [sab] };
}

export class LpmTrie implements XdpMap {
  readonly spec: MapSpec;
  readonly bits: number;
  readonly maxEntries: number;
  readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly l: ReturnType<typeof layout>;
  // Writer and byte-API scratch: [prefixlen, masked data words].
  private readonly q: Int32Array;
  private readonly qBytes: Uint8Array;
  private readonly tmpData: Uint8Array;
  private readonly tmpValue: Int32Array;
  private readonly tmpValueBytes: Uint8Array;
  private readonly path: Int32Array;

  constructor(shared: SharedMap, _queue: number) {
    this.spec = shared.spec;
    this.l = layout(shared.spec);
    this.bits = this.l.bits;
    this.maxEntries = this.l.max;
    this.words = new Int32Array(shared.buffers[0]);
    this.bytes = new Uint8Array(shared.buffers[0]);
    this.q = new Int32Array(1 + this.l.dw);
    this.qBytes = new Uint8Array(this.q.buffer, 4, this.l.dataBytes);
    this.tmpData = new Uint8Array(this.l.dataBytes);
    this.tmpValue = new Int32Array(Math.max(1, this.l.vw));
    this.tmpValueBytes = new Uint8Array(this.tmpValue.buffer, 0, this.spec.valueSize);
    this.path = new Int32Array(this.l.levels + 1);
  }

  get count(): number {
    return Atomics.load(this.words, H_COUNT); // pairs with the writers' Atomics.add/sub
  }

  /** Trie nodes in use (root included): for sizing and tests. */
  get nodesUsed(): number {
    return this.words[H_NUSED] - this.words[H_NFREE];
  }

  // ---- readers (any thread, no lock) -----------------------------------------------

  /**
   * Hot path: longest-prefix match of the address at bytes[off…] (dataBytes bytes, network
   * order — e.g. a packet's source address), value copied into `out` as words. Returns
   * the matched prefix length, or -1 on a miss. Never allocates.
   */
  lookupAt(bytes: Uint8Array, off: number, out: Int32Array | null): number {
    const w = this.words;
    const end = this.l.bits >> 2; // nibbles
    const nodes = this.l.nodes;
    const wide = this.l.rootBits === 16;
    for (let r = 0; r < READ_RETRIES; r++) {
      // A plain load: an older value only makes the check below stricter.
      const gen = w[H_GEN];
      const rs = this.l.root + ((wide ? (bytes[off] << 8) | bytes[off + 1] : bytes[off]) << 1);
      let best = w[rs];
      let node = w[rs + 1];
      for (let nib = wide ? 4 : 2; node !== 0 && nib < end; nib++) {
        const b = bytes[off + (nib >> 1)];
        const s = nodes + node * NODE_WORDS + (((nib & 1) === 0 ? b >> 4 : b & 15) << 1);
        const leaf = w[s];
        if (leaf !== 0) best = leaf;
        node = w[s + 1];
      }
      let plen = -1;
      if (best !== 0) {
        const base = this.l.recs + ((best & REC_MASK) - 1) * this.l.rstride;
        if (w[base + R_USED] !== 1 || w[base + R_TAG] !== best >>> REC_BITS) continue; // recycled under us
        plen = w[base + R_PLEN];
        if (out !== null) {
          const at = base + R_DATA + this.l.dw;
          const n = Math.min(out.length, this.l.vw);
          for (let i = 0; i < n; i++) out[i] = w[at + i];
        }
      }
      // Pairs with the Atomics.add on H_GEN in retire(): unchanged means no record or node
      // we read was recycled while we read it.
      if (Atomics.load(w, H_GEN) === gen) return plen;
    }
    return -1;
  }

  /** Copies the value of the record a leaf word names (writers, under the lock). */
  private readRecord(leaf: number, out: Int32Array): void {
    const w = this.words;
    const base = this.l.recs + ((leaf & REC_MASK) - 1) * this.l.rstride;
    const at = base + R_DATA + this.l.dw;
    for (let i = 0; i < Math.min(out.length, this.l.vw); i++) out[i] = w[at + i];
  }

  /** Hot path for IPv4 tries: LPM of the 4 bytes at bytes[off]. */
  lookupV4(bytes: Uint8Array, off: number, out: Int32Array | null): number {
    return this.lookupAt(bytes, off, out);
  }

  /**
   * bpf_map_lookup_elem: the key's prefixlen bounds the match. A full-length key takes the
   * lock-free walk; a shorter one (control plane only) searches the exact index under the lock.
   */
  lookupInto(key: Uint8Array, out: Uint8Array): boolean {
    checkSize('lpm_trie key', key.length, this.spec.keySize);
    const plen = (key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24)) >>> 0;
    for (let i = 0; i < this.l.dataBytes; i++) this.tmpData[i] = key[4 + i];
    if (plen >= this.bits) {
      if (this.lookupAt(this.tmpData, 0, this.tmpValue) < 0) return false;
    } else {
      lock(this.words);
      try {
        let rec = -1;
        for (let p = plen; p >= 0 && rec < 0; p--) rec = this.exactFind(this.tmpData, p);
        if (rec < 0) return false;
        this.readRecord(this.leafWord(rec), this.tmpValue);
      } finally {
        unlock(this.words);
      }
    }
    out.set(this.tmpValueBytes.subarray(0, Math.min(out.length, this.spec.valueSize)));
    return true;
  }

  // ---- writers (under the map lock) -------------------------------------------------

  private parseKey(key: Uint8Array): number {
    checkSize('lpm_trie key', key.length, this.spec.keySize);
    const plen = (key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24)) >>> 0;
    if (plen > this.bits) throw new MapError(`lpm_trie: prefixlen ${plen} exceeds ${this.bits} bits`);
    for (let i = 0; i < this.l.dataBytes; i++) this.tmpData[i] = key[4 + i];
    return plen;
  }

  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    const plen = this.parseKey(key);
    checkSize('lpm_trie value', value.length, this.spec.valueSize);
    this.tmpValue.fill(0);
    this.tmpValueBytes.set(value);
    lock(this.words);
    let code: number;
    try {
      code = this.insert(this.tmpData, plen, this.tmpValue, flags);
    } finally {
      unlock(this.words);
    }
    if (code !== OK) throw errorFor(code, 'lpm_trie update');
  }

  delete(key: Uint8Array): boolean {
    const plen = this.parseKey(key);
    lock(this.words);
    try {
      return this.remove(this.tmpData, plen);
    } finally {
      unlock(this.words);
    }
  }

  /** Loads q with (plen, data masked to plen) and returns its hash. */
  private setQuery(data: Uint8Array, plen: number): number {
    const q = this.q;
    q.fill(0);
    q[0] = plen;
    const full = plen >>> 3;
    for (let i = 0; i < full; i++) this.qBytes[i] = data[i];
    if (plen & 7) this.qBytes[full] = data[full] & (0xff << (8 - (plen & 7)));
    return hashWords(q, 0, q.length);
  }

  private recBase(rec: number): number {
    return this.l.recs + rec * this.l.rstride;
  }

  private leafWord(rec: number): number {
    return (rec + 1) | (this.words[this.recBase(rec) + R_TAG] << REC_BITS);
  }

  /** Exact (prefixlen, data) → record index or -1. Writers only. */
  private exactFind(data: Uint8Array, plen: number): number {
    const w = this.words;
    const h = this.setQuery(data, plen);
    const mask = this.l.xs - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = w[this.l.exact + i];
      if (slot === 0) return -1;
      const base = this.recBase(slot - 1);
      if (w[base + R_HASH] !== h) continue;
      let same = true;
      for (let k = 0; same && k < this.q.length; k++) same = w[base + R_PLEN + k] === this.q[k];
      if (same) return slot - 1;
    }
  }

  private exactInsert(rec: number, h: number): void {
    const w = this.words;
    const mask = this.l.xs - 1;
    let i = h & mask;
    while (w[this.l.exact + i] !== 0) i = (i + 1) & mask;
    w[this.l.exact + i] = rec + 1;
  }

  /** Linear-probing delete with backward shift (no tombstones). */
  private exactDelete(rec: number): void {
    const w = this.words;
    const mask = this.l.xs - 1;
    const X = this.l.exact;
    let i = w[this.recBase(rec) + R_HASH] & mask;
    while (w[X + i] !== rec + 1) i = (i + 1) & mask;
    for (let j = i; ; ) {
      j = (j + 1) & mask;
      if (w[X + j] === 0) {
        w[X + i] = 0;
        return;
      }
      const home = w[this.recBase(w[X + j] - 1) + R_HASH] & mask;
      const between = i <= j ? i < home && home <= j : i < home || home <= j;
      if (between) continue;
      w[X + i] = w[X + j];
      i = j;
    }
  }

  /** The level a prefix of length plen lives in: 0 = the root, then one per 4 bits. */
  private levelOf(plen: number): number {
    const R = this.l.rootBits;
    return plen <= R ? 0 : 1 + ((plen - R - 1) >> 2);
  }

  /** One past the last address bit level `lv` decides. */
  private levelEnd(lv: number): number {
    return this.l.rootBits + 4 * lv;
  }

  /** The slot index the address selects at level `lv`. */
  private index(data: Uint8Array, lv: number): number {
    if (lv === 0) return this.l.rootBits === 16 ? (data[0] << 8) | data[1] : data[0];
    const nib = (this.l.rootBits >> 2) + lv - 1;
    const b = data[nib >> 1];
    return (nib & 1) === 0 ? b >> 4 : b & 15;
  }

  /** Word index of slot i of a node (node 0 = the root). */
  private slot(node: number, i: number): number {
    return node === 0 ? this.l.root + (i << 1) : this.l.nodes + node * NODE_WORDS + (i << 1);
  }

  private insert(data: Uint8Array, plen: number, val: Int32Array, flags: number): number {
    const w = this.words;
    const l = this.l;
    let rec = this.exactFind(data, plen);
    if (rec >= 0) {
      if (flags === BPF_NOEXIST) return EEXIST;
      this.swapValue(rec, plen, val);
      return OK;
    }
    if (flags === BPF_EXIST) return ENOENT;
    if (w[H_COUNT] >= l.max) return E2BIG;
    const h = this.setQuery(data, plen); // q = (plen, masked data)
    const level = this.levelOf(plen);
    // Path of nodes down to `level`, created as needed. Sizing guarantees room (see layout).
    let node = 0;
    for (let lv = 0; lv < level; lv++) {
      const s = this.slot(node, this.index(this.qBytes, lv));
      let child = w[s + 1];
      if (child === 0) {
        child = this.allocNode();
        if (child < 0) return E2BIG;
        // The node is all zeros; publishing it empty is safe. Pairs with lookupAt()'s child load.
        Atomics.store(w, s + 1, child);
      }
      node = child;
    }
    rec = this.newRecord(h, val);
    this.exactInsert(rec, h);
    const word = this.leafWord(rec);
    const span = 2 ** (this.levelEnd(level) - plen);
    const start = this.index(this.qBytes, level) & ~(span - 1);
    for (let s = start; s < start + span; s++) {
      const at = this.slot(node, s);
      const cur = w[at];
      if (cur === 0 || w[this.recBase((cur & REC_MASK) - 1) + R_PLEN] <= plen) Atomics.store(w, at, word); // pairs with lookupAt()
    }
    Atomics.add(w, H_COUNT, 1);
    return OK;
  }

  /** Takes a free record and writes (q = prefixlen + masked data, value) into it, whole. */
  private newRecord(h: number, val: Int32Array): number {
    const w = this.words;
    const l = this.l;
    const top = w[H_RFREE] - 1;
    w[H_RFREE] = top;
    const rec = w[l.rfree + top];
    const base = this.recBase(rec);
    w[base + R_TAG] = (w[base + R_TAG] + 1) & TAG_MASK;
    w[base + R_USED] = 1;
    w[base + R_HASH] = h;
    for (let k = 0; k < this.q.length; k++) w[base + R_PLEN + k] = this.q[k];
    for (let i = 0; i < l.vw; i++) w[base + R_DATA + l.dw + i] = val[i];
    return rec;
  }

  /** Bumps gen, then frees the record: readers that may hold it retry (see the file comment). */
  private retire(rec: number): void {
    const w = this.words;
    // Pairs with lookupAt()'s final Atomics.load of H_GEN.
    Atomics.add(w, H_GEN, 1);
    w[this.recBase(rec) + R_USED] = 0;
    w[this.l.rfree + w[H_RFREE]] = rec;
    w[H_RFREE] = w[H_RFREE] + 1;
  }

  /** New value for an existing prefix: a new record, the slots repointed, the old one retired. */
  private swapValue(rec: number, plen: number, val: Int32Array): void {
    const w = this.words;
    const l = this.l;
    const masked = this.qBytes.slice(); // q holds (plen, masked data) from exactFind
    const h = w[this.recBase(rec) + R_HASH];
    const fresh = this.newRecord(h, val);
    // Swap the exact index entry in place (same key, same probe position).
    const mask = l.xs - 1;
    let i = h & mask;
    while (w[l.exact + i] !== rec + 1) i = (i + 1) & mask;
    w[l.exact + i] = fresh + 1;
    const level = this.levelOf(plen);
    let node = 0;
    for (let lv = 0; lv < level; lv++) node = w[this.slot(node, this.index(masked, lv)) + 1];
    const word = this.leafWord(fresh);
    const span = 2 ** (this.levelEnd(level) - plen);
    const start = this.index(masked, level) & ~(span - 1);
    for (let s = start; s < start + span; s++) {
      const at = this.slot(node, s);
      if ((w[at] & REC_MASK) === rec + 1) Atomics.store(w, at, word); // pairs with lookupAt()'s walk
    }
    this.retire(rec);
  }

  private allocNode(): number {
    const w = this.words;
    let n: number;
    if (w[H_NFREE] > 0) {
      w[H_NFREE] = w[H_NFREE] - 1;
      n = w[this.l.nfree + w[H_NFREE]];
    } else if (w[H_NUSED] < this.l.nmax) {
      n = w[H_NUSED];
      w[H_NUSED] = n + 1;
    } else return -1;
    w.fill(0, this.l.nodes + n * NODE_WORDS, this.l.nodes + (n + 1) * NODE_WORDS);
    return n;
  }

  private remove(data: Uint8Array, plen: number): boolean {
    const w = this.words;
    const rec = this.exactFind(data, plen);
    if (rec < 0) return false;
    const masked = this.qBytes.slice(); // the record's data, masked (control plane: may allocate)
    const level = this.levelOf(plen);
    let node = 0;
    this.path[0] = 0;
    for (let lv = 0; lv < level; lv++) {
      node = w[this.slot(node, this.index(masked, lv)) + 1];
      this.path[lv + 1] = node;
    }
    // The slots fall back to the longest shorter prefix stored in the same node, if any;
    // prefixes in nodes above are remembered by the walk on their own.
    let repl = 0;
    const floor = level === 0 ? 0 : this.levelEnd(level - 1) + 1;
    for (let p = plen - 1; p >= floor && repl === 0; p--) {
      const r = this.exactFind(masked, p);
      if (r >= 0) repl = this.leafWord(r);
    }
    const span = 2 ** (this.levelEnd(level) - plen);
    const start = this.index(masked, level) & ~(span - 1);
    for (let s = start; s < start + span; s++) {
      const at = this.slot(node, s);
      if ((w[at] & REC_MASK) === rec + 1) Atomics.store(w, at, repl); // pairs with lookupAt()
    }
    this.exactDelete(rec);
    this.retire(rec);
    Atomics.sub(w, H_COUNT, 1);
    this.prune(masked, level);
    return true;
  }

  /** Frees empty nodes on the path, deepest first. */
  private prune(data: Uint8Array, level: number): void {
    const w = this.words;
    const l = this.l;
    for (let lv = level; lv >= 1; lv--) {
      const node = this.path[lv];
      const from = l.nodes + node * NODE_WORDS;
      for (let i = 0; i < NODE_WORDS; i++) if (w[from + i] !== 0) return;
      const parent = this.path[lv - 1];
      Atomics.store(w, this.slot(parent, this.index(data, lv - 1)) + 1, 0); // pairs with lookupAt()
      // Pairs with lookupAt()'s gen loads: a walk that was inside this node starts over.
      Atomics.add(w, H_GEN, 1);
      w[l.nfree + w[H_NFREE]] = node;
      w[H_NFREE] = w[H_NFREE] + 1;
    }
  }

  // ---- control plane -----------------------------------------------------------------

  /** Every prefix, read under the map lock (control plane). */
  *entries(): Iterable<[Uint8Array, Uint8Array]> {
    const w = this.words;
    const l = this.l;
    const out: [Uint8Array, Uint8Array][] = [];
    lock(w);
    try {
      for (let rec = 0; rec < l.recCount; rec++) {
        const base = this.recBase(rec);
        if (w[base + R_USED] !== 1) continue;
        const key = new Uint8Array(this.spec.keySize);
        new DataView(key.buffer).setUint32(0, w[base + R_PLEN] >>> 0, true);
        key.set(this.bytes.subarray((base + R_DATA) * 4, (base + R_DATA) * 4 + l.dataBytes), 4);
        const value = this.bytes.slice((base + R_DATA + l.dw) * 4, (base + R_DATA + l.dw) * 4 + this.spec.valueSize);
        out.push([key, value]);
      }
    } finally {
      unlock(w);
    }
    yield* out;
  }
}
