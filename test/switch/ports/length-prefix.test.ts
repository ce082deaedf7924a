import { describe, expect, it } from 'vitest';
import { LengthPrefixReader } from '../../../switch/ports/net/length-prefix.js';
import { ethFrame } from '../../support/fake-io.js';

function record(f: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(f.length);
  return Buffer.concat([h, f]);
}

/** Deterministic chunk sizes from a seed (xorshift). */
function* chunkSizes(seed: number, max: number): Generator<number> {
  let x = seed >>> 0 || 1;
  for (;;) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    yield 1 + (x % max);
  }
}

describe('length-prefixed stream reassembly', () => {
  const frames = Array.from({ length: 200 }, (_, i) => ethFrame(14 + ((i * 97) % 1500), i));
  const wire = Buffer.concat(frames.map(record));

  for (const [name, seed, max] of [
    ['one byte at a time', 0, 1],
    ['small random chunks', 7, 9],
    ['chunks around a frame size', 11, 1600],
    ['large chunks', 3, 65536],
  ] as const) {
    it(`delivers every frame intact: ${name}`, () => {
      const got: Buffer[] = [];
      const r = new LengthPrefixReader(1792, (b, o, len) => got.push(Buffer.from(b.subarray(o, o + len))));
      const sizes = max === 1 ? (function* () { for (;;) yield 1; })() : chunkSizes(seed, max);
      for (let pos = 0; pos < wire.length; ) {
        const n = Math.min(sizes.next().value as number, wire.length - pos);
        // Each chunk is its own buffer, as a socket delivers them, and reused afterwards.
        const chunk = Buffer.from(wire.subarray(pos, pos + n));
        expect(r.feed(chunk, 0, n)).toBe(true);
        chunk.fill(0xaa);
        pos += n;
      }
      expect(got.length).toBe(frames.length);
      for (let i = 0; i < frames.length; i++) expect(got[i].equals(frames[i])).toBe(true);
      expect(r.midRecord).toBe(false);
    });
  }

  it('stops at a length no frame can have, whatever came before in the chunk', () => {
    const got: number[] = [];
    const r = new LengthPrefixReader(1792, (_b, _o, len) => got.push(len));
    const bad = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
    expect(r.feed(Buffer.concat([record(ethFrame(60)), bad, record(ethFrame(60))]), 0, 64 + 8)).toBe(false);
    expect(r.badLength).toBe(0xdeadbeef);
    expect(got).toEqual([60]);
    // A length split across chunks is checked as well.
    const r2 = new LengthPrefixReader(1792, () => got.push(-1));
    expect(r2.feed(Buffer.from([0, 0]), 0, 2)).toBe(true);
    expect(r2.feed(Buffer.from([0x07, 0x01]), 0, 2)).toBe(false);
    expect(r2.badLength).toBe(1793);
  });

  it('delivers zero and tiny lengths for the port to count, and reports a cut record', () => {
    const got: number[] = [];
    const r = new LengthPrefixReader(1792, (_b, _o, len) => got.push(len));
    expect(r.feed(Buffer.from([0, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 0, 0]), 0, 13)).toBe(true);
    expect(got).toEqual([0, 3]);
    expect(r.midRecord).toBe(true);
    r.reset();
    expect(r.midRecord).toBe(false);
  });
});
