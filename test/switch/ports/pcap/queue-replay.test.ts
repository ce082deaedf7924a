/**
 * The preloaded replay run to completion (switch/ports/pcap/queue-replay.ts), without
 * threads: the shares steering makes at load partition the capture, keep its order, carry
 * the hash the device thread's RSS would compute; a queue's side replays exactly its share,
 * `loop` passes, counting passes and skipped records once for the whole port.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { preloadCapture } from '../../../../lib/pcap/preload.js';
import { steerShare, PcapQueue } from '../../../../switch/ports/pcap/queue-replay.js';
import { DefaultRssSteerer } from '../../../../flows/rss.js';
import { PORT_COUNTERS, P } from '../../../../switch/counters.js';
import pcap from '../../../../switch/ports/pcap.js';
import type { QueueIO } from '../../../../switch/ports/port.js';
import { parsePcapOptions } from '../../../../switch/ports/pcap/port-options.js';
import { classicFile, tempDir, udpFrame } from '../../../lib/pcap/helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

const N = 500;
/** N UDP frames (flow i each), `gapNs` apart in capture time. */
function capture(name: string, sizes: (i: number) => number = () => 64, n = N, gapNs = 1): string {
  const file = tmp.file(name);
  writeFileSync(file, classicFile({ le: true, ns: true, records: Array.from({ length: n }, (_, i) => ({ sec: 0, frac: i * gapNs, data: udpFrame(i, sizes(i)) })) }));
  return file;
}

/** Queue q's QueueIO without a worker: a free list, every submit recorded (hash too). */
class FakeQueueIO implements QueueIO {
  readonly name = 'in';
  readonly ifindex = 1;
  readonly frameSize = 2048;
  readonly maxFrameLength = 1792;
  readonly area = new Uint8Array(new SharedArrayBuffer(64 * 2048));
  readonly written = new Int32Array(64).fill(-1);
  readonly names = [...PORT_COUNTERS, ...(pcap.counters ?? [])];
  readonly counters = new Float64Array(this.names.length);
  readonly got: { bytes: string; hash: number }[] = [];
  readonly logs: string[] = [];
  private free = Array.from({ length: 64 }, (_, i) => i);
  constructor(
    readonly queue: number,
    readonly queues: number,
  ) {}
  allocFrame(): number {
    return this.free.pop() ?? -1;
  }
  dataOffset(f: number): number {
    return f * 2048 + 256;
  }
  room(): number {
    return this.free.length;
  }
  submit(frame: number, length: number, hash: number): boolean {
    const at = this.dataOffset(frame);
    this.got.push({ bytes: Buffer.from(this.area.subarray(at, at + length)).toString('hex'), hash });
    this.counters[P.rx_packets]++;
    this.free.push(frame);
    return true;
  }
  submitHashed(frame: number, length: number, hashes: Int32Array, at: number): boolean {
    return this.submit(frame, length, hashes[at]);
  }
  counterIndex(name: string): number {
    return this.names.indexOf(name);
  }
  c(name: string): number {
    return this.counters[this.counterIndex(name)];
  }
  count(name: string, n = 1): void {
    this.counters[this.counterIndex(name)] += n;
  }
  log(level: string, message: string): void {
    this.logs.push(`${level}: ${message}`);
  }
}

/** Polls a side until it says it has finished (-1). */
function drain(side: PcapQueue): void {
  for (let k = 0; k < 100_000; k++) if (side.poll(16) < 0) return;
  throw new Error('the replay did not finish');
}

describe('steerShare: the steering decision made once at load', () => {
  it('the shares of 3 queues partition the capture, each in capture order, with the hash RSS gives each packet', () => {
    const cap = preloadCapture(capture('mixed.pcap', (i) => 60 + ((i * 37) % 1400)));
    const rss = new DefaultRssSteerer(3);
    const hex = (b: Uint8Array, o: number, l: number) => Buffer.from(b.subarray(o, o + l)).toString('hex');
    const want: { bytes: string; hash: number }[][] = [[], [], []];
    for (let i = 0; i < cap.count; i++) {
      const q = rss.steer(cap.data, cap.offsets[i], cap.lengths[i]);
      want[q].push({ bytes: hex(cap.data, cap.offsets[i], cap.lengths[i]), hash: rss.hash | 0 });
    }
    let total = 0;
    for (let q = 0; q < 3; q++) {
      const s = steerShare(cap, 3, q);
      const got = Array.from({ length: s.cap.count }, (_, k) => ({ bytes: hex(s.cap.data, s.cap.offsets[k], s.cap.lengths[k]), hash: s.hashes[k] }));
      expect(got).toEqual(want[q]);
      expect(got.length).toBeGreaterThan(N / 6); // RSS spreads 500 flows over every queue
      for (let k = 0; k < s.cap.count; k++) expect(s.cap.offsets[k] % 4).toBe(0);
      total += s.cap.count;
    }
    expect(total).toBe(N);
  });
});

