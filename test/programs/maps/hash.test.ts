import { describe, expect, it } from 'vitest';
import { createMap, openMap, HashMap, ArrayMap, BPF_EXIST, BPF_NOEXIST } from '../../../programs/maps/index.js';
import { randBytes, randInt, rng } from '../rng.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('hash map against a reference Map', () => {
  for (const keySize of [4, 6, 16]) {
    it(`keySize ${keySize}: 30000 seeded random inserts/updates/deletes/lookups`, () => {
      const r = rng(keySize);
      const max = 2000;
      const m = openMap(createMap({ type: 'hash', keySize, valueSize: 12, maxEntries: max }, 2), 0) as HashMap;
      const ref = new Map<string, Uint8Array>();
      // Keys drawn from a pool 2× the capacity, so chains, misses and a full map all happen.
      const pool = Array.from({ length: 2 * max }, () => randBytes(r, keySize));
      const out = new Uint8Array(12);
      for (let op = 0; op < 30000; op++) {
        const k = pool[randInt(r, pool.length)];
        const x = r();
        if (x < 0.45) {
          const v = randBytes(r, 12);
          if (ref.size >= max && !ref.has(hex(k))) {
            expect(() => m.update(k, v)).toThrow(/full/);
          } else {
            m.update(k, v);
            ref.set(hex(k), v);
          }
        } else if (x < 0.7) {
          expect(m.delete(k)).toBe(ref.delete(hex(k)));
        } else {
          const want = ref.get(hex(k));
          expect(m.lookupInto(k, out)).toBe(want !== undefined);
          if (want) expect(hex(out)).toBe(hex(want));
        }
      }
      expect(m.count).toBe(ref.size);
      const dumped = new Map([...m.entries()].map(([k, v]) => [hex(k), hex(v)]));
      expect(dumped).toEqual(new Map([...ref].map(([k, v]) => [k, hex(v)])));
    });
  }

  it('BPF_NOEXIST / BPF_EXIST', () => {
    const m = openMap(createMap({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4 }, 1), 0);
    const k = Uint8Array.of(1, 2, 3, 4);
    expect(() => m.update(k, Uint8Array.of(1, 0, 0, 0), BPF_EXIST)).toThrow(/no such key/);
    m.update(k, Uint8Array.of(1, 0, 0, 0), BPF_NOEXIST);
    expect(() => m.update(k, Uint8Array.of(2, 0, 0, 0), BPF_NOEXIST)).toThrow(/already exists/);
    m.update(k, Uint8Array.of(3, 0, 0, 0), BPF_EXIST);
    const out = new Uint8Array(4);
    m.lookupInto(k, out);
    expect(out[0]).toBe(3);
    expect(() => m.update(Uint8Array.of(1, 2, 3), out)).toThrow(/key is 3 bytes/);
  });

  it('hot path: scratch key, acquire/release in place, updateScratch', () => {
    const m = openMap(createMap({ type: 'hash', keySize: 8, valueSize: 8, maxEntries: 8 }, 1), 0) as HashMap;
    m.keyBytes.set([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(m.acquire()).toBe(-1);
    m.valueWords[0] = 41;
    expect(m.updateScratch()).toBe(0);
    const e = m.acquire();
    expect(e).toBeGreaterThanOrEqual(0);
    m.words[m.valueWord(e)]++;
    m.release(e);
    const out = new Int32Array(2);
    expect(m.lookupScratch(out)).toBe(true);
    expect(out[0]).toBe(42);
    expect(m.deleteScratch()).toBe(true);
    expect(m.findScratch()).toBe(-1);
  });
});

describe('lru_hash', () => {
  it('a full map evicts entries not used since the last sweep, keeps the ones in use', () => {
    const max = 64;
    const m = openMap(createMap({ type: 'lru_hash', keySize: 4, valueSize: 4, maxEntries: max }, 1), 0) as HashMap;
    const key = (i: number) => Uint8Array.of(i & 255, i >> 8, 0, 0);
    const out = new Uint8Array(4);
    for (let i = 0; i < max; i++) m.update(key(i), key(i));
    // Insert as many again, touching keys 0..15 before every insert: they stay.
    for (let i = max; i < 2 * max; i++) {
      for (let h = 0; h < 16; h++) m.lookupInto(key(h), out);
      m.update(key(i), key(i));
      expect(m.count).toBe(max);
    }
    for (let h = 0; h < 16; h++) expect(m.lookupInto(key(h), out), `hot key ${h}`).toBe(true);
    let cold = 0;
    for (let i = 16; i < max; i++) if (m.lookupInto(key(i), out)) cold++;
    expect(cold).toBe(0);
    for (let i = max + 16; i < 2 * max; i++) expect(m.lookupInto(key(i), out)).toBe(true);
  });
});

describe('per-queue maps', () => {
  it('percpu_array: each queue adds to its own copy; entries() and sumU64 see them all', () => {
    const shared = createMap({ type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 4 }, 3);
    const qs = [0, 1, 2].map((q) => openMap(shared, q) as ArrayMap);
    qs[0].addU64(1, 0, 5);
    qs[1].addU64(1, 0, 0xffffffff);
    qs[1].addU64(1, 0, 2); // carries into the high word
    qs[2].addU64(1, 0, 1);
    expect(qs[0].sumU64(1, 0)).toBe(5 + 0xffffffff + 2 + 1);
    const [, v] = [...qs[0].entries()][1];
    expect(v.length).toBe(24);
    const dv = new DataView(v.buffer);
    expect([dv.getUint32(0, true), dv.getUint32(8, true), dv.getUint32(12, true), dv.getUint32(16, true)]).toEqual([5, 1, 1, 1]);
    expect(() => qs[0].delete(Uint8Array.of(0, 0, 0, 0))).toThrow(/cannot be deleted/);
    expect(() => qs[0].update(Uint8Array.of(9, 0, 0, 0), new Uint8Array(8))).toThrow(/out of range/);
  });

  it('percpu_hash: a program-side insert sets its own copy; the control plane sets all', () => {
    const shared = createMap({ type: 'percpu_hash', keySize: 4, valueSize: 4, maxEntries: 4 }, 2);
    const q1 = openMap(shared, 1) as HashMap;
    q1.keyWords[0] = 7;
    q1.valueWords[0] = 99;
    expect(q1.updateScratch()).toBe(0);
    const [[, v]] = [...q1.entries()];
    expect([...v]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0]);
    q1.update(Uint8Array.of(7, 0, 0, 0), Uint8Array.of(5, 0, 0, 0));
    const [[, w]] = [...q1.entries()];
    expect([w[0], w[8]]).toEqual([5, 5]);
  });
});
