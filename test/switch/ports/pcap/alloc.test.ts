/**
 * The pcap port's per-packet paths allocate nothing: a million packets replayed from a
 * preloaded capture, written by each writer through the port's transmit(), and read back
 * by the reader leave the heap where it was. The young generation (where short-lived
 * objects are born; code from the JIT lives elsewhere) is sampled every 65,536 packets: a
 * per-packet allocation of even 8 bytes would move it by more than 512 KiB between samples.
 *
 * The capture sink reads the clock once per transmit burst for its timestamps, and every
 * clock Node 20 has (performance.now, Date.now, process.hrtime…) returns a freshly boxed
 * number: ≈ 32–64 bytes per read, per burst of up to 64 packets, never per packet. Its
 * test allows exactly that on top of the common limit.
 */
import { type Spread, youngSpread } from '../../../support/heap.js';
import { describe, expect, it } from 'vitest';
import pcap from '../../../../switch/ports/pcap.js';
import { PORT_COUNTERS } from '../../../../switch/counters.js';
import type { Port, PortIO } from '../../../../switch/ports/port.js';
import { preloadBuffer } from '../../../../lib/pcap/preload.js';
import { PcapReader } from '../../../../lib/pcap/reader.js';
import { Replayer } from '../../../../switch/ports/pcap/replay.js';
import { PreloadedSource, StreamSource } from '../../../../switch/ports/pcap/replay-source.js';
import { NgBuilder, classicFile, udpFrame } from '../../../lib/pcap/helpers.js';
import { PcapQueue } from '../../../../switch/ports/pcap/queue-replay.js';
import { parsePcapOptions } from '../../../../switch/ports/pcap/port-options.js';
import type { QueueIO } from '../../../../switch/ports/port.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function io(): PortIO {
  const area = new Uint8Array(new SharedArrayBuffer(1024 * 2048));
  const names = [...PORT_COUNTERS, ...pcap.counters!];
  let next = 0;
  const counters = new Float64Array(names.length);
  const submit = (): boolean => {
    counters[0]++;
    return true;
  };
  return {
    name: 'p0',
    ifindex: 1,
    frameSize: 2048,
    maxFrameLength: 1792,
    area,
    counters,
    receive: () => true,
    allocFrame: () => (next = (next + 1) & 1023),
    dataOffset: (f: number) => f * 2048 + 256,
    submit,
    // A queue side's (the run-to-completion case reads the hash where it is stored).
    submitHashed: submit,
    flush() {},
    room: () => 1000,
    count() {},
    counterIndex: (n: string) => names.indexOf(n),
    log() {},
  };
}

/** The young generation's spread over `total` packets, after a warm-up (test/support/heap.ts). */
function heapSpread(step: () => number, total: number, limit = LIMIT): Spread {
  for (let n = 0; n < 3_000_000; ) n += step(); // warm up: JIT and inline caches settle
  return youngSpread(step, total, limit);
}

/** Under the limit; a failure shows every sample. */
function expectQuiet(s: Spread, limit = LIMIT): void {
  expect(s.spread, s.samples).toBeLessThan(limit);
}

const LIMIT = 200 * 1024;
const sizes = [60, 64, 128, 300, 1514];
// 16384 packets: the reading tests rewind (a new parser per pass) only every 16384 reads.
const RECORDS = 16384;
/**
 * What a pass through a streamed capture may allocate, rewind included: 32 KiB, 2 bytes a
 * record. A rewind makes a new parser (its section and interface objects), and what else a
 * pass boxes depends on the code V8 chose: 1 KiB a pass here, 17 KiB in one CI run (68 KiB
 * per 65,536 records, in every one of eight measurements). An allocation per record is 16
 * bytes a record or more, eight times this, and still fails (as the negative control shows
 * for LIMIT alone).
 */
