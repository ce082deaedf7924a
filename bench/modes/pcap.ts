/**
 * pcap — a preloaded capture replayed as fast as possible by a pcap port, through one
 * queue worker running `redirect`, into a pcap port writing a capture: the whole
 * file-to-file path. 64- and 1500-byte frames; figures are what reached the output
 * capture (Mpps, and Gbit/s of frame bytes). Run to completion: the queue worker replays
 * the capture itself (switch/ports/pcap/queue-replay.ts), runs the program and writes each
 * frame's record into its own capture buffer, appended to the file in large writes
 * (switch/ports/pcap/queue-capture.ts): one thread, no hop. Each row also gives the CPU time per packet of every thread and of the busiest
 * two (bench/thread-cpu.ts) and the rate that bounds with a core per thread.
 *
 * In the same run, for each frame size:
 *   sink /dev/null   the same path with the output capture written to /dev/null: what the
 *                    switch and the writer cost, without the file system
 *   ref:gen-null     gen → redirect → null port: the data path with neither replay nor capture
 *   part:replay      one thread: the preloaded replay writing frames into a frame area
 *   part:sink        one thread: the pcap port's transmit() writing a capture to /dev/null
 *   ref:file-growth  one thread writing a new file in the same directory in 1 MiB write(2)s
 *                    of a filled buffer, as the capture does: how fast this machine's page
 *                    cache takes new bytes at all. Divided by a record's bytes (16 + frame),
 *                    the packet rate no writer of a growing capture can pass here; the
 *                    pcap→pcap rows give their share of it (ofFileCeiling)
 * The two parts say what the pcap port costs per packet on its own thread; the switch
 * figures say what the whole path gives on this machine (threads share its cores).
 * Target (issues 4 and 11): ≥ 10 Mpps end to end with 64-byte frames.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Switch } from '../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../switch/config-types.js';
import type { PortConfig } from '../../switch/ports/port.js';
import { createWriter } from '../../lib/pcap/writer.js';
import { preloadCapture } from '../../lib/pcap/preload.js';
import { PreloadedSource } from '../../switch/ports/pcap/replay-source.js';
import pcapPort from '../../switch/ports/pcap.js';
import { PORT_COUNTERS } from '../../switch/counters.js';
import type { PortIO } from '../../switch/ports/port.js';
import { line, sleep, type BenchMode, type BenchResult } from '../harness.js';
import { threadCpu, threadCpuSince } from '../thread-cpu.js';

const FLOWS = 256;

/**
 * Bytes per second a new file in `dir` takes in 1 MiB write(2)s (up to `seconds` or 1 GiB):
 * the page cache's rate for bytes that need new pages, which bounds any capture writer.
 */
