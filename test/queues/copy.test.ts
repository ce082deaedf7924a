/**
 * The frame-copy module (queues/copy.ts): each copier at every alignment of source and
 * destination, lengths around its thresholds, sources that are views starting at odd
 * offsets, and buffers that change under a copier that remembers views. The expected bytes
 * come from Buffer's own slicing; guard bytes around each copy must stay untouched.
 */
import { describe, expect, it } from 'vitest';
import { BULK_COPY_MIN, ByteCopier, copyBytes, LOOP_COPY_MAX, StagingCopier } from '../../queues/copy.js';
import { moveBytes } from '../../lib/net/move.js';

describe('StagingCopier', () => {
  it('copies exactly the bytes asked for, at any alignment and length', () => {
    const backing = new Uint8Array(new SharedArrayBuffer(8192));
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 31 + 7) & 0xff;
    const dst = Buffer.from(new ArrayBuffer(4096));
    const c = new StagingCopier(dst);
    const lengths = [0, 1, 3, 4, 5, 15, 16, 17, 60, 63, 64, 65, 255, 256, 257, 300, 1500];
    // Sources: the whole area, and views starting 1, 2, 3 bytes in (not word aligned).
    for (const start of [0, 1, 2, 3]) {
      const src = start === 0 ? backing : backing.subarray(start);
      for (const len of lengths) {
        for (let so = 0; so < 4; so++) {
          for (let d = 0; d < 4; d++) {
            dst.fill(0xee);
            const off = 100 + so;
            const at = 40 + d;
            c.copy(src, off, len, at);
            expect(Buffer.compare(dst.subarray(at, at + len), Buffer.from(src.subarray(off, off + len))), `start ${start} len ${len} so ${so} d ${d}`).toBe(0);
            expect(dst[at - 1]).toBe(0xee);
            expect(dst[at + len]).toBe(0xee);
          }
        }
      }
    }
  });

  it('copies up to the last byte of a source whose buffer ends off a word boundary', () => {
    const dst = Buffer.from(new ArrayBuffer(4096));
    const c = new StagingCopier(dst);
    for (const len of [1, 2, 3, 5, 6, 7, 63, 64, 65, 257, 1514]) {
      const src = new Uint8Array(new ArrayBuffer(len + 3)).subarray(3); // ends at the buffer's end
      for (let i = 0; i < len; i++) src[i] = (i * 13 + 1) & 0xff;
      for (const at of [0, 1, 2, 3]) {
        dst.fill(0);
        c.copy(src, 0, len, at);
        expect(Buffer.compare(dst.subarray(at, at + len), Buffer.from(src)), `len ${len} at ${at}`).toBe(0);
      }
    }
  });

  it('with frame geometry: long frames at the headroom go by frame view, the rest by words', () => {
    const area = new Uint8Array(new SharedArrayBuffer(8 * 2048));
    for (let i = 0; i < area.length; i++) area[i] = (i * 7 + 3) & 0xff;
    const dst = Buffer.from(new ArrayBuffer(4096));
    const c = new StagingCopier(dst).useFrames(2048, 256);
    const cases: [number, number, number][] = [
      [3 * 2048 + 256, 1500, 1], // view path
      [3 * 2048 + 256, 1792, 0], // a full frame
      [5 * 2048 + 250, 1500, 2], // head moved by a program: words
      [7 * 2048 + 256, 1500, 4096 - 1600], // no room for the whole view in dst: words
      [2 * 2048 + 256, 100, 3], // short: words
    ];
    for (const [off, len, at] of cases) {
      dst.fill(0);
      c.copy(area, off, len, at);
      expect(Buffer.compare(dst.subarray(at, at + len), Buffer.from(area.subarray(off, off + len))), `${off} ${len} ${at}`).toBe(0);
      if (at > 0) expect(dst[at - 1]).toBe(0);
    }
  });

  it('refuses an unaligned destination', () => {
    expect(() => new StagingCopier(Buffer.from(new ArrayBuffer(64)).subarray(1))).toThrow(/aligned/);
  });
});

/** A SharedArrayBuffer-backed array filled with a position-dependent pattern. */
function patterned(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(new SharedArrayBuffer(n));
  for (let i = 0; i < n; i++) a[i] = (i * 31 + seed) & 0xff;
  return a;
}

const expectCopied = (dst: Uint8Array, at: number, src: Uint8Array, off: number, len: number, what: string) => {
  expect(Buffer.compare(Buffer.from(dst.buffer, dst.byteOffset + at, len), Buffer.from(src.buffer, src.byteOffset + off, len)), what).toBe(0);
  if (at > 0) expect(dst[at - 1], `${what}: byte before`).toBe(0xee);
  if (at + len < dst.length) expect(dst[at + len], `${what}: byte after`).toBe(0xee);
};

