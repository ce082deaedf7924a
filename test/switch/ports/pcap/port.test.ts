/**
 * The pcap port on its own (a fake PortIO in place of the device thread): options,
 * replay modes, loops, errors at open and mid-stream, counters, and the capture sink.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import pcap from '../../../../switch/ports/pcap.js';
import type { Port, PortConfig } from '../../../../switch/ports/port.js';
import { PcapReader } from '../../../../lib/pcap/reader.js';
import { createWriter } from '../../../../lib/pcap/writer.js';
import { portOptionIssues } from '../../../../switch/ports/options.js';
import { FakeIO } from './fake-io.js';
import { NgBuilder, classicFile, tempDir, udpFrame } from '../../../lib/pcap/helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

const cfg = (o: Record<string, unknown>): PortConfig => ({ name: 'p0', type: 'pcap', ...o });

/** A capture of n frames, 10 ms apart. */
function capture(name: string, n: number, size = (i: number) => 60 + ((i * 53) % 1400)): string {
  const file = tmp.file(name);
  const w = createWriter(file, { format: name.endsWith('.pcapng') ? 'pcapng' : 'pcap' });
  for (let i = 0; i < n; i++) {
    const f = udpFrame(i, size(i));
    w.write(f, 0, f.length, 1000, i * 10_000_000);
  }
  w.close();
  return file;
}

/** Polls until the port says it has finished; returns the number of polls. */
function drain(port: Port, budget = 64, maxPolls = 1e6): number {
  for (let i = 0; i < maxPolls; i++) if (port.poll!(budget) < 0) return i;
  throw new Error('replay did not finish');
}

async function pacedDrain(port: Port, budget = 64): Promise<void> {
  for (;;) {
    const n = port.poll!(budget);
    if (n < 0) return;
    if (n === 0) await new Promise((r) => setTimeout(r, 1));
  }
}

async function opened(o: Record<string, unknown>, frames = 64, room = false): Promise<{ port: Port; io: FakeIO }> {
  const io = new FakeIO(pcap.counters!, frames);
  if (room) io.withRoom();
  const port = pcap.create(cfg(o));
  await port.open(io);
  return { port, io };
}

describe('pcap port options', () => {
  it.each<[Record<string, unknown>, RegExp]>([
    [{}, /give 'read: FILE'.*'write: FILE'/],
    [{ read: 3 }, /read: must be a string, got 3 \(a number\)/],
    [{ read: 'a', speed: 'fast' }, /'speed' must be max, original or a positive multiplier/],
    [{ read: 'a', speed: 'original', rate: 100 }, /'rate' and 'speed' other than max exclude each other/],
    [{ read: 'a', rate: -1 }, /'rate' must be a positive number/],
    [{ read: 'a', loop: 1.5 }, /loop: must be an integer, got 1.5/],
    [{ read: 'a', loop: -1 }, /'loop' must be a whole number of passes/],
    [{ read: 'a', preload: 'yes' }, /preload: must be true or false, got "yes" \(a string\)/],
    [{ read: 'a', oversize: 'truncate' }, /'oversize' must be error or drop/],
    [{ write: 'a', format: 'erf' }, /'format' must be pcap or pcapng/],
    [{ write: 'a.pcapng', precision: 'us' }, /'precision' applies to classic pcap/],
    [{ write: 'a', loop: 2 }, /'loop' needs 'read: FILE'/],
    [{ read: 'a', format: 'pcap' }, /'format' needs 'write: FILE'/],
    [{ read: 'a', speeed: 2 }, /unknown option 'speeed'/],
  ])('%j is refused', (o, msg) => {
    expect(portOptionIssues(pcap, cfg(o)).join('\n')).toMatch(msg);
    expect(portOptionIssues(pcap, cfg(o)).join('\n')).not.toMatch(/undefined/);
    expect(() => pcap.create(cfg(o))).toThrow(/^pcap port p0: /);
  });

  it('accepts the documented forms', () => {
    const a = capture('valid.pcap', 1);
    for (const o of [{ read: a }, { read: a, speed: 'original', loop: 0 }, { read: a, speed: 2.5 }, { read: a, rate: 1000, preload: false }, { write: 'b.pcapng' }, { read: a, write: 'b', precision: 'us' }]) {
      expect(pcap.validate!(cfg(o))).toEqual([]);
    }
  });

  it('checks that the capture to replay exists and is one', () => {
    const missing = tmp.file('absent.pcap');
    expect(pcap.validate!(cfg({ read: missing }))).toEqual([`'read': ${missing}: cannot open: ENOENT: no such file or directory, open '${missing}'`]);
    const text = tmp.file('text.txt');
    writeFileSync(text, 'hello, world');
    expect(pcap.validate!(cfg({ read: text }))).toEqual([`'read': ${text}: not a pcap or pcapng file: bad magic 0x68656c6c at byte 0`]);
  });
});

