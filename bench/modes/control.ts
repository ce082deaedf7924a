/**
 * control — the control plane must not slow the data path. The daemon (daemon/daemon.ts,
 * the real Switch, control socket and all) runs `drop` on queue 0 fed by one gen device;
 * in alternating windows measured in the same run, a client in another process either
 * stays away (plain drop) or polls `stats` 10 times a second and updates a map 1000 times
 * a second over the control socket. Target: the loaded figure ≤ 5% below the plain one.
 *
 * The map is the blocklist of a `ddos` program on queue 1, which RSS gives no traffic
 * (`-X gen0 equal 1`), so both windows run the very same data path.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Daemon } from '../../daemon/daemon.js';
import { line, rate, sleep, type BenchMode } from '../harness.js';
import { workerUrl } from '../../lib/worker-url.js';

/** The client process: stats every 100 ms, one map update per elapsed millisecond (sent in batches every 10 ms); prints its counts on exit. */
function clientScript(socket: string, clientModule: string): string {
  return `
const { ControlClient } = await import(${JSON.stringify(clientModule)});
const c = await ControlClient.connect(${JSON.stringify(socket)});
let stats = 0, updates = 0, errors = 0, k = 0;
const t0 = Date.now();
setInterval(() => c.request('stats').then(() => stats++, () => errors++), 100);
let sent = 0;
setInterval(() => {
  // Catch up with the clock: timers run late on a busy machine, the rate must not.
  const due = Math.floor(Date.now() - t0) - sent;
  for (let i = 0; i < due; i++, sent++) {
    k = (k + 1) & 0xffff;
    const key = ['32', '0', '0', '0', '198', '51', String(k >> 8), String(k & 0xff)];
    c.request('map.update', { map: 'ddos/blocklist_v4', key, value: ['1', '0', '0', '0'] }).then(() => updates++, () => errors++);
  }
}, 10);
process.on('SIGTERM', () => {
  const s = (Date.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ statsPerSec: stats / s, updatesPerSec: updates / s, errors }) + '\\n');
  process.exit(0);
});
`;
}

async function withClient<T>(socket: string, f: () => Promise<T>): Promise<{ value: T; client: { statsPerSec: number; updatesPerSec: number; errors: number } }> {
  const script = clientScript(socket, workerUrl('daemon/control/client').href);
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await sleep(300); // connected and running before the window opens
  const value = await f();
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  return { value, client: JSON.parse(out.trim() || '{"statsPerSec":0,"updatesPerSec":0,"errors":-1}') };
}

const mode: BenchMode = {
  name: 'control',
  description: 'drop while a client polls stats 10/s and updates a map 1000/s over the control socket, against plain drop in the same run',
  async run(opts, report) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xswitch-bench-control-'));
    const socket = path.join(dir, 'ctl.sock');
    writeFileSync(path.join(dir, 'bench.flows'), 'ethtool -X gen0 equal 1   # every flow to queue 0\n');
    writeFileSync(
      path.join(dir, 'bench.yaml'),
      [
        'queues: 2',
        'steering: bench.flows',
        'ports:',
        '  - { name: gen0, type: gen, flows: 64, size: 64 }',
        'programs:',
        '  - queues: [0]',
        '    chain: [{ name: drop, params: { readData: true } }]',
        '  - queues: [1]',
        '    chain: [{ name: ddos, params: { maxPrefixes: 65536 } }]',
        '',
      ].join('\n'),
    );
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const d = await Daemon.start({ configFile: path.join(dir, 'bench.yaml'), socket, quiet: true, signals: false, out: sink, err: sink });
    const rx0 = () => d.stats().rx0_packets;
    try {
      if (!opts.json) console.log('Dropping packets on gen0 (ifindex 1; driver xswitch-gen), control client in another process');
      // A B A B: plain and loaded windows alternate, so drift in a shared machine hits both.
      // Also the daemon's main-thread utilisation (event-loop busy fraction): what the
      // control plane costs, independent of how loaded the machine is.
      const measure = async () => {
        const e0 = performance.eventLoopUtilization();
        const pps = await rate(rx0, opts.seconds, 0.3);
        return { pps, elu: performance.eventLoopUtilization(e0).utilization };
      };
      const plain: { pps: number; elu: number }[] = [];
      const loaded: { pps: number; elu: number }[] = [];
      let client = { statsPerSec: 0, updatesPerSec: 0, errors: 0 };
      for (let round = 0; round < 3; round++) {
        plain.push(await measure());
        const r = await withClient(socket, measure);
        loaded.push(r.value);
        client = r.client;
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
      const p = median(plain.map((x) => x.pps));
      const l = median(loaded.map((x) => x.pps));
      const eluP = median(plain.map((x) => x.elu));
      const eluL = median(loaded.map((x) => x.elu));
      const slowdown = 1 - l / p;
      report({ mode: 'control:plain-drop', mpps: p / 1e6, mainThreadBusyPct: 100 * eluP, rounds: plain.map((x) => x.pps / 1e6) });
      report({ mode: 'control:drop+control', mpps: l / 1e6, slowdownPct: 100 * slowdown, targetPct: 5, mainThreadBusyPct: 100 * eluL, rounds: loaded.map((x) => x.pps / 1e6), ...client });
      if (!opts.json) {
        console.log(line('plain drop', [[p, 'rx/s'], [p, 'err,drop/s']]));
        console.log(line('drop + control client', [[l, 'rx/s'], [l, 'err,drop/s']]));
        console.log(
          `  ${(100 * slowdown).toFixed(1)}% below plain drop (target ≤ 5%; medians of 3 alternating rounds); client: ${client.statsPerSec.toFixed(1)} stats/s, ${client.updatesPerSec.toFixed(0)} map updates/s, ${client.errors} errors`,
        );
        console.log(`  daemon main thread busy: ${(100 * eluP).toFixed(1)}% plain, ${(100 * eluL).toFixed(1)}% with the client`);
      }
    } finally {
      await d.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default mode;
