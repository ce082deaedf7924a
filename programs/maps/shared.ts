/**
 * What every map type shares: the writer lock, the per-entry seqlock, key hashing and
 * the error codes.
 *
 * Concurrency scheme (all map types):
 *
 *  - Structure (which keys exist, chains, free lists, trie nodes) changes only under the
 *    map's writer lock, one Int32 word in the map header taken with compareExchange.
 *    Control-plane writes and program-side inserts/deletes take it; they are short.
 *  - Every entry (array slot, hash entry, trie record) has a version word, a seqlock:
 *    even = stable, odd = a writer is inside. A writer claims the entry by moving the
 *    version from even v to v+1 with compareExchange (so the word is also the entry's
 *    own writer lock: a hot-path value update needs no map lock), writes, then stores
 *    v+2. A reader loads the version (retrying while odd), copies, loads it again, and
 *    retries if it moved. A reader therefore never returns a torn value or a half-written
 *    key: what it copied was the entry's whole content at one moment.
 *  - Entries a structural writer frees are marked (a generation word in the header, or a
 *    tag in the trie's leaf words) so a reader that walked onto a recycled entry notices
 *    and starts over.
 *
 * Readers make as few Atomics calls as they can: in Node 20 an Atomics.load costs ten
 * times a plain load (≈ 20 ns against 2 on a busy machine), which is a packet's budget.
 * Plain loads of Int32 words are tear-free, so a reader loads the first version word
 * plainly (an older value only makes the check stricter) and uses one Atomics.load — the
 * final version or generation check, which the engine can neither drop nor move — per
 * read. Writers use Atomics for every publishing store, each naming its partner.
 */

export class MapError extends Error {}

/** BPF update flags (include/uapi/linux/bpf.h). */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

/** Linux map type numbers (SPEC §5), for JSON output and bpftool-like listings. */
export const MAP_TYPE_IDS: Record<string, number> = {
  hash: 1,
  array: 2,
  percpu_hash: 5,
  percpu_array: 6,
  lru_hash: 9,
  lpm_trie: 11,
  devmap: 14,
  cpumap: 16,
  xskmap: 17,
  devmap_hash: 25,
};

/** Result codes of the non-throwing update paths (negated errno, as the kernel's helpers). */
export const OK = 0;
export const E2BIG = -7; // map full
export const ENOENT = -2; // BPF_EXIST and absent
export const EEXIST = -17; // BPF_NOEXIST and present
export const EINVAL = -22;

export function errorFor(code: number, what: string): MapError {
  switch (code) {
    case E2BIG:
      return new MapError(`${what}: map is full (no free entry; maxEntries reached)`);
    case ENOENT:
      return new MapError(`${what}: no such key (BPF_EXIST given)`);
    case EEXIST:
      return new MapError(`${what}: key already exists (BPF_NOEXIST given)`);
    default:
      return new MapError(`${what}: invalid argument (code ${code})`);
  }
}

/** Retries a reader makes before it reports a miss: only a writer that died inside an entry gets there. */
export const READ_RETRIES = 1 << 16;

/** Header word 0 of every map: the writer lock (0 free, 1 held). */
export const H_LOCK = 0;
const SPINS_BEFORE_SLEEP = 1000;

/** Takes the writer lock. Pairs with unlock()'s store. */
export function lock(w: Int32Array): void {
  let spins = 0;
  // Acquire: the compareExchange that moves 0 → 1 orders our reads after the previous holder's unlock.
  while (Atomics.compareExchange(w, H_LOCK, 0, 1) !== 0) {
    if (++spins > SPINS_BEFORE_SLEEP) {
      // Writers are rare and short; sleeping 50 µs instead of spinning keeps a waiting
      // control plane off the CPU. No notify is needed: the wait times out.
      Atomics.wait(w, H_LOCK, 1, 0.05);
    }
  }
}

/** Releases the writer lock. Pairs with lock()'s compareExchange. */
export function unlock(w: Int32Array): void {
  Atomics.store(w, H_LOCK, 0);
}

/**
 * Claims entry version word `i` for writing; returns the even version it had.
 * Pairs with endWrite() of the previous writer and with the readers' two loads.
 */
export function beginWrite(w: Int32Array, i: number): number {
  for (;;) {
    const v = Atomics.load(w, i);
    if ((v & 1) === 0 && Atomics.compareExchange(w, i, v, (v + 1) | 0) === v) return v;
  }
}

/** Publishes an entry: version v+2 (even). Pairs with readers' second version load. */
export function endWrite(w: Int32Array, i: number, v: number): void {
  Atomics.store(w, i, (v + 2) | 0);
}

/** Hash of `n` key words starting at w[off] (murmur3 finaliser per word). Never allocates. */
export function hashWords(w: Int32Array, off: number, n: number): number {
  let h = 0x9747b28c ^ n;
  for (let i = 0; i < n; i++) {
    let k = Math.imul(w[off + i], 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export function words(bytes: number): number {
  return (bytes + 3) >>> 2;
}

export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Checks the sizes every map type needs. */
export function checkSpec(type: string, keySize: number, valueSize: number, maxEntries: number): void {
  const bad = (m: string) => new MapError(`${type} map: ${m}`);
  if (!Number.isInteger(keySize) || keySize < 1 || keySize > 512) throw bad(`keySize ${keySize} is not 1..512`);
  if (!Number.isInteger(valueSize) || valueSize < 0 || valueSize > 65536) throw bad(`valueSize ${valueSize} is not 0..65536`);
  if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > 1 << 22) throw bad(`maxEntries ${maxEntries} is not 1..${1 << 22}`);
}

export function checkSize(what: string, got: number, want: number): void {
  if (got !== want) throw new MapError(`${what} is ${got} bytes, the map wants ${want}`);
}
