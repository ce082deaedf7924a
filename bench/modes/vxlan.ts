/**
 * vxlan — two kernel VXLAN hosts (VNI 1 and VNI 2) joined through xswitch's vxlan ports
 * (l2switch), against a plain Node `dgram` relay that rewrites the VNI (one callback per
 * datagram), in the same topology and the same run:
 *
 *   h1: vx1 (VNI 1) ─┐                         ┌─ xswitch: vx1 + vx2 (one shared socket; see CASES)
 *   h2: vx2 (VNI 2) ─┴─ ul: ul0 ══ veth ══ root ns, 10.95.0.1:4789
 *                                              └─ or: relay (node -e: on 'message' → VNI 1 ⇄ 2 → send)
 *
 * The kernels send every VNI to 10.95.0.1:4789; the switch (or the relay) sends back to the
 * underlay host's 4789, where the kernel decapsulates into the other host's device.
 * TCP throughput: one Node TCP stream h1 → h2 for `seconds` (iperf3 is not among the CI's
 * packages). RTT: ping h1 → h2, 50 probes 20 ms apart, the median, after the stream (see pingsAroundStream; the pings before it are printed too). The hosts send whole, checksummed
 * packets (`ethtool -K vxN tx off tso off gso off`). Needs root. Targets (issue 12): ≥ 1.3×
 * the relay's throughput, RTT no higher than the relay's.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Switch } from '../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../switch/config-types.js';
import { line, type BenchMode } from '../harness.js';
import { pingRtt, pingsAroundStream, sh, tcpThroughput, waitOutput } from '../netns-stream.js';

const NODE = process.execPath;

/** argv: listen host, underlay host. VNI 1 ⇄ 2, sent to the underlay's 4789: one callback and one send per datagram. */
const RELAY = `
const [local, remote] = process.argv.slice(1);
const s = require('dgram').createSocket('udp4');
s.on('message', (m) => {
  if (m.length < 8) return;
  const vni = (m[4] << 16) | (m[5] << 8) | m[6];
  if (vni !== 1 && vni !== 2) return;
  m[6] = vni === 1 ? 2 : 1;
  s.send(m, 4789, remote);
});
s.bind(4789, local, () => console.log('ready'));
`;

class Topology {
  readonly prefix = 'xv' + randomBytes(2).toString('hex');
  readonly sw = '10.95.0.1';
  readonly ul = '10.95.0.2';
  readonly veth = `${this.prefix}s`;
  ns(name: string): string {
    return `${this.prefix}-${name}`;
  }

  up(): void {
    for (const n of ['ul', 'h1', 'h2']) {
      sh('ip', ['netns', 'add', this.ns(n)]);
      sh('ip', ['-n', this.ns(n), 'link', 'set', 'lo', 'up']);
    }
    sh('ip', ['link', 'add', this.veth, 'type', 'veth', 'peer', 'name', 'ul0', 'netns', this.ns('ul')]);
    sh('sysctl', ['-qw', `net.ipv6.conf.${this.veth}.disable_ipv6=1`]);
    sh('ip', ['addr', 'add', `${this.sw}/24`, 'dev', this.veth]);
    sh('ip', ['link', 'set', this.veth, 'up']);
    sh('ip', ['-n', this.ns('ul'), 'addr', 'add', `${this.ul}/24`, 'dev', 'ul0']);
    sh('ip', ['-n', this.ns('ul'), 'link', 'set', 'ul0', 'up']);
    for (const i of [1, 2]) {
      const h = this.ns(`h${i}`);
      // Created in the underlay namespace (its UDP socket stays there), then moved to the host.
      sh('ip', ['-n', this.ns('ul'), 'link', 'add', `vx${i}`, 'type', 'vxlan', 'id', String(i), 'local', this.ul, 'remote', this.sw, 'dstport', '4789', 'nolearning']);
      sh('ip', ['-n', this.ns('ul'), 'link', 'set', `vx${i}`, 'mtu', '1450', 'netns', h]);
      sh('ip', ['-n', h, 'addr', 'add', `192.0.2.${i}/24`, 'dev', `vx${i}`]);
      sh('ip', ['-n', h, 'link', 'set', `vx${i}`, 'up']);
      sh('ip', ['netns', 'exec', h, 'ethtool', '-K', `vx${i}`, 'tx', 'off', 'tso', 'off', 'gso', 'off']);
    }
  }

  down(): void {
    for (const n of ['h1', 'h2', 'ul']) {
      try {
        sh('ip', ['netns', 'del', this.ns(n)]);
      } catch {
        // already gone
      }
    }
  }

  /** TCP throughput h1 → h2 in bits per second. */
  tcp(seconds: number, port: number): Promise<number> {
    return tcpThroughput(this.ns('h1'), this.ns('h2'), '192.0.2.2', seconds, port);
  }

  /** Ping RTT h1 → h2 in ms (50 probes; see pingRtt): the median is the figure here. */
  rtt(): { mean: number; median: number } {
    return pingRtt(this.ns('h1'), '192.0.2.2');
  }
}

/** Throughput; median RTT after it (the row's) and before any traffic (`cold`: see pingsAroundStream). */
interface M {
  bps: number;
  rtt: number;
  cold: number;
}

async function measure(t: Topology, seconds: number, port: number): Promise<M> {
  const m = await pingsAroundStream(() => t.rtt(), () => t.tcp(seconds, port));
  return { bps: m.bps, rtt: m.rtt.median, cold: m.cold.median };
}

/** A switch configuration measured: the vxlan ports' `io`, `receive` and `transmit` options. */
interface Case {
  name: string;
  io: 'mmsg' | 'dgram';
  receive: 'device' | 'queues';
  transmit: 'device' | 'queues';
  /** The switch's busyPoll (µs); 0 when absent. */
  busyPoll?: number;
}

