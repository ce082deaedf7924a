import { describe, expect, it } from 'vitest';
import { createMap, openMap, LpmTrie, MapError, BPF_NOEXIST } from '../../../programs/maps/index.js';
import { lpmKey, maskTo } from '../../../programs/parse/addr.js';
import { randBytes, randInt, rng } from '../rng.js';

interface Ref {
  addr: Uint8Array;
  len: number;
  value: number;
}

function covers(p: Ref, a: Uint8Array): boolean {
  for (let i = 0; i < p.addr.length; i++) {
    const keep = Math.max(0, Math.min(8, p.len - 8 * i));
    const m = (0xff00 >> keep) & 0xff;
    if ((a[i] & m) !== p.addr[i]) return false;
  }
  return true;
}

function bruteForce(refs: Map<string, Ref>, a: Uint8Array): Ref | undefined {
  let best: Ref | undefined;
  for (const p of refs.values()) if (covers(p, a) && (!best || p.len > best.len)) best = p;
  return best;
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

function run(bytes: number, prefixes: number, queries: number, seed: number) {
  const r = rng(seed);
  const bits = bytes * 8;
  const trie = openMap(createMap({ type: 'lpm_trie', keySize: 4 + bytes, valueSize: 4, maxEntries: prefixes }, 1), 0) as LpmTrie;
  const refs = new Map<string, Ref>();
  const keyOf = (p: Ref) => `${p.len}/${p.addr.join('.')}`;
  while (refs.size < prefixes) {
    // Lengths spread over the whole range, with more long ones (as real tables have).
    const len = r() < 0.7 ? bits / 2 + randInt(r, bits / 2 + 1) : randInt(r, bits + 1);
    const p: Ref = { addr: maskTo(randBytes(r, bytes), len), len, value: randInt(r, 1 << 30) };
    if (refs.has(keyOf(p))) continue;
    refs.set(keyOf(p), p);
    trie.update(lpmKey(p), u32(p.value));
  }
  expect(trie.count).toBe(prefixes);
  const out = new Int32Array(1);
  const list = [...refs.values()];
  const check = () => {
    let hits = 0;
    for (let q = 0; q < queries; q++) {
      // Half the queries inside a known prefix, half anywhere.
      const a = randBytes(r, bytes);
      if (q & 1) {
        const p = list[randInt(r, list.length)];
        for (let i = 0; i < bytes; i++) {
          const keep = Math.max(0, Math.min(8, p.len - 8 * i));
          const m = (0xff00 >> keep) & 0xff;
          a[i] = (p.addr[i] & m) | (a[i] & ~m);
        }
      }
      const want = bruteForce(refs, a);
      const got = trie.lookupAt(a, 0, out);
      if (want === undefined) expect(got, `address ${a.join('.')}`).toBe(-1);
      else {
        hits++;
        expect([got, out[0]], `address ${a.join('.')}`).toEqual([want.len, want.value]);
      }
    }
    return hits;
  };
  expect(check()).toBeGreaterThan(queries / 2);
  // Delete half of the prefixes, change the value of some others, and check again.
  for (const p of list) {
    if (r() < 0.5) {
      expect(trie.delete(lpmKey(p))).toBe(true);
      refs.delete(keyOf(p));
    } else if (r() < 0.3) {
      p.value = randInt(r, 1 << 30);
      trie.update(lpmKey(p), u32(p.value));
    }
  }
  expect(trie.count).toBe(refs.size);
  list.splice(0, list.length, ...refs.values());
  check();
  // entries() gives back exactly the live prefixes.
  const dumped = new Set([...trie.entries()].map(([k]) => `${new DataView(k.buffer).getUint32(0, true)}/${[...k.subarray(4)].join('.')}`));
  expect(dumped).toEqual(new Set(refs.keys()));
  // Delete everything: every node but the root is given back.
  for (const p of list) trie.delete(lpmKey(p));
  expect(trie.count).toBe(0);
  expect(trie.nodesUsed).toBe(1);
  expect(trie.lookupAt(randBytes(r, bytes), 0, out)).toBe(-1);
}

describe('lpm_trie against a brute-force reference', () => {
  it('IPv4: 4000 seeded random prefixes, 20000 lookups, then deletes and updates', () => run(4, 4000, 20000, 1));
  it('IPv6: 2000 seeded random prefixes, 6000 lookups, then deletes and updates', () => run(16, 2000, 6000, 2));

  it('honours the key prefixlen in lookupInto and the update flags; a full map refuses', () => {
    const t = openMap(createMap({ type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 2 }, 1), 0);
    t.update(lpmKey({ addr: Uint8Array.of(10, 0, 0, 0), len: 8 }), u32(8));
    t.update(lpmKey({ addr: Uint8Array.of(10, 1, 0, 0), len: 16 }), u32(16));
    const out = new Uint8Array(4);
    expect(t.lookupInto(lpmKey({ addr: Uint8Array.of(10, 1, 2, 3), len: 32 }), out)).toBe(true);
    expect(out[0]).toBe(16);
    expect(t.lookupInto(lpmKey({ addr: Uint8Array.of(10, 1, 2, 3), len: 12 }), out)).toBe(true);
    expect(out[0]).toBe(8);
    expect(() => t.update(lpmKey({ addr: Uint8Array.of(10, 0, 0, 0), len: 8 }), u32(1), BPF_NOEXIST)).toThrow(/already exists/);
    expect(() => t.update(lpmKey({ addr: Uint8Array.of(11, 0, 0, 0), len: 8 }), u32(1))).toThrow(MapError);
    expect(() => t.update(lpmKey({ addr: Uint8Array.of(11, 0, 0, 0), len: 8 }), u32(1))).toThrow(/full/);
    expect(() => t.update(Uint8Array.of(33, 0, 0, 0, 1, 2, 3, 4), u32(1))).toThrow(/prefixlen 33/);
  });

  it('a default route (/0) and host routes (/32) coexist', () => {
    const t = openMap(createMap({ type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 4 }, 1), 0) as LpmTrie;
    t.update(lpmKey({ addr: new Uint8Array(4), len: 0 }), u32(100));
    t.update(lpmKey({ addr: Uint8Array.of(192, 0, 2, 1), len: 32 }), u32(200));
    const out = new Int32Array(1);
    expect(t.lookupV4(Uint8Array.of(192, 0, 2, 1), 0, out)).toBe(32);
    expect(out[0]).toBe(200);
    expect(t.lookupV4(Uint8Array.of(192, 0, 2, 2), 0, out)).toBe(0);
    expect(out[0]).toBe(100);
    t.delete(lpmKey({ addr: new Uint8Array(4), len: 0 }));
    expect(t.lookupV4(Uint8Array.of(192, 0, 2, 2), 0, out)).toBe(-1);
  });
});
