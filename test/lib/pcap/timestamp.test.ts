/**
 * 64-bit timestamp arithmetic without BigInt, checked against BigInt on seeded values
 * across resolutions (10^0 … 10^12, 2^0 … 2^40) and at the edges of u32/u64.
 */
import { describe, expect, it } from 'vitest';
import { decodeTsresol, secNsecToNanos, unitsToSecNsec } from '../../../lib/pcap/timestamp.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

describe('timestamps', () => {
  it('decodes if_tsresol in both forms', () => {
    expect(decodeTsresol(6)).toEqual({ unitsPerSecond: 1e6, base: 10, exponent: 6 });
    expect(decodeTsresol(9)).toEqual({ unitsPerSecond: 1e9, base: 10, exponent: 9 });
    expect(decodeTsresol(0x80 | 10)).toEqual({ unitsPerSecond: 1024, base: 2, exponent: 10 });
  });

  it('units → seconds + nanoseconds equals the BigInt result', () => {
    const r = rng(7);
    const out = { tsSec: 0, tsNsec: 0 };
    const bytes = [0, 3, 6, 9, 12, 0x80, 0x80 | 20, 0x80 | 30, 0x80 | 40];
    const edges: [number, number][] = [
      [0, 0],
      [0, 0xffffffff],
      [0xffffffff, 0xffffffff],
      [0x7fffffff, 0],
      [1, 0],
    ];
    for (const b of bytes) {
      const res = decodeTsresol(b);
      const u = BigInt(res.base) ** BigInt(res.exponent);
      const cases = [...edges, ...Array.from({ length: 2000 }, () => [r(), r()] as [number, number])];
      for (const [hi, lo] of cases) {
        const v = (BigInt(hi) << 32n) | BigInt(lo);
        unitsToSecNsec(hi, lo, res, out);
        const sec = v / u;
        const nsec = ((v - sec * u) * 1_000_000_000n) / u;
        // Seconds are exact up to 2^53; beyond that (coarse resolutions) they are rounded.
        if (sec < 2n ** 53n) expect(out.tsSec, `${b} ${hi} ${lo}`).toBe(Number(sec));
        else expect(Math.abs(out.tsSec / Number(sec) - 1)).toBeLessThan(1e-15);
        // 2^-n resolutions multiply the remainder in doubles: at most 1 ns off.
        if (res.base === 10) expect(out.tsNsec, `${b} ${hi} ${lo}`).toBe(Number(nsec));
        else expect(Math.abs(out.tsNsec - Number(nsec))).toBeLessThanOrEqual(1);
      }
    }
  });

  it('seconds + nanoseconds → nanosecond halves equals the BigInt result', () => {
    const r = rng(9);
    const out = { high: 0, low: 0 };
    const cases: [number, number][] = [
      [0, 0],
      [0xffffffff, 999_999_999],
      [1_700_000_000, 123_456_789],
      ...Array.from({ length: 5000 }, () => [r(), r() % 1e9] as [number, number]),
    ];
    for (const [s, ns] of cases) {
      secNsecToNanos(s, ns, out);
      const v = BigInt(s) * 1_000_000_000n + BigInt(ns);
      expect([out.high, out.low], `${s}.${ns}`).toEqual([Number(v >> 32n), Number(v & 0xffffffffn)]);
    }
  });
});
