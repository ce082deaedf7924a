/**
 * Write then read: classic pcap (µs and ns), pcapng, both byte orders; hand-built files
 * in the byte order opposite to ours; timestamps at the edges; annotations.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapReader } from '../../../lib/pcap/reader.js';
import { PacketMeta, createWriter, encodeComment, type WriterOptions } from '../../../lib/pcap/writer.js';
import { NgBuilder, classicFile, tempDir, udpFrame } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

// Seconds near the u32 limit and nanoseconds at both ends of the second.
const stamps: [number, number][] = [
  [0, 0],
  [1, 999_999_999],
  [1_700_000_000, 123_456_789],
  [4_294_967_295, 999_999_999],
  [1_234_567_890, 1],
];

function frames(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => udpFrame(i, 60 + ((i * 37) % 1455)));
}

describe.each<[string, WriterOptions, boolean]>([
  ['pcap ns le', { format: 'pcap', precision: 'ns' }, true],
  ['pcap us le', { format: 'pcap', precision: 'us' }, false],
  ['pcap ns be', { format: 'pcap', precision: 'ns', byteOrder: 'be' }, true],
  ['pcap us be', { format: 'pcap', precision: 'us', byteOrder: 'be' }, false],
  ['pcapng le', { format: 'pcapng' }, true],
  ['pcapng be', { format: 'pcapng', byteOrder: 'be' }, true],
])('round trip %s', (label, opts, ns) => {
  it('reads back every frame, length and timestamp', () => {
    const file = tmp.file(label.replace(/ /g, '-'));
    const w = createWriter(file, { ...opts, bufferSize: 4096 }); // small buffer: many flushes
    const fs = frames(200);
    fs.forEach((f, i) => {
      const [s, n] = stamps[i % stamps.length];
      // Write from inside a larger array, as the switch does from its frame area.
      const area = Buffer.alloc(f.length + 300);
      f.copy(area, 100);
      w.write(area, 100, f.length, s, n, f.length + (i % 3));
    });
    w.close();
    expect(w.packets).toBe(200);
    expect(readFileSync(file).length).toBe(w.bytes);

    const got = PcapReader.readAll(file);
    expect(got.length).toBe(200);
    got.forEach((p, i) => {
      const [s, n] = stamps[i % stamps.length];
      expect(p.data.equals(fs[i])).toBe(true);
      expect(p.origLen).toBe(fs[i].length + (i % 3));
      expect(p.tsSec).toBe(s);
      expect(p.tsNsec).toBe(ns ? n : Math.floor(n / 1000) * 1000);
    });
    const r = PcapReader.open(file);
    expect(r.format).toBe(opts.format);
    if (r.classic) {
      expect(r.classic.nanosecond).toBe(ns);
      expect(r.classic.littleEndian).toBe(opts.byteOrder !== 'be');
    } else {
      expect(r.pcapng!.littleEndian).toBe(opts.byteOrder !== 'be');
      r.next();
      expect(r.pcapng!.interfaces[0].resolution.unitsPerSecond).toBe(1e9);
    }
    r.close();
  });
});

describe('hand-built classic files', () => {
  for (const le of [true, false]) {
    for (const ns of [true, false]) {
      it(`${le ? 'little' : 'big'}-endian, ${ns ? 'ns' : 'µs'} magic`, () => {
        const recs = [0, 1, 2].map((i) => ({ sec: 1000 + i, frac: ns ? 999_999_000 + i : 999_990 + i, data: udpFrame(i, 64 + i) }));
        const got = PcapReader.readAll(classicFile({ le, ns, records: recs }));
        expect(got.map((p) => [p.tsSec, p.tsNsec, p.data.length])).toEqual(
          recs.map((r, i) => [r.sec, ns ? r.frac : r.frac * 1000, 64 + i]),
        );
        got.forEach((p, i) => expect(p.data.equals(recs[i].data)).toBe(true));
      });
    }
  }
  it('carries a fraction of a second ≥ 1 s into the seconds', () => {
    const got = PcapReader.readAll(classicFile({ le: true, ns: false, records: [{ sec: 5, frac: 2_500_000, data: udpFrame(0) }] }));
    expect([got[0].tsSec, got[0].tsNsec]).toEqual([7, 500_000_000]);
  });
});

describe('pcapng annotations and interfaces', () => {
  it('stores the XDP verdict, flags and a comment per packet, on several interfaces', () => {
    const file = tmp.file('annotated.pcapng');
    const w = createWriter(file, { format: 'pcapng', interfaces: ['p0', 'p1'] });
    const meta = new PacketMeta();
    const drop = encodeComment('verdict=DROP');
    for (let i = 0; i < 10; i++) {
      meta.interfaceId = i % 2;
      meta.verdict = i % 5;
      meta.flags = i % 2 === 0 ? 2 : -1; // outbound
      meta.comment = i % 3 === 0 ? drop : null;
      const f = udpFrame(i, 61 + i);
      w.write(f, 0, f.length, 100, i, f.length, meta);
    }
    w.write(udpFrame(99), 0, 64, 100, 99); // no meta at all
    w.close();
    const got = PcapReader.readAll(file);
    expect(got.length).toBe(11);
    for (let i = 0; i < 10; i++) {
      expect(got[i].interfaceId).toBe(i % 2);
      expect(got[i].verdict).toBe(i % 5);
      expect(got[i].flags).toBe(i % 2 === 0 ? 2 : -1);
      expect(got[i].comment).toBe(i % 3 === 0 ? 'verdict=DROP' : null);
      expect(got[i].data.equals(udpFrame(i, 61 + i))).toBe(true);
    }
    expect([got[10].verdict, got[10].flags, got[10].comment, got[10].interfaceId]).toEqual([-1, -1, null, 0]);
    const meta2 = new PacketMeta();
    meta2.interfaceId = 2;
    const w2 = createWriter(tmp.file('x.pcapng'), { format: 'pcapng' });
    expect(() => w2.write(udpFrame(0), 0, 64, 0, 0, 64, meta2)).toThrow(/interface 2 does not exist/);
    w2.close();
  });

  it('writes frames larger than its buffer straight through', () => {
    for (const format of ['pcap', 'pcapng'] as const) {
      const file = tmp.file(`big.${format}`);
      const w = createWriter(file, { format, bufferSize: 256 });
      const sizes = [64, 1000, 60, 9000, 255, 4000];
      sizes.forEach((s, i) => {
        const f = udpFrame(i, s);
        w.write(f, 0, s, 1, i);
      });
      w.close();
      const got = PcapReader.readAll(file);
      expect(got.map((p) => p.data.length)).toEqual(sizes);
      got.forEach((p, i) => expect(p.data.equals(udpFrame(i, sizes[i]))).toBe(true));
    }
  });

  it('reads a file streamed through a window smaller than the file', () => {
    const file = tmp.file('window.pcap');
    const w = createWriter(file);
    for (let i = 0; i < 3000; i++) w.write(udpFrame(i, 1514), 0, 1514, i, 0);
    w.close(); // ≈ 4.6 MB: several refills of the reader's 1 MiB window
    const r = PcapReader.open(file);
    let n = 0;
    while (r.next()) {
      expect(r.record.bytes().equals(udpFrame(n, 1514))).toBe(true);
      n++;
    }
    r.rewind();
    expect(r.next()).toBe(true);
    expect(r.record.bytes().equals(udpFrame(0, 1514))).toBe(true);
    r.close();
    expect(n).toBe(3000);
  });

  it('round-trips a hand-built pcapng through our writer', () => {
    const ng = new NgBuilder(false).shb().idb({ tsresol: 6 }).epb(0, 1_700_000_000_123_456n, udpFrame(1)).bytes();
    const p = PcapReader.readAll(ng)[0];
    const file = tmp.file('again.pcap');
    const w = createWriter(file);
    w.write(p.data, 0, p.data.length, p.tsSec, p.tsNsec);
    w.close();
    const q = PcapReader.readAll(file)[0];
    expect([q.tsSec, q.tsNsec]).toEqual([1_700_000_000, 123_456_000]);
  });
});
