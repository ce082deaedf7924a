/**
 * The array-shaped redirect maps (devmap, xskmap, cpumap) share this: key u32 index,
 * value one u32 (a devmap/cpumap value may be 8 bytes, as bpf_devmap_val and
 * bpf_cpumap_val are; only the first word is used, the program-fd half must be 0).
 *
 * Layout (Int32 words): header (16: lock, high-water slot + 1), then one word per slot
 * holding value + 1 (0 = empty). A slot is a single word, so a reader sees the old or the
 * new value, never a torn one; writers still take the lock so that check-then-write
 * (BPF_NOEXIST) is atomic. Broadcast scans only up to the high-water mark, with plain loads.
 */
import type { MapSpec, SharedMap, XdpMap } from './map.js';
import { BPF_EXIST, BPF_NOEXIST, MapError, checkSize, checkSpec, lock, unlock } from './shared.js';

export const SLOT_HEADER = 16;
/** Header word: one past the highest slot ever set (broadcast scans stop there). */
export const H_HIGH = 1;

export function createSlotMap(spec: MapSpec, copies: number, valueSizes: number[]): SharedMap {
  checkSpec(spec.type, spec.keySize, spec.valueSize, spec.maxEntries);
  if (spec.keySize !== 4) throw new MapError(`${spec.type} map: keySize must be 4, got ${spec.keySize}`);
  if (!valueSizes.includes(spec.valueSize)) throw new MapError(`${spec.type} map: valueSize must be ${valueSizes.join(' or ')}, got ${spec.valueSize}`);
  return { spec, queues: copies, buffers: [new SharedArrayBuffer((SLOT_HEADER + spec.maxEntries) * 4)] };
}

export abstract class SlotMap implements XdpMap {
  readonly spec: MapSpec;
  readonly maxEntries: number;
  readonly words: Int32Array;
  /** Queues in the switch (cpumap keys must be below it). */
  readonly queues: number;

  constructor(shared: SharedMap) {
    this.spec = shared.spec;
    this.maxEntries = shared.spec.maxEntries;
    this.queues = shared.queues;
    this.words = new Int32Array(shared.buffers[0]);
  }

  /** Checks a value before it is stored; throws MapError with the reason. */
  protected abstract check(index: number, value: number): void;

  /** Hot path: the value at `index`, or -1 when empty or out of range. */
  get(index: number): number {
    if (index >>> 0 !== index || index >= this.maxEntries) return -1;
    // Pairs with the Atomics.store in update()/delete().
    return Atomics.load(this.words, SLOT_HEADER + index) - 1;
  }

  private index(key: Uint8Array): number {
    checkSize(`${this.spec.type} key`, key.length, 4);
    return (key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24)) >>> 0;
  }

  lookupInto(key: Uint8Array, out: Uint8Array): boolean {
    const v = this.get(this.index(key));
    if (v < 0) return false;
    out.fill(0);
    new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(0, v, true);
    return true;
  }

  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    const i = this.index(key);
    checkSize(`${this.spec.type} value`, value.length, this.spec.valueSize);
    if (i >= this.maxEntries) throw new MapError(`${this.spec.type} update: index ${i} is out of range (maxEntries ${this.maxEntries})`);
    const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
    const v = dv.getUint32(0, true);
    if (value.length === 8 && dv.getUint32(4, true) !== 0) throw new MapError(`${this.spec.type} update: attaching a program to an entry is not supported (second word must be 0)`);
    if (v >= 0x7fffffff) throw new MapError(`${this.spec.type} update: value ${v} is out of range`);
    this.check(i, v);
    lock(this.words);
    try {
      const present = this.words[SLOT_HEADER + i] !== 0;
      if (flags === BPF_NOEXIST && present) throw new MapError(`${this.spec.type} update: key ${i} already exists (BPF_NOEXIST given)`);
      if (flags === BPF_EXIST && !present) throw new MapError(`${this.spec.type} update: no such key ${i} (BPF_EXIST given)`);
      Atomics.store(this.words, SLOT_HEADER + i, v + 1); // pairs with get()
      // After the slot: a broadcast that sees the new mark also sees the slot. Pairs with
      // the Atomics.load of H_HIGH in Devmap.redirectLookup().
      if (i + 1 > this.words[H_HIGH]) Atomics.store(this.words, H_HIGH, i + 1);
    } finally {
      unlock(this.words);
    }
  }

  delete(key: Uint8Array): boolean {
    const i = this.index(key);
    if (i >= this.maxEntries) return false;
    lock(this.words);
    try {
      // Pairs with get(): a reader sees the entry or its absence.
      return Atomics.exchange(this.words, SLOT_HEADER + i, 0) !== 0;
    } finally {
      unlock(this.words);
    }
  }

  *entries(): Iterable<[Uint8Array, Uint8Array]> {
    for (let i = 0; i < this.maxEntries; i++) {
      const v = this.get(i);
      if (v < 0) continue;
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, i, true);
      const value = new Uint8Array(this.spec.valueSize);
      new DataView(value.buffer).setUint32(0, v, true);
      yield [key, value];
    }
  }
}
