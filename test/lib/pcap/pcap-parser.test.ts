/**
 * Why the reader is our own (docs/pcap.md): pcap-parser 0.2.1, the package on the user's
 * list, reads microsecond pcap but rejects nanosecond pcap and pcapng, and drops a
 * truncated last record without a word. These tests pin that behaviour down, so the
 * decision is revisited if a new version changes it.
 */
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PcapError } from '../../../lib/pcap/error.js';
import { PcapReader } from '../../../lib/pcap/reader.js';
import { NgBuilder, classicFile, udpFrame } from './helpers.js';

interface ParserEvents {
  on(ev: 'packet', fn: (p: { header: { capturedLength: number }; data: Buffer }) => void): void;
  on(ev: 'error', fn: (e: Error) => void): void;
  on(ev: 'end', fn: () => void): void;
}
const pcapParser = createRequire(import.meta.url)('pcap-parser') as { parse(input: Readable): ParserEvents };

async function parseWithPcapParser(bytes: Buffer): Promise<{ packets: number; errors: string[]; ends: number }> {
  const out = { packets: 0, errors: [] as string[], ends: 0 };
  const p = pcapParser.parse(Readable.from([bytes]));
  p.on('packet', () => out.packets++);
  p.on('error', (e) => out.errors.push(e.message));
  const ended = new Promise<void>((r) => p.on('end', () => (out.ends++, r())));
  await ended;
  // A second 'end' (the parser's double signal on error) comes from the same stream turn.
  await new Promise((r) => setTimeout(r, 20));
  return out;
}

const recs = (n: number) => Array.from({ length: n }, (_, i) => ({ sec: i, frac: 5, data: udpFrame(i, 80) }));

describe('pcap-parser 0.2.1 (why it is not used)', () => {
  it('reads microsecond pcap in both byte orders (as ours does)', async () => {
    for (const le of [true, false]) {
      const f = classicFile({ le, ns: false, records: recs(5) });
      expect((await parseWithPcapParser(f)).packets).toBe(5);
      expect(PcapReader.readAll(f).length).toBe(5);
    }
  });

  it('rejects nanosecond pcap, which ours reads', async () => {
    const f = classicFile({ le: true, ns: true, records: recs(5) });
    const r = await parseWithPcapParser(f);
    expect(r.packets).toBe(0);
    expect(r.errors).toEqual(['unknown magic number: 4d3cb2a1']);
    expect(r.ends).toBe(2); // and signals the end twice
    expect(PcapReader.readAll(f).map((p) => p.tsNsec)).toEqual([5, 5, 5, 5, 5]);
  });

  it('rejects pcapng, which ours reads', async () => {
    const f = new NgBuilder().shb().idb().epb(0, 1n, udpFrame(0)).bytes();
    const r = await parseWithPcapParser(f);
    expect(r.packets).toBe(0);
    expect(r.errors[0]).toMatch(/unknown magic number: 0a0d0d0a/);
    expect(PcapReader.readAll(f).length).toBe(1);
  });

  it('drops a truncated last record silently; ours says where it was cut', async () => {
    const f = classicFile({ le: true, ns: false, records: recs(3) }).subarray(0, -20);
    const r = await parseWithPcapParser(f);
    expect(r.packets).toBe(2);
    expect(r.errors).toEqual([]);
    expect(() => PcapReader.readAll(f, { name: 'cut.pcap' })).toThrow(
      new PcapError('truncated', 'cut.pcap', 216, 'truncated record at byte 216: header says 80 bytes, 60 remain'),
    );
  });
});