const CASES: Case[] = [
  // Run to completion both ways: the queue worker receives (woken by the socket) and sends.
  { name: 'vxlan/queue-rx+queue-tx', io: 'mmsg', receive: 'queues', transmit: 'queues' },
  // The same with busyPoll 50 ms (longer than the pings' 20 ms spacing): no wake-up in the RTT.
  { name: 'vxlan/queue-rx+queue-tx+busy', io: 'mmsg', receive: 'queues', transmit: 'queues', busyPoll: 50_000 },
  { name: 'vxlan/queue-rx', io: 'mmsg', receive: 'queues', transmit: 'device' },
  { name: 'vxlan/mmsg+queue-tx', io: 'mmsg', receive: 'device', transmit: 'queues' },
  { name: 'vxlan/mmsg', io: 'mmsg', receive: 'device', transmit: 'device' },
  { name: 'vxlan/dgram', io: 'dgram', receive: 'device', transmit: 'device' },
];

async function measureSwitch(t: Topology, seconds: number, port: number, { io, receive, transmit, busyPoll }: Case): Promise<M> {
  const config: SwitchConfig = {
    ...CONFIG_DEFAULTS,
    busyPoll: busyPoll ?? 0,
    ports: [
      { name: 'vx1', type: 'vxlan', local: `${t.sw}:4789`, remote: t.ul, vni: 1, io, receive, transmit },
      { name: 'vx2', type: 'vxlan', local: `${t.sw}:4789`, remote: t.ul, vni: 2, io, receive, transmit },
    ],
    programs: [{ queues: [0], chain: [{ name: 'l2switch', params: {}, continueOn: [] }] }],
  };
  const sw = await Switch.start(config);
  const logs: string[] = [];
  sw.on('log', (e: { level: string; message: string }) => logs.push(`${e.level}: ${e.message}`));
  try {
    return await measure(t, seconds, port);
  } catch (e) {
    throw new Error(`${(e as Error).message}\nswitch (io: ${io}, receive: ${receive}, transmit: ${transmit}) counters: ${JSON.stringify(sw.stats().ports)}\nlog:\n${logs.join('\n')}`);
  } finally {
    await sw.stop();
  }
}

async function measureRelay(t: Topology, seconds: number, port: number): Promise<M> {
  const relay = spawn(NODE, ['-e', RELAY, t.sw, t.ul], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  relay.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitOutput(relay, () => out, /ready/, 10_000);
    return await measure(t, seconds, port);
  } finally {
    const gone = new Promise((r) => relay.once('exit', r));
    relay.kill();
    await gone;
  }
}

const mode: BenchMode = {
  name: 'vxlan',
  description: 'TCP throughput and ping RTT between two kernel VXLAN hosts through xswitch vs a Node dgram relay (needs root)',
  async run(opts, report) {
    if (process.getuid?.() !== 0) {
      console.log('  skipped: needs root (network namespaces)');
      return;
    }
    const t = new Topology();
    const seconds = Math.max(opts.seconds, 3);
    t.up();
    try {
      if (!opts.json) console.log(`50 pings, one TCP stream h1 → h2 for ${seconds} s, 50 pings again (the row's RTT, median; the first printed after it); the relay and each switch case in turn, 2 rounds (the second in reverse order); best of each`);
      const relay: M[] = [];
      const got = new Map<string, M[]>(CASES.map((c) => [c.name, []]));
      let port = 5301;
      for (let r = 0; r < 2; r++) {
        // Reverse the order in the second round so a drift in the machine's load favours none.
        const order: (Case | null)[] = [null, ...CASES];
        if (r === 1) order.reverse();
        for (const c of order) {
          if (c === null) relay.push(await measureRelay(t, seconds, port++));
          else got.get(c.name)!.push(await measureSwitch(t, seconds, port++, c));
        }
      }
      const best = (cs: M[]) => ({ bps: Math.max(...cs.map((c) => c.bps)), rtt: Math.min(...cs.map((c) => c.rtt)), cold: Math.min(...cs.map((c) => c.cold)) });
      const b = best(relay);
      report({ mode: 'ref:dgram-relay', mpps: 0, gbps: b.bps / 1e9, rttMs: b.rtt, coldRttMs: b.cold, rounds: relay });
      if (!opts.json) console.log(line('ref:dgram-relay', [[b.bps / 1e6, 'Mbit/s'], [b.rtt * 1000, 'µs RTT']]));
      for (const c of CASES) {
        const cs = got.get(c.name)!;
        const x = best(cs);
        const ratio = x.bps / b.bps;
        const rttRatio = x.rtt / b.rtt;
        report({ mode: c.name, mpps: 0, gbps: x.bps / 1e9, rttMs: x.rtt, coldRttMs: x.cold, rounds: cs, ratioToRelay: ratio, rttRatioToRelay: rttRatio, coldRttRatioToRelay: x.cold / b.cold, targetRatio: 1.3, targetRttRatio: 1 });
        if (!opts.json) {
          console.log(line(c.name, [[x.bps / 1e6, 'Mbit/s'], [x.rtt * 1000, 'µs RTT']]));
          console.log(`  ${c.name}: ${ratio.toFixed(2)}× the relay's throughput (target ≥ 1.3×), ${rttRatio.toFixed(2)}× its RTT (target ≤ 1×); before any traffic ${(x.cold * 1000).toFixed(0)} µs, ${(x.cold / b.cold).toFixed(2)}× the relay's (${(b.cold * 1000).toFixed(0)} µs)`);
        }
      }
    } finally {
      t.down();
    }
  },
};
export default mode;