const PASS_BYTES = 32 * 1024;
/** LIMIT plus PASS_BYTES for each pass `total` records make. */
const withPasses = (total: number) => LIMIT + Math.ceil(total / RECORDS) * PASS_BYTES;
const classic = classicFile({ le: true, ns: true, records: Array.from({ length: RECORDS }, (_, i) => ({ sec: i, frac: i, data: udpFrame(i, sizes[i % 5]) })) });
const ngb = new NgBuilder().shb().idb({ tsresol: 9 });
for (let i = 0; i < RECORDS; i++) ngb.epb(0, BigInt(i) * 1000n, udpFrame(i, sizes[i % 5]), { options: [ngb.option(1, Buffer.from('x'))] });
const pcapng = ngb.bytes();

describe('pcap: no allocation per packet', () => {
  it('replay from a preloaded capture (Replayer + PreloadedSource, with backpressure)', () => {
    const dev = io();
    const r = new Replayer(new PreloadedSource(preloadBuffer(classic)), { speed: 0, rate: 0, loop: 0, backpressure: true });
    expectQuiet(heapSpread(() => r.poll(dev, 64), 1_000_000));
    expect(r.passes).toBeGreaterThan(60);
  });

  it('replay run to completion: a queue worker\'s share (PcapQueue: Replayer + PreloadedSource with hashes)', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'xswitch-alloc-')), 'in.pcap');
    writeFileSync(file, classic);
    const dev = io();
    const q = new PcapQueue(parsePcapOptions({ read: file, loop: 0 }, []), { ...dev, queue: 1, queues: 2, written: new Int32Array(1024), room: () => 64 } as unknown as QueueIO);
    expectQuiet(heapSpread(() => q.poll(64), 1_000_000));
    expect(q.status().passes).toBeGreaterThan(100);
    rmSync(path.dirname(file), { recursive: true });
  });

  it('replay streamed through a reader (StreamSource), pcapng', () => {
    const dev = io();
    const r = new Replayer(new StreamSource(PcapReader.fromBuffer(pcapng)), { speed: 0, rate: 0, loop: 0, backpressure: true });
    expectQuiet(heapSpread(() => r.poll(dev, 64), 1_000_000, withPasses(1_000_000)), withPasses(1_000_000));
    expect(r.passes).toBeGreaterThan(60);
  });

  for (const format of ['pcap', 'pcapng'] as const) {
    it(`transmit() into a ${format} capture (written to /dev/null)`, async () => {
      const dev = io();
      const port: Port = pcap.create({ name: 'p0', type: 'pcap', write: '/dev/null', format });
      await port.open(dev);
      let i = 0;
      const clockReads = 1_000_000 / 64;
      // The clock's boxed numbers fill the young generation slowly; when a scavenge falls
      // inside a measurement the spread is the whole semi-space. Best of three: a per-packet
      // allocation would show in every one.
      let best: Spread = { spread: Infinity, processed: 0, samples: '' };
      for (let attempt = 0; attempt < 3 && best.spread >= LIMIT + clockReads * 64; attempt++) {
        const s = heapSpread(() => {
          for (let k = 0; k < 64; k++) port.transmit(dev.area, ((i++ & 1023) * 2048) + 256, sizes[i % 5], 0);
          port.flushTx!();
          return 64;
        }, 1_000_000);
        if (s.spread < best.spread) best = s;
      }
      await port.close();
      expectQuiet(best, LIMIT + clockReads * 64);
    });
  }

  for (const [name, bytes] of [
    ['pcap', classic],
    ['pcapng', pcapng],
  ] as const) {
    it(`reading ${name} records`, () => {
      const r = PcapReader.fromBuffer(bytes);
      let sum = 0;
      const spread = heapSpread(() => {
        if (!r.next()) {
          r.rewind(); // allocates a parser per pass, not per record
          r.next();
        }
        sum += r.record.capLen + r.record.commentLength;
        return 1;
      }, 1_000_000, withPasses(1_000_000));
      expect(sum).toBeGreaterThan(0);
      expectQuiet(spread, withPasses(1_000_000));
    });
  }

  it('the check catches a path that allocates (negative control)', () => {
    const keep: number[][] = [];
    const spread = heapSpread(() => {
      keep.push([1]); // 1 small array per packet
      if (keep.length > 10) keep.shift();
      return 1;
    }, 1_000_000);
    expect(spread.spread).toBeGreaterThan(LIMIT);
  });
});
