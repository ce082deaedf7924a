/**
 * wordCopy against a byte-by-byte reference, at every pair of alignments modulo 8 and
 * lengths around each word size, over bytes that hold NaNs of every kind (signalling,
 * quiet with a payload, negative) at every 8-byte boundary: a Float64 word that lost one
 * bit would show. Run until the optimizing compiler has the loop (the tiers differ in how
 * they load and store doubles), and checked in every tier it passed through.
 */
import { describe, expect, it } from 'vitest';
import { F64_KEEPS_BITS, Views, wordCopy } from '../../lib/word-copy.js';

const NANS = [
  [0x7ff00001, 0x12345678], // signalling, payload in both halves
  [0x7ff80000, 0xdeadbeef], // quiet with a payload
  [0xfff7ffff, 0xffffffff], // negative signalling, all payload bits
  [0xfff80000, 0x00000000], // the default NaN, negative
];

function fill(b: Uint8Array, seed: number): void {
  let x = seed;
  for (let i = 0; i < b.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    b[i] = x >>> 24;
  }
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0, k = 0; i + 8 <= b.length; i += 24, k++) {
    const [hi, lo] = NANS[k & 3];
    dv.setUint32(i, lo, true);
    dv.setUint32(i + 4, hi, true);
  }
}

describe('wordCopy', () => {
  it('this engine keeps a NaN\'s bits through Float64 words (the fast path is on)', () => {
    expect(F64_KEEPS_BITS).toBe(true);
  });

  it('copies exactly, at every alignment pair and length, between buffers and within one, in every compiler tier', () => {
    const a = new Views(new SharedArrayBuffer(16384));
    const b = new Views(new SharedArrayBuffer(16384));
    const lengths = [0, 1, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 100, 1460, 1514, 4096];
    let checked = 0;
    // Rounds: the first runs interpreted, later ones compiled; each is checked.
    for (let round = 0; round < 40; round++) {
      for (let so = 0; so < 8; so++) {
        for (let dof = 0; dof < 8; dof++) {
          for (const n of lengths) {
            for (const [dst, src, s, d] of [
              [b, a, 64 + so, 128 + dof],
              [a, a, 64 + so, 8192 + dof], // within one buffer, apart
            ] as const) {
              fill(src.b8.subarray(s, s + n), round * 1000 + so * 8 + dof);
              dst.b8.fill(0xa5, d - 8, d + n + 8);
              wordCopy(dst, d, src, s, n);
              if (round % 10 !== 0 && round !== 39) continue;
              checked++;
              for (let i = 0; i < n; i++) if (dst.b8[d + i] !== src.b8[s + i]) expect.fail(`round ${round}, src ≡ ${so}, dst ≡ ${dof} mod 8, ${n} bytes: byte ${i} is ${dst.b8[d + i]}, not ${src.b8[s + i]}`);
              // Nothing outside the range was written.
              for (let i = 1; i <= 8; i++) {
                if (dst.b8[d - i] !== 0xa5 || dst.b8[d + n - 1 + i] !== 0xa5) expect.fail(`round ${round}, src ≡ ${so}, dst ≡ ${dof}, ${n} bytes: a byte outside the range changed`);
              }
            }
          }
        }
      }
    }
    expect(checked).toBe(5 * 64 * lengths.length * 2);
  });
});