describe('PcapQueue: a queue worker replays its share', () => {
  it('two queues, loop 3: each replays its share three times; passes counted once for the port', () => {
    const file = capture('loop.pcap');
    const o = parsePcapOptions({ read: file, loop: 3 }, []);
    const all = preloadCapture(file);
    const ios = [new FakeQueueIO(0, 2), new FakeQueueIO(1, 2)];
    for (const io of ios) drain(new PcapQueue(o, io));
    for (const [q, io] of ios.entries()) {
      const share = steerShare(all, 2, q);
      const once = Array.from({ length: share.cap.count }, (_, k) => ({
        bytes: Buffer.from(share.cap.data.subarray(share.cap.offsets[k], share.cap.offsets[k] + share.cap.lengths[k])).toString('hex'),
        hash: share.hashes[k],
      }));
      expect(io.got).toEqual([...once, ...once, ...once]);
    }
    expect(ios[0].got.length + ios[1].got.length).toBe(3 * N);
    // rx_passes summed over the queues reads as the port's: 3, not 6.
    expect(ios[0].c('rx_passes') + ios[1].c('rx_passes')).toBe(3);
  });

  it('a restarted worker continues where the last one stopped, from the shared counters: nothing twice, nothing skipped', () => {
    const file = capture('resume.pcap', (i) => (i % 100 === 7 ? 1900 : 64));
    const o = parsePcapOptions({ read: file, loop: 3, oversize: 'drop' }, []);
    const whole = new FakeQueueIO(0, 1);
    drain(new PcapQueue(o, whole));
    // The same replay, its worker replaced twice (after 70 polls, then 30 more).
    const io = new FakeQueueIO(0, 1);
    for (const polls of [70, 30]) {
      const side = new PcapQueue(o, io);
      for (let k = 0; k < polls; k++) side.poll(16);
    }
    drain(new PcapQueue(o, io));
    expect(io.got).toEqual(whole.got);
    expect(io.got.length).toBe(3 * (N - 5));
    for (const c of ['rx_packets', 'rx_passes', 'rx_oversize']) expect(io.c(c), c).toBe(whole.c(c));
    expect([io.c('rx_passes'), io.c('rx_oversize')]).toEqual([3, 15]);
  });

  it('oversize: drop — skipped records are counted once per pass for the port, not once per queue', () => {
    const file = capture('big.pcap', (i) => (i % 100 === 7 ? 1900 : 64));
    const o = parsePcapOptions({ read: file, loop: 2, oversize: 'drop' }, []);
    const ios = [new FakeQueueIO(0, 2), new FakeQueueIO(1, 2)];
    for (const io of ios) drain(new PcapQueue(o, io));
    expect(ios[0].c('rx_oversize') + ios[1].c('rx_oversize')).toBe(2 * 5);
    expect(ios[0].got.length + ios[1].got.length).toBe(2 * (N - 5));
  });

  it('oversize: error — the side refuses to open, naming the record', () => {
    const file = capture('big2.pcap', (i) => (i === 3 ? 1900 : 64));
    const o = parsePcapOptions({ read: file }, []);
    expect(() => new PcapQueue(o, new FakeQueueIO(0, 1))).toThrow(/record 3 .* 1900 bytes, larger than the largest frame \(1792 bytes\)/);
  });

  it('backpressure: a poll takes no more than room() (the pool and the rx ring): nothing counted lost', () => {
    const file = capture('room.pcap');
    const io = new FakeQueueIO(0, 1);
    const side = new PcapQueue(parsePcapOptions({ read: file }, []), io);
    io.room = () => 5;
    expect(side.poll(64)).toBe(5);
    io.room = () => 0;
    // No room: work reported (the worker polls again soon), nothing taken.
    expect(side.poll(64)).toBe(1);
    expect(io.got.length).toBe(5);
    expect(io.c('rx_no_buffer')).toBe(0);
  });

  it('a paced replay sends in batches (at most once a millisecond unless a budget is due), never a packet or two per poll', () => {
    for (const pace of [{ rate: 100_000 }, { speed: 'original' }]) {
      // 500 packets 10 µs apart in capture time (for `speed`); `rate` spaces them 10 µs too.
      const io = new FakeQueueIO(0, 1);
      const side = new PcapQueue(parsePcapOptions({ read: capture(`paced-${Object.keys(pace)[0]}.pcap`, () => 64, N, 10_000), loop: 0, ...pace }, []), io);
      const sizes: number[] = [];
      const end = performance.now() + 30;
      while (performance.now() < end) {
        const n = side.poll(64);
        if (n > 0) sizes.push(n);
      }
      expect(sizes.length).toBeGreaterThan(0);
      // A poll releases what a millisecond brings (100 packets either way, capped by the
      // budget) — a pass's end may cut one short, not many.
      const small = sizes.filter((n) => n < 20).length;
      expect(small, `poll sizes ${sizes.slice(0, 20).join(' ')}`).toBeLessThanOrEqual(Math.ceil(sizes.length / 4));
    }
  });

  it('the port offers a queue side for a preloaded replay and a classic capture written', () => {
    expect(pcap.queueSides!({ name: 'in', type: 'pcap', read: 'x.pcap' })).toEqual({ rx: true, tx: false });
    expect(pcap.queueSides!({ name: 'in', type: 'pcap', read: 'x.pcap', preload: false })).toEqual({ rx: false, tx: false });
    expect(pcap.queueSides!({ name: 'out', type: 'pcap', write: 'y.pcap' })).toEqual({ rx: false, tx: true });
    // pcapng is written on the device thread.
    expect(pcap.queueSides!({ name: 'out', type: 'pcap', write: 'y.pcapng' })).toEqual({ rx: false, tx: false });
  });
});