function fileGrowth(dir: string, seconds: number): number {
  const file = path.join(dir, 'growth.bin');
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  const fd = openSync(file, 'w');
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  let ns = 0;
  try {
    while (ns < seconds * 1e9 && bytes < 1 << 30) {
      bytes += writeSync(fd, chunk);
      ns = Number(process.hrtime.bigint() - t0);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  return bytes / (ns / 1e9);
}

/** A capture of FLOWS UDP frames of `size` bytes (distinct flows, valid IPv4 headers). */
function writeCapture(file: string, size: number): void {
  const w = createWriter(file);
  const f = Buffer.alloc(size);
  for (let i = 0; i < FLOWS; i++) {
    f.fill(0);
    f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
    f.writeUInt16BE(0x0800, 12);
    f[14] = 0x45;
    f.writeUInt16BE(size - 14, 16);
    f[22] = 64;
    f[23] = 17;
    f.set([10, 0, 0, i], 26);
    f.set([10, 1, 0, 1], 30);
    f.writeUInt16BE(1024 + i, 34);
    f.writeUInt16BE(9, 36);
    f.writeUInt16BE(size - 34, 38);
    w.write(f, 0, size, 0, i);
  }
  w.close();
}

interface CaseResult {
  pps: number;
  inPps: number;
  dropped: number;
  /** Frames the queue took but found the output's tx ring full (xdp_tx_full). */
  txFull: number;
  /** CPU ns per packet written: all threads, and the busiest two (the worker and the sink). */
  cpuNs: number;
  busiestNs: number;
  secondNs: number;
}

async function run(input: PortConfig, outName: string, seconds: number): Promise<CaseResult> {
  const config: SwitchConfig = {
    ...CONFIG_DEFAULTS,
    queues: 1,
    ports: [input, outName === '' ? { name: 'out', type: 'null' } : { name: 'out', type: 'pcap', write: outName }],
    programs: [{ queues: [0], chain: [{ name: 'redirect', params: { port: 'out' }, continueOn: [] }] }],
  };
  const sw = await Switch.start(config);
  await sleep(500); // warm-up
  const a = sw.stats().ports;
  const cpu0 = threadCpu();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const b = sw.stats().ports;
  const cpu = threadCpuSince(cpu0);
  const dt = (performance.now() - t0) / 1000;
  const done = b.out.tx_packets - a.out.tx_packets;
  const summary = await sw.stop();
  const s = summary.stats.ports.in;
  const per = (ns: number | undefined) => (done > 0 && ns !== undefined ? ns / done : 0);
  return {
    pps: done / dt,
    inPps: (b.in.rx_packets - a.in.rx_packets) / dt,
    dropped: s.rx_no_buffer + s.rx_ring_full,
    txFull: summary.stats.queues.rx0_xdp_tx_full,
    cpuNs: per(cpu.reduce((x, y) => x + y, 0)),
    busiestNs: per(cpu[0]),
    secondNs: per(cpu[1]),
  };
}

/** A PortIO with a 4096-frame area that takes every frame (for the single-thread parts). */
function partIO(): PortIO {
  const area = new Uint8Array(new SharedArrayBuffer(4096 * 2048));
  const names = [...PORT_COUNTERS, ...(pcapPort.counters ?? [])];
  let next = 0;
  return {
    name: 'part',
    ifindex: 1,
    frameSize: 2048,
    maxFrameLength: 1792,
    area,
    counters: new Float64Array(names.length),
    receive: () => true,
    allocFrame: () => (next = (next + 1) & 4095),
    dataOffset: (f) => f * 2048 + 256,
    submit: () => true,
    flush() {},
    count() {},
    counterIndex: (n) => names.indexOf(n),
    log() {},
  };
}

/** Packets per second of `step(n)` (which handles n packets) over `seconds`, after a warm-up. */
function timed(seconds: number, step: () => number): number {
  const end0 = performance.now() + 200;
  while (performance.now() < end0) step();
  let n = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) for (let k = 0; k < 64; k++) n += step();
  return (n * 1000) / (performance.now() - t0);
}

async function parts(input: string, size: number, seconds: number): Promise<[number, number]> {
  const io = partIO();
  const src = new PreloadedSource(preloadCapture(input));
  const replay = timed(seconds, () => {
    const k = src.sendUpTo(io, 64, Infinity);
    if (src.atEnd) src.rewind();
    return k;
  });
  const port = pcapPort.create({ name: 'part', type: 'pcap', write: '/dev/null' });
  await port.open(io);
  let f = 0;
  const sink = timed(seconds, () => {
    for (let k = 0; k < 64; k++) {
      f = (f + 1) & 4095;
      port.transmit(io.area, f * 2048 + 256, size, 0);
    }
    port.flushTx!();
    return 64;
  });
  await port.close();
  return [replay, sink];
}

const mode: BenchMode = {
  name: 'pcap',
  description: 'preloaded pcap replay → one queue (redirect) → pcap sink, 64 and 1500-byte frames, against a /dev/null sink and gen → null',
  async run(opts, report) {
    const dir = mkdtempSync(path.join(tmpdir(), 'xswitch-bench-pcap-'));
    try {
      for (const size of [64, 1500]) {
        const input = path.join(dir, `in-${size}.pcap`);
        writeCapture(input, size);
        const replay: PortConfig = { name: 'in', type: 'pcap', read: input, loop: 0 };
        const gbps = (pps: number) => (pps * size * 8) / 1e9;
        const cases: [string, PortConfig, string][] = [
          ['pcap→pcap', replay, path.join(dir, `out-${size}.pcap`)],
          ['pcap→/dev/null', replay, '/dev/null'],
          ['ref:gen-null', { name: 'in', type: 'gen', flows: FLOWS, size }, ''],
        ];
        if (!opts.json) console.log(`Redirecting from in (replay of ${FLOWS} ${size}-byte frames, loop 0) to out`);
        const [replayPps, sinkPps] = await parts(input, size, Math.min(opts.seconds, 1));
        for (const [label, pps] of [
          ['part:replay', replayPps],
          ['part:sink', sinkPps],
        ] as const) {
          report({ mode: `${label}/${size}`, mpps: pps / 1e6, nsPerPacket: 1e9 / pps, frameSize: size });
          if (!opts.json) console.log(line(`${label}/${size}`, [[pps, 'pkt/s']]) + `  ${(1e9 / pps).toFixed(1)} ns/packet, one thread`);
        }
        // Just before the cases, as they will find the machine.
        const growth = fileGrowth(dir, Math.min(opts.seconds, 1));
        // A record is its 16-byte header and the frame.
        const fileCeiling = growth / (16 + size);
        report({ mode: `ref:file-growth/${size}`, mpps: fileCeiling / 1e6, mbytesPerSecond: growth / 1e6, frameSize: size });
        if (!opts.json) console.log(line(`ref:file-growth/${size}`, [[fileCeiling, 'rec/s']]) + `  a new file takes ${(growth / 1e6).toFixed(0)} MB/s here: no capture of ${size}-byte frames grows faster`);
        const results: [string, CaseResult][] = [];
        for (const [label, inPort, out] of cases) results.push([label, await run(inPort, out, opts.seconds)]);
        rmSync(path.join(dir, `out-${size}.pcap`), { force: true });
        const genNull = results.find(([l]) => l === 'ref:gen-null')![1].pps;
        for (const [label, r] of results) {
          const res: BenchResult = {
            mode: `${label}/${size}`,
            mpps: r.pps / 1e6,
            gbps: gbps(r.pps),
            frameSize: size,
            ...(label === 'pcap→pcap' && size === 64 ? { targetMpps: 10 } : {}),
            droppedAtIngress: r.dropped,
            txFull: r.txFull,
            // Against gen → redirect → null in the same run (neither replay nor capture).
            ...(label !== 'ref:gen-null' ? { ofGenNull: r.pps / genNull } : {}),
            // Against what a growing file takes on this machine, in the same run.
            ...(label === 'pcap→pcap' ? { ofFileCeiling: r.pps / fileCeiling } : {}),
            // What a packet cost in CPU (thread time, not wall time): every thread, and the
            // busiest one, which bounds the rate with a core per thread: 1000 / busiestNs Mpps.
            cpuNsPerPacket: r.cpuNs,
            busiestThreadNsPerPacket: r.busiestNs,
            secondThreadNsPerPacket: r.secondNs,
            mppsWithCorePerThread: r.busiestNs > 0 ? 1e3 / r.busiestNs : 0,
          };
          report(res);
          if (!opts.json) {
            console.log(line(`${label}/${size}`, [[r.pps, 'redir/s'], [r.dropped + r.txFull, 'err,drop']]));
            const cpu = `CPU ${r.cpuNs.toFixed(0)} ns/packet (busiest thread ${r.busiestNs.toFixed(0)}, next ${r.secondNs.toFixed(0)}: ${(1e3 / r.busiestNs).toFixed(1)} Mpps with a core each)`;
            const vs = (label !== 'ref:gen-null' ? `, ${(r.pps / genNull).toFixed(2)}× gen → null` : '') + (label === 'pcap→pcap' ? `, ${((100 * r.pps) / fileCeiling).toFixed(0)}% of the file's ceiling` : '');
            console.log(`  ${label} ${size}B: ${(r.pps / 1e6).toFixed(2)} Mpps${vs}, ${gbps(r.pps).toFixed(2)} Gbit/s written; ${cpu}`);
          }
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default mode;