describe('replay', () => {
  for (const preload of [true, false]) {
    it(`speed max, ${preload ? 'preloaded' : 'streamed'}: every frame in order, byte for byte, then finished`, async () => {
      const file = capture(`max-${preload}.pcap`, 500);
      const { port, io } = await opened({ read: file, preload });
      drain(port);
      expect(io.received.length).toBe(500);
      io.received.forEach((b, i) => expect(b.equals(udpFrame(i, 60 + ((i * 53) % 1400)))).toBe(true));
      expect(port.poll!(64)).toBe(-1);
      expect([io.c('rx_packets'), io.c('rx_passes'), io.c('rx_no_buffer')]).toEqual([500, 1, 0]);
      expect(port.status!()).toMatchObject({ replayed: 500, passes: 1, done: true });
      await port.close();
    });

    it(`loop 3, ${preload ? 'preloaded' : 'streamed'} pcapng`, async () => {
      const file = capture(`loop-${preload}.pcapng`, 7);
      const { port, io } = await opened({ read: file, preload, loop: 3 });
      drain(port, 5); // a budget that does not divide the capture
      expect(io.received.length).toBe(21);
      io.received.forEach((b, i) => expect(b.equals(udpFrame(i % 7, 60 + (((i % 7) * 53) % 1400)))).toBe(true));
      expect(io.c('rx_passes')).toBe(3);
      await port.close();
    });
  }

  it('loop 0 replays until stopped', async () => {
    const { port, io } = await opened({ read: capture('forever.pcap', 3), loop: 0 });
    for (let i = 0; i < 100; i++) expect(port.poll!(64)).toBe(64);
    expect(io.received.length).toBe(6400);
    expect(io.c('rx_passes')).toBeGreaterThan(2000);
    await port.close();
  });

  it('an empty capture finishes at once even with loop 0', async () => {
    const file = tmp.file('empty.pcap');
    createWriter(file).close();
    const { port, io } = await opened({ read: file, loop: 0 });
    expect(port.poll!(64)).toBe(-1);
    expect(io.received.length).toBe(0);
  });

  it('rate: no faster than the rate (lower bound only; slower machines pass too)', async () => {
    const { port, io } = await opened({ read: capture('rate.pcap', 50), rate: 500 });
    const t0 = performance.now();
    await pacedDrain(port);
    expect(io.received.length).toBe(50);
    expect(performance.now() - t0).toBeGreaterThanOrEqual((49 / 500) * 1000 - 1);
  });

  it('speed original follows the capture timing, speed 5 goes five times faster', async () => {
    // 11 frames 10 ms apart: 100 ms of capture.
    for (const [speed, min] of [
      ['original', 100],
      [5, 20],
    ] as const) {
      const { port, io } = await opened({ read: capture(`orig-${speed}.pcap`, 11), speed });
      const t0 = performance.now();
      const seen: number[] = [];
      for (;;) {
        const n = port.poll!(64);
        if (n < 0) break;
        for (let k = 0; k < n; k++) seen.push(performance.now() - t0);
        if (n === 0) await new Promise((r) => setTimeout(r, 1));
      }
      expect(io.received.length).toBe(11);
      // Packet i leaves no earlier than its capture time (scaled).
      seen.forEach((t, i) => expect(t).toBeGreaterThanOrEqual((i * min) / 10 - 1));
    }
  });

  it('without backpressure an empty pool drops a packet (counted by the device) and ends the burst', async () => {
    const { port, io } = await opened({ read: capture('pool.pcap', 100), backpressure: false }, 16, true);
    io.hold = true;
    expect(port.poll!(64)).toBe(17); // 16 placed, the 17th found no buffer
    expect([io.received.length, io.c('rx_no_buffer'), io.c('rx_packets')]).toEqual([16, 1, 17]);
    io.release();
    io.hold = false;
    drain(port);
    expect(io.received.length + io.c('rx_no_buffer')).toBe(100);
  });

  it('with backpressure (the default at speed max) it waits for room and drops nothing', async () => {
    for (const preload of [true, false]) {
      const { port, io } = await opened({ read: capture(`bp-${preload}.pcap`, 100), preload }, 16, true);
      io.hold = true;
      expect(port.poll!(64)).toBe(16);
      expect(port.poll!(64)).toBe(1); // blocked: "keep polling", nothing taken
      expect(port.poll!(64)).toBe(1);
      expect([io.received.length, io.c('rx_no_buffer'), io.c('rx_packets')]).toEqual([16, 0, 16]);
      io.release();
      io.hold = false;
      drain(port);
      expect([io.received.length, io.c('rx_no_buffer')]).toEqual([100, 0]);
      io.received.forEach((b, i) => expect(b.equals(udpFrame(i, 60 + ((i * 53) % 1400)))).toBe(true));
    }
  });

  it('paced replays default to no backpressure; a PortIO without room() replays as before', async () => {
    expect(pcap.validate!(cfg({ read: capture('bpv.pcap', 1), rate: 10, backpressure: 'yes' }))).toEqual(["'backpressure' must be true or false, got \"yes\""]);
    const { port, io } = await opened({ read: capture('nobp.pcap', 10) }, 64, false);
    drain(port);
    expect(io.received.length).toBe(10);
  });
});

