/**
 * A capture written by the queue workers hands its full buffers to the port's device thread,
 * which appends them to the file while the worker fills the other buffer
 * (switch/ports/pcap/queue-capture.ts). Here one queue side and the device's part
 * (writeHandedBuffers) run in this thread, so each way a hand-over can go is taken on
 * purpose: the device writes; the device never comes and the worker takes its buffer back;
 * the device's write fails; the worker ends between handing a buffer over and turning to
 * the other. tshark reads every file written; the order is checked record by record.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ClassicWriter } from '../../../../lib/pcap/classic-writer.js';
import { FileSink } from '../../../../lib/pcap/file-sink.js';
import { PcapReader } from '../../../../lib/pcap/reader.js';
import { PcapError } from '../../../../lib/pcap/error.js';
import { PcapQueueCapture, captureSharedState, writeHandedBuffers } from '../../../../switch/ports/pcap/queue-capture.js';
import { parsePcapOptions } from '../../../../switch/ports/pcap/port-options.js';
import { PORT_COUNTERS } from '../../../../switch/counters.js';
import type { QueueIO } from '../../../../switch/ports/port.js';
import { run, tempDir, udpFrame } from '../../../lib/pcap/helpers.js';
import { itNeeding, missing } from '../../../support/prereq.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

const FRAME = 2048;
const HEADROOM = 256;
/** 1500-byte frames: 1,516 bytes a record, so 700 of them pass the 1 MiB hand-over mark. */
const SIZE = 1500;

interface Side {
  io: QueueIO;
  counter(name: string): number;
  logs: string[];
}

/** What PcapQueueCapture uses of a QueueIO, over the port's shared state; wakeDevice as given. */
function side(shared: SharedArrayBuffer, wakeDevice: () => void): Side {
  const names = [...PORT_COUNTERS, 'tx_file_bytes', 'tx_file_errors'];
  const counters = new Float64Array(names.length);
  const logs: string[] = [];
  const io = {
    name: 'out',
    ifindex: 1,
    queue: 0,
    queues: 1,
    frameSize: FRAME,
    maxFrameLength: FRAME - HEADROOM,
    shared,
    counters,
    wakeDevice,
    counterIndex: (n: string) => names.indexOf(n),
    count: (n: string, k = 1) => (counters[names.indexOf(n)] += k),
    log: (_level: string, m: string) => logs.push(m),
  } as unknown as QueueIO;
  return { io, counter: (n) => counters[names.indexOf(n)], logs };
}

/** The capture file with its header, as the port's device thread creates it. */
function createCapture(name: string): string {
  const file = tmp.file(name);
  new ClassicWriter(file).close();
  return file;
}

/** The device thread's part, appending through a descriptor of its own. */
function device(file: string, shared: SharedArrayBuffer, fail = false): { service(): number; logs: string[] } {
  const sink = new FileSink(file, 64, { append: true });
  const logs: string[] = [];
  const write = (b: Uint8Array) => {
    if (fail) throw new PcapError('io', file, -1, 'write failed: ENOSPC (simulated)');
    sink.writeDirect(b, 0, b.length);
  };
  return { service: () => writeHandedBuffers(shared, 1, write, (m) => logs.push(m)), logs };
}

/** Frames i (from `from`, `n` of them) transmitted, one breath per `breath` (64, as a worker does). */
function send(cap: PcapQueueCapture, from: number, n: number, breath = 64): number {
  const area = new Uint8Array(FRAME);
  let sent = 0;
  for (let i = from; i < from + n; i++) {
    area.set(udpFrame(i, SIZE), HEADROOM);
    if (cap.transmit(area, HEADROOM, SIZE)) sent++;
    if ((i + 1) % breath === 0) cap.flushTx();
  }
  cap.flushTx();
  return sent;
}

/** The frames' numbers as the file holds them (udpFrame puts i in the IPv4 id). */
function numbers(file: string): number[] {
  const r = PcapReader.open(file);
  const out: number[] = [];
  while (r.next()) out.push(r.record.data.readUInt16BE(r.record.dataOffset + 18));
  r.close();
  return out;
}

/** Records tshark reads in the file (Wireshark's reader as the oracle). */
function tsharkCount(file: string): number {
  return run('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.len']).trim().split('\n').length;
}

/** The tests that end with tshark reading the file: they need it (under CI a missing tshark fails the file). */
const itWithTshark = itNeeding(missing({ tools: ['tshark'] }), 'tests that read the capture with tshark (Debian package tshark)');

