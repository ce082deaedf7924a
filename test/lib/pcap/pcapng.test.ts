/**
 * pcapng reading, on files built block by block: several interfaces with their own
 * resolutions, simple and obsolete packet blocks, unknown blocks, several sections in
 * different byte orders.
 */
import { describe, expect, it } from 'vitest';
import { PcapReader } from '../../../lib/pcap/reader.js';
import { NgBuilder, udpFrame } from './helpers.js';

describe('pcapng reader', () => {
  it('reads EPBs on several interfaces, each with its if_tsresol (decimal and power of 2) and if_tsoffset', () => {
    const ng = new NgBuilder()
      .shb()
      .idb() // default: microseconds
      .idb({ tsresol: 9 })
      .idb({ tsresol: 0x80 | 20 }) // 2^-20 s
      .idb({ tsresol: 3, tsoffset: 1000 }) // ms, plus 1000 s
      .idb({ tsresol: 12 }) // picoseconds: beyond the limb fast path
      .epb(0, 1_700_000_000_654_321n, udpFrame(0))
      .epb(1, 1_700_000_000_123_456_789n, udpFrame(1))
      .epb(2, (5n << 20n) + (1n << 19n), udpFrame(2)) // 5.5 s
      .epb(3, 1_500n, udpFrame(3))
      .epb(4, 1_000_000_123_456_789_012n, udpFrame(4)) // 10^6 s in ps: near the u64 limit
      .bytes();
    const got = PcapReader.readAll(ng);
    expect(got.map((p) => [p.interfaceId, p.tsSec, p.tsNsec])).toEqual([
      [0, 1_700_000_000, 654_321_000],
      [1, 1_700_000_000, 123_456_789],
      [2, 5, 500_000_000],
      [3, 1001, 500_000_000],
      [4, 1_000_000, 123_456_789],
    ]);
    got.forEach((p, i) => expect(p.data.equals(udpFrame(i))).toBe(true));
  });

  it('reads simple packet blocks: length capped by snaplen, time of the previous packet', () => {
    const ng = new NgBuilder()
      .shb()
      .idb({ snapLen: 80, tsresol: 9 })
      .epb(0, 7_000_000_001n, udpFrame(0))
      .spb(udpFrame(1, 64))
      .spb(udpFrame(2, 100).subarray(0, 80), 100) // cut by the snaplen
      .bytes();
    const got = PcapReader.readAll(ng);
    expect(got.map((p) => [p.data.length, p.origLen, p.tsSec, p.tsNsec])).toEqual([
      [64, 64, 7, 1],
      [64, 64, 7, 1],
      [80, 100, 7, 1],
    ]);
    expect(got[2].data.equals(udpFrame(2, 100).subarray(0, 80))).toBe(true);
  });

  it('skips unknown blocks and reads obsolete packet blocks', () => {
    const b = new NgBuilder().shb().idb();
    b.block(4, Buffer.from([1, 0, 8, 0, 10, 0, 0, 1, 104, 0, 0, 0, 0, 0, 0, 0])); // name resolution
    b.block(0x40000bad, Buffer.alloc(20, 7)); // custom
    b.block(5, Buffer.alloc(12)); // interface statistics
    const opb = Buffer.alloc(20);
    opb.writeUInt16LE(0, 0); // interface
    opb.writeUInt32LE(0, 4);
    opb.writeUInt32LE(2_000_000, 8); // 2 s in µs
    opb.writeUInt32LE(64, 12);
    opb.writeUInt32LE(64, 16);
    b.block(2, Buffer.concat([opb, udpFrame(9)]));
    const r = PcapReader.fromBuffer(b.bytes());
    expect(r.next()).toBe(true);
    expect([r.record.tsSec, r.record.capLen]).toEqual([2, 64]);
    expect(r.record.bytes().equals(udpFrame(9))).toBe(true);
    expect(r.next()).toBe(false);
    expect(r.pcapng!.skippedBlocks).toBe(3);
  });

  it('starts over at each section header, whose byte order may differ', () => {
    const b = new NgBuilder(true).shb(true).idb({ tsresol: 9 }).epb(0, 1_000_000_001n, udpFrame(0));
    b.shb(false).idb().epb(0, 2_000_002n, udpFrame(1)); // big-endian, µs
    b.shb(true).idb({ tsresol: 3 }).idb({ tsresol: 9 }).epb(1, 3_000_000_003n, udpFrame(2));
    const r = PcapReader.fromBuffer(b.bytes());
    const seen: [number, number, boolean][] = [];
    while (r.next()) seen.push([r.record.tsSec, r.record.tsNsec, r.pcapng!.littleEndian]);
    expect(seen).toEqual([
      [1, 1, true],
      [2, 2000, false],
      [3, 3, true],
    ]);
    expect(r.pcapng!.sections).toBe(3);
  });

  it('ignores options it does not know and handles epb options in big-endian sections', () => {
    const b = new NgBuilder(false).shb().idb({ tsresol: 9 });
    const verdict = Buffer.alloc(9);
    verdict[0] = 2; // Linux XDP (epb_verdict is option 7)
    verdict.writeBigUInt64BE(3n, 1);
    const flags = Buffer.alloc(4);
    flags.writeUInt32BE(0x1);
    b.epb(0, 5n, udpFrame(0), {
      options: [b.option(0x7777, Buffer.from('?')), b.option(7, verdict), b.option(2, flags), b.option(1, Buffer.from('hello'))],
    });
    const p = PcapReader.readAll(b.bytes())[0];
    expect([p.verdict, p.flags, p.comment]).toEqual([3, 1, 'hello']);
  });
});