describe('ByteCopier', () => {
  it('copies exactly the bytes asked for, at any alignment, length and view offset', () => {
    const backing = patterned(8192, 7);
    const dstBacking = new Uint8Array(new SharedArrayBuffer(4096));
    const c = new ByteCopier();
    for (const start of [0, 1, 2, 3]) {
      const src = backing.subarray(start);
      for (const dstStart of [0, 2]) {
        const dst = dstBacking.subarray(dstStart);
        for (const len of [0, 1, 3, 4, 15, 16, 17, 63, 64, 65, 1500]) {
          for (let so = 0; so < 4; so++) {
            for (let d = 0; d < 4; d++) {
              dst.fill(0xee);
              c.copy(dst, 40 + d, src, 100 + so, len);
              expectCopied(dst, 40 + d, src, 100 + so, len, `start ${start} dst ${dstStart} len ${len} so ${so} d ${d}`);
            }
          }
        }
      }
    }
  });

  it('follows a change of buffer on either side (it remembers the last views)', () => {
    const a = patterned(4096, 1);
    const b = patterned(4096, 2);
    const x = new Uint8Array(new SharedArrayBuffer(4096));
    const y = new Uint8Array(new SharedArrayBuffer(4096));
    const c = new ByteCopier();
    for (const [dst, src, what] of [[x, a, 'a→x'], [x, b, 'b→x'], [y, b, 'b→y'], [x, a, 'a→x again'], [y, a.subarray(256), 'view of a→y']] as const) {
      dst.fill(0xee);
      c.copy(dst, 64, src, 128, 300);
      expectCopied(dst, 64, src, 128, 300, what);
    }
  });
});

describe('ByteCopier: copies of BULK_COPY_MIN bytes and more', () => {
  it('copies exactly the bytes asked for, by memcpy where both ends share their offset modulo 8 and by words where not', () => {
    const src = patterned(3 * 65536, 3);
    const dst = new Uint8Array(new SharedArrayBuffer(3 * 65536));
    const c = new ByteCopier();
    for (const len of [BULK_COPY_MIN - 1, BULK_COPY_MIN, BULK_COPY_MIN + 3, 23414, 65535]) {
      for (const so of [0, 4, 6]) {
        for (const d of [0, 2, 4, 12]) {
          dst.fill(0xee);
          c.copy(dst, 64 + d, src, 1024 + so, len);
          expectCopied(dst, 64 + d, src, 1024 + so, len, `len ${len} so ${so} d ${d}`);
        }
      }
    }
  });

  it('a remembered view copies the source as it is now, and a new length or offset at the same place is not served from the old view', () => {
    const src = patterned(65536 * 2, 9);
    const dst = new Uint8Array(new SharedArrayBuffer(65536 * 2));
    const c = new ByteCopier();
    for (const [off, len, seed] of [[256, 20000, 1], [256, 20000, 2], [256, 30000, 3], [264, 30000, 4], [256, 20000, 5]] as const) {
      for (let i = 0; i < src.length; i++) src[i] = (i * 17 + seed) & 0xff; // the frame's bytes change between copies
      dst.fill(0xee);
      c.copy(dst, 4096 + (off & 7), src, off, len);
      expectCopied(dst, 4096 + (off & 7), src, off, len, `off ${off} len ${len} seed ${seed}`);
    }
  });

  it('after a change of source buffer, a view of the old one is never used', () => {
    const a = patterned(65536, 1);
    const b = patterned(65536, 2);
    const dst = new Uint8Array(new SharedArrayBuffer(65536));
    const c = new ByteCopier();
    for (const [src, what] of [[a, 'a'], [b, 'b at the same offset and length'], [a, 'a again']] as const) {
      dst.fill(0xee);
      c.copy(dst, 8, src, 256, 8192);
      expectCopied(dst, 8, src, 256, 8192, what);
    }
  });
});

describe('moveBytes (GSO and GRO, inside the frame area)', () => {
  it('copies exactly the bytes asked for when the ends differ by 4, 2 or 0 modulo 8', () => {
    const area = patterned(65536, 11);
    for (const len of [0, 1, 63, 64, 65, 1460, 1461, 9000]) {
      for (const so of [310, 311]) {
        for (const d of [40000, 40002, 40004, 40006]) {
          const copy = Buffer.from(area.slice(so, so + len));
          area.fill(0xee, d - 8, d + len + 8);
          moveBytes(area, d, area, so, len);
          expect(Buffer.compare(Buffer.from(area.buffer, d, len), copy), `len ${len} so ${so} d ${d}`).toBe(0);
          expect(area[d - 1]).toBe(0xee);
          expect(area[d + len]).toBe(0xee);
        }
      }
    }
  });
});

describe('copyBytes', () => {
  it('copies exactly the bytes asked for, below, at and above the loop threshold', () => {
    const src = Buffer.from(patterned(4096, 5));
    const dst = new Uint8Array(new SharedArrayBuffer(4096));
    for (const len of [0, 1, 64, LOOP_COPY_MAX - 1, LOOP_COPY_MAX, LOOP_COPY_MAX + 1, 1500]) {
      for (const [so, d] of [[0, 0], [1, 3], [7, 2]]) {
        dst.fill(0xee);
        copyBytes(src, so, dst, 32 + d, len);
        expectCopied(dst, 32 + d, src, so, len, `len ${len} so ${so} d ${d}`);
      }
    }
  });
});