describe('replay errors and counters', () => {
  const put = (name: string, bytes: Buffer): string => {
    const file = tmp.file(name);
    writeFileSync(file, bytes);
    return file;
  };
  const withBig = () => classicFile({ le: true, ns: false, records: [64, 1900, 64].map((s, i) => ({ sec: 0, frac: 0, data: udpFrame(i, s) })) });

  it('a frame larger than the switch frame fails at open, or is dropped and counted', async () => {
    const file = put('big.pcap', withBig());
    await expect(opened({ read: file })).rejects.toThrow(`${file}: record 1 at byte 104 is 1900 bytes, larger than the largest frame (1792 bytes)`);
    for (const preload of [true, false]) {
      const { port, io } = await opened({ read: file, oversize: 'drop', preload });
      drain(port);
      expect([io.received.length, io.c('rx_oversize')]).toEqual([2, 1]);
      await port.close();
    }
  });

  it('a truncated capture fails at open when preloaded; streamed, the replay stops at the cut', async () => {
    const full = classicFile({ le: true, ns: true, records: [0, 1, 2, 3].map((i) => ({ sec: 0, frac: 0, data: udpFrame(i, 100) })) });
    const file = put('cut.pcap', full.subarray(0, full.length - 10));
    await expect(opened({ read: file })).rejects.toThrow(`${file}: truncated record at byte 372: header says 100 bytes, 90 remain`);
    const { port, io } = await opened({ read: file, preload: false });
    drain(port);
    expect(io.received.length).toBe(3);
    expect(io.c('rx_file_errors')).toBe(1);
    expect(io.logs.join('\n')).toMatch(/replay stopped: .*truncated record at byte 372/);
  });

  it('a missing file or a file that is no capture fails at open', async () => {
    await expect(opened({ read: tmp.file('nope.pcap') })).rejects.toThrow(/nope\.pcap: cannot open: ENOENT/);
    await expect(opened({ read: put('text.pcap', Buffer.from('GET / HTTP/1.1\r\n')), preload: false })).rejects.toThrow(/bad magic 0x47455420 at byte 0/);
  });

  it('counts replayed frames the capture had cut short (rx_truncated)', async () => {
    const ng = new NgBuilder().shb().idb().epb(0, 0n, udpFrame(0, 64)).epb(0, 0n, udpFrame(1, 96), { origLen: 1500 }).bytes();
    for (const preload of [true, false]) {
      const { port, io } = await opened({ read: put('snapped.pcapng', ng), preload, loop: 2 });
      drain(port);
      expect([io.received.length, io.c('rx_truncated')]).toEqual([4, 2]);
    }
  });
});