const options = (file: string) => parsePcapOptions({ name: 'out', type: 'pcap', write: file }, []);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('a capture written by a queue worker, its full buffers written by the device thread', () => {
  itWithTshark('the device thread appends each buffer handed over while the worker fills the other: every record once, in order (tshark reads them all)', () => {
    const file = createCapture('handed.pcap');
    const shared = captureSharedState(1);
    const dev = device(file, shared);
    let wakes = 0;
    const s = side(shared, () => {
      wakes++;
      dev.service();
    });
    const cap = new PcapQueueCapture(options(file), s.io);
    expect(send(cap, 0, 3000)).toBe(3000);
    cap.close();
    // 3000 records of 1,516 bytes pass the 1 MiB mark four times: four hand-overs.
    expect(wakes).toBe(4);
    expect(numbers(file)).toEqual(range(3000));
    expect(s.counter('tx_file_bytes')).toBe(3000 * (16 + SIZE));
    expect(tsharkCount(file)).toBe(3000);
  });

  it('a device thread that never comes: the worker takes its buffer back and writes it itself, nothing lost or doubled', () => {
    const file = createCapture('unclaimed.pcap');
    const shared = captureSharedState(1);
    const s = side(shared, () => {});
    const cap = new PcapQueueCapture(options(file), s.io);
    expect(send(cap, 0, 3000)).toBe(3000);
    cap.close();
    // A late device finds nothing left to write.
    expect(device(file, shared).service()).toBe(0);
    expect(numbers(file)).toEqual(range(3000));
    expect(s.counter('tx_file_bytes')).toBe(3000 * (16 + SIZE));
  });

  it('breaths larger than a buffer (a big budget of big frames) hand it over mid-breath: records stay in order', () => {
    const file = createCapture('big-breaths.pcap');
    const shared = captureSharedState(1);
    // The device comes only every other hand-over: the worker takes the rest back itself.
    let wakes = 0;
    const dev = device(file, shared);
    const s = side(shared, () => {
      if (++wakes % 2 === 0) dev.service();
    });
    const cap = new PcapQueueCapture(options(file), s.io);
    // Breaths of 1,600 records (2.4 MB, more than a 2 MiB buffer).
    expect(send(cap, 0, 6400, 1600)).toBe(6400);
    cap.close();
    expect(wakes).toBeGreaterThanOrEqual(4);
    expect(numbers(file)).toEqual(range(6400));
    expect(s.counter('tx_file_bytes')).toBe(6400 * (16 + SIZE));
  });

  it('the device thread’s write fails: the worker stops the capture, counts tx_file_errors once and drops what follows', () => {
    const file = createCapture('failed.pcap');
    const shared = captureSharedState(1);
    const dev = device(file, shared, true);
    const s = side(shared, () => dev.service());
    const cap = new PcapQueueCapture(options(file), s.io);
    const sent = send(cap, 0, 3000);
    cap.close();
    expect(dev.logs[0]).toMatch(/ENOSPC/);
    expect(s.counter('tx_file_errors')).toBe(1);
    expect(s.logs.join('\n')).toMatch(/capture stopped on queue 0/);
    // The first buffer was handed over; the failure is seen at the next hand-over and every
    // transmit after it is refused (tx_dropped at the switch).
    expect(sent).toBeGreaterThan(690);
    expect(sent).toBeLessThan(3000);
    expect(numbers(file)).toEqual([]);
  });

  itWithTshark('a worker ended between handing a buffer over and turning to the other: its successor turns, the device writes the buffer, nothing twice (tshark reads them all)', () => {
    const file = createCapture('ended.pcap');
    const shared = captureSharedState(1);
    const dev = device(file, shared);
    // The first wake-up is where the worker ends (wakeDevice comes between the two steps).
    let ended = false;
    const s = side(shared, () => {
      if (!ended) {
        ended = true;
        throw new Error('terminated');
      }
      dev.service();
    });
    const first = new PcapQueueCapture(options(file), s.io);
    // 704 records pass the mark at the breath that ends with record 703.
    expect(() => send(first, 0, 3000)).toThrow('terminated');
    // The successor finds the buffer handed over and still the one to fill: it turns to the
    // other, and wakes the device for the handed one.
    const second = new PcapQueueCapture(options(file), s.io);
    expect(send(second, 704, 2296)).toBe(2296);
    second.close();
    expect(numbers(file)).toEqual(range(3000));
    expect(tsharkCount(file)).toBe(3000);
  });
});
