/**
 * Bad captures give a PcapError that names the file, the byte offset and what is wrong.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapError, type PcapErrorCode } from '../../../lib/pcap/error.js';
import { PcapReader, type ReaderOptions } from '../../../lib/pcap/reader.js';
import { NgBuilder, classicFile, tempDir, udpFrame } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

function failure(bytes: Uint8Array, opts: ReaderOptions = {}): PcapError {
  try {
    PcapReader.readAll(bytes, { name: 'cap', ...opts });
  } catch (e) {
    if (e instanceof PcapError) return e;
    throw e;
  }
  throw new Error('no error');
}

function expectError(bytes: Uint8Array, code: PcapErrorCode, offset: number, message: string | RegExp, opts: ReaderOptions = {}): void {
  const e = failure(bytes, opts);
  expect(e.message).toMatch(message);
  expect(e.code).toBe(code);
  expect(e.offset).toBe(offset);
  expect(e.file).toBe('cap');
}

const three = [0, 1, 2].map((i) => ({ sec: i, frac: 0, data: udpFrame(i, 100) }));
const good = classicFile({ le: true, ns: true, records: three });

describe('classic pcap errors', () => {
  it('names the file when opened from disk, and a missing file', () => {
    const f = tmp.file('bad.pcap');
    writeFileSync(f, Buffer.from('hello world, this is not a capture'));
    expect(() => PcapReader.open(f)).toThrow(`${f}: not a pcap or pcapng file: bad magic 0x68656c6c at byte 0`);
    const missing = tmp.file('missing.pcap');
    expect(() => PcapReader.open(missing)).toThrow(PcapError);
    expect(() => PcapReader.open(missing)).toThrow(/missing\.pcap: cannot open: ENOENT/);
  });
  it('empty file, short file', () => {
    expectError(Buffer.alloc(0), 'truncated', 0, 'cap: empty file: not a pcap or pcapng capture');
    expectError(good.subarray(0, 2), 'bad-magic', 0, /only 2 bytes/);
    expectError(good.subarray(0, 10), 'truncated', 0, 'cap: truncated pcap file header: 24 bytes needed, 10 present');
  });
  it('bad magic and version', () => {
    const b = Buffer.from(good);
    b.writeUInt32BE(0x12345678, 0);
    expectError(b, 'bad-magic', 0, 'cap: not a pcap or pcapng file: bad magic 0x12345678 at byte 0');
    const v = Buffer.from(good);
    v.writeUInt16LE(3, 4);
    expectError(v, 'version', 4, 'unsupported pcap version 3.4 at byte 4');
  });
  it('link types other than Ethernet', () => {
    expectError(classicFile({ le: false, ns: false, linkType: 113, records: three }), 'linktype', 20, 'unsupported link type 113 (LINUX_SLL) at byte 20: only Ethernet (1) is supported');
    expectError(classicFile({ le: true, ns: false, linkType: 101, records: three }), 'linktype', 20, /101 \(RAW\)/);
  });
  it('a truncated last record says where and how much is missing', () => {
    // Records start at 24, 140, 256; cut the last one 30 bytes short.
    expectError(good.subarray(0, good.length - 30), 'truncated', 256, 'cap: truncated record at byte 256: header says 100 bytes, 70 remain');
    expectError(good.subarray(0, 256 + 9), 'truncated', 256, 'cap: truncated record header at byte 256: 16 bytes needed, 9 remain');
    // The records before the cut were delivered.
    const r = PcapReader.fromBuffer(good.subarray(0, good.length - 30));
    expect(r.next() && r.next()).toBe(true);
    expect(() => r.next()).toThrow(PcapError);
  });
  it('a record longer than any snapshot is corrupt', () => {
    const b = Buffer.from(good);
    b.writeUInt32LE(300_000, 140 + 8);
    expectError(b, 'corrupt', 140, 'record at byte 140: captured length 300000 exceeds the pcap maximum of 262144');
  });
  it('a record larger than the switch frame: an error, or skipped and counted', () => {
    const recs = [64, 1800, 64].map((s, i) => ({ sec: 0, frac: 0, data: udpFrame(i, s) }));
    const f = classicFile({ le: true, ns: true, records: recs });
    expectError(f, 'oversize', 104, 'record 1 at byte 104 is 1800 bytes, larger than the largest frame (1792 bytes)', { maxFrameLength: 1792 });
    const r = PcapReader.fromBuffer(f, { maxFrameLength: 1792, oversize: 'skip' });
    const lens: number[] = [];
    while (r.next()) lens.push(r.record.capLen);
    expect(lens).toEqual([64, 64]);
    expect(r.skippedOversize).toBe(1);
    expect(r.record.index).toBe(2);
  });
  it('a snaplen beyond the frame size in the header is not an error (tcpdump writes 262144)', () => {
    const f = classicFile({ le: true, ns: true, snapLen: 262144, records: three });
    expect(PcapReader.readAll(f, { maxFrameLength: 1792 }).length).toBe(3);
  });
});

describe('pcapng errors', () => {
  const ok = () => new NgBuilder().shb().idb({ tsresol: 9 }).epb(0, 1n, udpFrame(0)).epb(0, 2n, udpFrame(1));
  // SHB 28 bytes, IDB 20 + 12 = 32 bytes, EPBs of 32 + 64 = 96 bytes at 60 and 156.
  const base = ok().bytes();

  it('total lengths that cannot be right', () => {
    const odd = Buffer.from(base);
    odd.writeUInt32LE(98, 60 + 4);
    expectError(odd, 'corrupt', 60, 'block at byte 60 (type 0x00000006) has total length 98: not a multiple of 4');
    const tiny = Buffer.from(base);
    tiny.writeUInt32LE(8, 60 + 4);
    expectError(tiny, 'corrupt', 60, /total length 8: less than 12/);
    const mismatch = Buffer.from(base);
    mismatch.writeUInt32LE(92, 60 + 96 - 4);
    expectError(mismatch, 'corrupt', 60, 'block at byte 60: leading total length 96 and trailing total length 92 differ');
    const huge = Buffer.from(base);
    huge.writeUInt32LE(0x7ffffff0, 60 + 4);
    expectError(huge, 'corrupt', 60, /claims 2147483632 bytes, more than the 16777216-byte limit/);
  });
  it('a truncated block and a truncated block header', () => {
    expectError(base.subarray(0, base.length - 10), 'truncated', 156, 'cap: truncated block at byte 156: header says 96 bytes, 86 remain');
    expectError(base.subarray(0, 156 + 5), 'truncated', 156, 'truncated block header at byte 156: 8 bytes needed, 5 remain');
  });
  it('a bad byte-order magic and an unknown version', () => {
    const bom = Buffer.from(base);
    bom.writeUInt32LE(0x11223344, 8);
    expectError(bom, 'bad-magic', 8, 'bad byte-order magic 0x11223344 at byte 8 in section header');
    const ver = Buffer.from(base);
    ver.writeUInt16LE(2, 12);
    expectError(ver, 'version', 12, 'unsupported pcapng version 2.0 at byte 12');
  });
  it('an interface that is not Ethernet, or not defined', () => {
    expectError(new NgBuilder().shb().idb().idb({ linkType: 127 }).bytes(), 'linktype', 56, 'interface 1 (byte 48) has unsupported link type 127 (IEEE802_11_RADIOTAP)');
    expectError(new NgBuilder().shb().idb().epb(3, 0n, udpFrame(0)).bytes(), 'corrupt', 48, 'packet block at byte 48 refers to interface 3, but 1 is defined');
    expectError(new NgBuilder().shb().spb(udpFrame(0)).bytes(), 'corrupt', 28, /refers to interface 0, but 0 are defined/);
  });
  it('a packet longer than its block, an option past its block, a block too short for its type', () => {
    const cap = Buffer.from(base);
    cap.writeUInt32LE(100, 60 + 20);
    expectError(cap, 'corrupt', 60, 'packet block at byte 60 says it captured 100 bytes, but the block holds 64');
    const b = new NgBuilder().shb().idb();
    const bad = b.option(1, Buffer.from('abcd'));
    bad.writeUInt16LE(200, 2); // comment length runs far past the block
    b.epb(0, 0n, udpFrame(0), { options: [bad] });
    expectError(b.bytes(), 'corrupt', 140, /option at byte 140 runs past the end of the block at byte 48/);
    const short = new NgBuilder().shb().idb().block(6, Buffer.alloc(8)).bytes();
    expectError(short, 'corrupt', 48, 'enhanced packet block at byte 48 is 20 bytes, less than the minimum 32');
  });
  it('a packet larger than the switch frame', () => {
    const f = new NgBuilder().shb().idb().epb(0, 0n, udpFrame(0, 64)).epb(0, 0n, udpFrame(1, 2000)).bytes();
    expectError(f, 'oversize', 144, 'packet 1 at byte 144 is 2000 bytes, larger than the largest frame (1792 bytes)', { maxFrameLength: 1792 });
    const r = PcapReader.fromBuffer(f, { maxFrameLength: 1792, oversize: 'skip' });
    expect(r.next()).toBe(true);
    expect(r.next()).toBe(false);
    expect(r.skippedOversize).toBe(1);
  });
});