describe('capture sink', () => {
  for (const [name, format] of [
    ['out.pcap', 'pcap'],
    ['out.pcapng', 'pcapng'],
  ] as const) {
    it(`writes what it transmits to ${name}, flushed at close, timestamps of now`, async () => {
      const file = tmp.file(name);
      const { port, io } = await opened({ write: file });
      const area = io.area;
      const before = Date.now() / 1000;
      for (let i = 0; i < 300; i++) {
        const f = udpFrame(i, 60 + i);
        area.set(f, 4096 + 256);
        expect(port.transmit(area, 4096 + 256, f.length, 0)).toBe(true);
        if (i % 50 === 49) port.flushTx!();
      }
      expect(port.control!({ op: 'flush' })).toMatchObject({ written: 300 });
      await port.close();
      const after = Date.now() / 1000;
      const got = PcapReader.readAll(file);
      expect(PcapReader.open(file).format).toBe(format);
      expect(got.length).toBe(300);
      let last = 0;
      got.forEach((p, i) => {
        expect(p.data.equals(udpFrame(i, 60 + i))).toBe(true);
        const t = p.tsSec + p.tsNsec / 1e9;
        expect(t).toBeGreaterThanOrEqual(before - 0.01);
        expect(t).toBeLessThanOrEqual(after + 0.01);
        expect(t).toBeGreaterThanOrEqual(last); // monotonic
        last = t;
      });
      expect(io.c('tx_file_bytes')).toBe(readFileSync(file).length);
    });
  }

  it('a failing capture (disk full: /dev/full) is logged once and counted; the port carries on', async () => {
    const { port, io } = await opened({ write: '/dev/full' });
    const f = udpFrame(0, 1000);
    io.area.set(f, 256);
    let sent = 0;
    for (let i = 0; i < 3000; i++) if (port.transmit(io.area, 256, f.length, 0)) sent++;
    // The 1 MiB buffer took ≈ 1000 records; its write failed; the rest were refused.
    expect(sent).toBeGreaterThan(900);
    expect(sent).toBeLessThan(1100);
    expect(io.c('tx_file_errors')).toBe(1);
    expect(io.logs.filter((l) => l.startsWith('error:'))).toEqual([expect.stringMatching(/^error: capture stopped after \d+ packets: \/dev\/full: write failed: ENOSPC/)]);
    expect(port.status!()).toMatchObject({ failed: true });
    await port.close();
    expect(io.c('tx_file_errors')).toBe(1);
  });

  it('a replay-only port drops what the switch sends it (tx_dropped by the device)', async () => {
    const { port } = await opened({ read: capture('ro.pcap', 1) });
    expect(port.transmit(new Uint8Array(64), 0, 64, 0)).toBe(false);
    expect(() => port.control!({ op: 'flush' })).toThrow(/writes no capture/);
  });

  it('reads and writes at once', async () => {
    const out = tmp.file('both.pcap');
    const { port, io } = await opened({ read: capture('both-in.pcap', 20), write: out });
    drain(port);
    for (const b of io.received) {
      io.area.set(b, 256);
      port.transmit(io.area, 256, b.length, 0);
    }
    await port.close();
    expect(PcapReader.readAll(out).map((p) => p.data.toString('hex'))).toEqual(io.received.map((b) => b.toString('hex')));
  });
});
