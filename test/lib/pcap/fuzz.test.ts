/**
 * Seeded corruptions of valid captures: whatever the bytes, the reader ends or throws a
 * PcapError — never another exception, never a hang. Both in memory and through a file
 * window small enough that blocks straddle refills.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapError } from '../../../lib/pcap/error.js';
import { PcapReader, type ReaderOptions } from '../../../lib/pcap/reader.js';
import { NgBuilder, classicFile, tempDir, udpFrame } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

/** mulberry32: a small seeded generator, so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const classic = classicFile({
  le: true,
  ns: true,
  records: Array.from({ length: 6 }, (_, i) => ({ sec: i, frac: i * 1000, data: udpFrame(i, 60 + i * 40) })),
});
const ngb = new NgBuilder().shb().idb({ tsresol: 9 }).idb({ tsresol: 0x80 | 10 });
for (let i = 0; i < 5; i++) ngb.epb(i % 2, BigInt(i) * 1000n, udpFrame(i, 60 + i * 50), { options: [ngb.option(1, Buffer.from('c' + i))] });
ngb.spb(udpFrame(9, 64));
const pcapng = ngb.bytes();

const BOUNDARY = [0, 1, 3, 4, 11, 12, 16, 28, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff, 262144, 262145, 1 << 24];

function mutate(base: Buffer, r: () => number): Buffer {
  let b = Buffer.from(base);
  const kind = Math.floor(r() * 5);
  const pos = () => Math.floor(r() * b.length);
  switch (kind) {
    case 0: // flip a few bytes
      for (let k = 1 + Math.floor(r() * 8); k > 0; k--) b[pos()] = Math.floor(r() * 256);
      break;
    case 1: // truncate
      b = b.subarray(0, pos());
      break;
    case 2: {
      // a u32 set to a boundary value, at a 4-aligned place (where lengths live)
      const at = pos() & ~3;
      if (at + 4 <= b.length) b.writeUInt32LE(BOUNDARY[Math.floor(r() * BOUNDARY.length)], at);
      break;
    }
    case 3: {
      // bytes inserted or removed in the middle
      const at = pos();
      const n = 1 + Math.floor(r() * 16);
      b = r() < 0.5 ? Buffer.concat([b.subarray(0, at), Buffer.alloc(n, 0xa5), b.subarray(at)]) : Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
      break;
    }
    default: {
      // a u16 (option codes and lengths, versions, link types) set at random
      const at = pos() & ~1;
      if (at + 2 <= b.length) b.writeUInt16LE(Math.floor(r() * 65536), at);
    }
  }
  return b;
}

function readAllOrPcapError(open: () => PcapReader, limit: number): 'ok' | 'error' {
  let r: PcapReader | null = null;
  try {
    r = open();
    let n = 0;
    while (r.next()) {
      if (++n > limit) throw new Error(`more records than bytes allow: ${n}`);
      const rec = r.record;
      // Every record the reader returns lies inside its buffer.
      if (rec.dataOffset < 0 || rec.dataOffset + rec.capLen > rec.data.length) throw new Error('record outside its buffer');
      if (!Number.isFinite(rec.tsSec) || !Number.isFinite(rec.tsNsec)) throw new Error('timestamp not finite');
    }
    return 'ok';
  } catch (e) {
    if (e instanceof PcapError) return 'error';
    throw e;
  } finally {
    r?.close();
  }
}

describe.each([
  ['pcap', classic, 1],
  ['pcapng', pcapng, 2],
])('fuzzing %s', (label, base, seed) => {
  it('3000 in-memory corruptions: only PcapError, bounded', () => {
    const r = rng(seed);
    const tally = { ok: 0, error: 0 };
    for (let i = 0; i < 3000; i++) {
      const b = mutate(base, r);
      const opts: ReaderOptions = { maxFrameLength: 1792, oversize: i % 2 ? 'skip' : 'error' };
      tally[readAllOrPcapError(() => PcapReader.fromBuffer(b, opts), b.length / 12 + 1)]++;
    }
    // Both outcomes occur: the mutations reach the checks and also leave readable files.
    expect(tally.error).toBeGreaterThan(500);
    expect(tally.ok).toBeGreaterThan(100);
  });

  it('300 corruptions read from disk through a 64-byte window', () => {
    const r = rng(seed + 100);
    const file = tmp.file(`fuzz.${label}`);
    for (let i = 0; i < 300; i++) {
      const b = mutate(base, r);
      writeFileSync(file, b);
      const viaFile = readAllOrPcapError(() => PcapReader.open(file, { windowSize: 64, maxFrameLength: 1792 }), b.length / 12 + 1);
      const viaMemory = readAllOrPcapError(() => PcapReader.fromBuffer(b, { maxFrameLength: 1792 }), b.length / 12 + 1);
      expect(viaFile).toBe(viaMemory);
    }
  });
});
