/**
 * pcap — a preloaded capture replayed as fast as possible by a pcap port, through one
 * queue worker running `redirect`, into a pcap port writing a capture: the whole
 * file-to-file path. 64- and 1500-byte frames; figures are what reached the output
 * capture (Mpps, and Gbit/s of frame bytes).
 *
 * In the same run, for each frame size:
 *   sink /dev/null   the same path with the output capture written to /dev/null: what the
 *                    switch and the writer cost, without the file system
 *   ref:gen-null     gen → redirect → null port: the data path with neither replay nor capture
 * Target (issue 4): ≥ 10 Mpps end to end with 64-byte frames.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Switch } from '../../switch/supervisor.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../switch/config-types.js';
import type { PortConfig } from '../../switch/ports/port.js';
import { createWriter } from '../../switch/pcap/writer.js';
import { line, rate, type BenchMode, type BenchResult } from '../harness.js';

const FLOWS = 256;

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
}

async function run(input: PortConfig, outName: string, seconds: number, counter: () => string): Promise<CaseResult> {
  const config: SwitchConfig = {
    ...CONFIG_DEFAULTS,
    queues: 1,
    ports: [input, outName === '' ? { name: 'out', type: 'null' } : { name: 'out', type: 'pcap', write: outName }],
    programs: [{ queues: [0], chain: [{ name: 'redirect', params: { port: 'out' }, continueOn: [] }] }],
  };
  void counter;
  const sw = await Switch.start(config);
  const stats = () => sw.stats().ports;
  let inPps = 0;
  const pps = await rate(() => {
    const s = stats();
    inPps = s.in.rx_packets;
    return s.out.tx_packets;
  }, seconds);
  const s = (await sw.stop()).stats.ports.in;
  return { pps, inPps: (inPps / (seconds + 0.5)) | 0, dropped: s.rx_no_buffer + s.rx_ring_full };
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
        for (const [label, inPort, out] of cases) {
          const r = await run(inPort, out, opts.seconds, () => label);
          rmSync(path.join(dir, `out-${size}.pcap`), { force: true });
          const res: BenchResult = {
            mode: `${label}/${size}`,
            mpps: r.pps / 1e6,
            gbps: gbps(r.pps),
            frameSize: size,
            ...(label === 'pcap→pcap' && size === 64 ? { targetMpps: 10 } : {}),
            droppedAtIngress: r.dropped,
          };
          report(res);
          if (!opts.json) {
            console.log(line(`${label}/${size}`, [[r.pps, 'redir/s'], [r.dropped, 'err,drop']]));
            console.log(`  ${label} ${size}B: ${(r.pps / 1e6).toFixed(2)} Mpps, ${gbps(r.pps).toFixed(2)} Gbit/s written`);
          }
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default mode;
