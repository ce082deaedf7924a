/**
 * steer — the cost of flow steering on the device thread:
 *   parse+match with 0, 16, 256 and 1024 ntuple rules (tinybench; ns per packet over a
 *   mix of 1024 64-byte IPv4/IPv6 TCP/UDP frames, about half of them hitting a rule),
 *   rss-only (the table-driven Toeplitz over an IPv4 4-tuple, no parsing),
 *   ref:default-rss (the default steerer: Toeplitz RSS, no rules — the figure to compare with),
 * and the device thread's rate, gen → steer (16 rules) → ring, with 64-byte frames,
 * against the same switch with the default steerer, in the same run.
 * Targets: ≤ 20 ns/packet at 16 rules, ≤ 50 ns at 1024, ≥ 15 Mpps from one device thread.
 * The micro-benchmarks run on the process CPU clock (see below); compare them with
 * ref:default-rss from the same run.
 */
import { Bench } from 'tinybench';
import { SteeringControl } from '../../flows/control.js';
import { FlowSteerer } from '../../flows/steerer.js';
import { DEFAULT_RSS_KEY, newToeplitzTable, toeplitzAdd } from '../../flows/toeplitz.js';
import { DefaultRssSteerer } from '../../flows/rss.js';
import { Switch } from '../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../switch/config-types.js';
import { workerUrl } from '../../lib/worker-url.js';
import { line, rate, type BenchMode } from '../harness.js';

const N = 1024;
const STRIDE = 64;

/** Seeded generator: the same packets and rules every run. */
function rng(seed: number) {
  return (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
}

/** 1024 frames of 64 bytes: 75% IPv4, 25% IPv6, TCP and UDP, addresses 10.0.x.y / fd00::x. */
function packets(): Uint8Array {
  const r = rng(1);
  const buf = new Uint8Array(N * STRIDE);
  for (let i = 0; i < N; i++) {
    const o = i * STRIDE;
    buf.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], o);
    const tcp = r(2) === 0;
    const sport = 1024 + r(4096);
    const dport = [53, 80, 443, 8080, 1 + r(60000)][r(5)];
    let l4: number;
    if (r(4) !== 0) {
      buf.set([0x08, 0x00, 0x45, 0, 0, 50, 0, 0, 0, 0, 64, tcp ? 6 : 17, 0, 0, 10, 0, r(4), r(256), 192, 168, r(4), r(256)], o + 12);
      l4 = o + 34;
    } else {
      buf.set([0x86, 0xdd, 0x60, 0, 0, 0, 0, 10, tcp ? 6 : 17, 64], o + 12);
      buf.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, r(4), r(256)], o + 22);
      buf.set([0xfd, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], o + 38);
      l4 = o + 54;
      // 64-byte slot: the IPv6 payload (10 bytes) is cut to what fits; the length says 10.
    }
    buf[l4] = sport >> 8;
    buf[l4 + 1] = sport & 255;
    buf[l4 + 2] = dport >> 8;
    buf[l4 + 3] = dport & 255;
  }
  return buf;
}

/** A steering table of `n` rules in a few shapes, as a real configuration has. */
function control(n: number): SteeringControl {
  const c = new SteeringControl('bench0', 8);
  const r = rng(2);
  const shapes = [
    () => `flow-type udp4 dst-port ${[53, 443, 8080][r(3)]} dst-ip 192.168.${r(4)}.${r(256)}`,
    () => `flow-type tcp4 src-ip 10.0.${r(4)}.${r(256)} m 0.0.0.0`,
    () => `flow-type tcp4 dst-ip 192.168.${r(4)}.0 m 0.0.0.255 dst-port ${[80, 443][r(2)]}`,
    () => `flow-type udp6 src-ip fd00::${r(4)}:${r(256).toString(16)}`,
    () => `flow-type udp4 src-port ${1024 + r(4096)}`,
  ];
  const locs = new Set<number>();
  while (locs.size < n) {
    const loc = r(2048);
    if (locs.has(loc)) continue;
    locs.add(loc);
    c.run(`-N ${shapes[locs.size % shapes.length]()} action ${r(8)} loc ${loc}`);
  }
  return c;
}

async function deviceRate(steering: SteeringControl | null, seconds: number): Promise<number> {
  const config: SwitchConfig = {
    ...CONFIG_DEFAULTS,
    queues: 1,
    ports: [{ name: 'gen0', type: 'gen', flows: 64, size: 64 }],
    programs: [{ queues: [0], chain: [{ name: 'drop', params: {}, continueOn: [] }] }],
  };
  const opts = steering ? { steering: new Map([['gen0', { module: workerUrl('flows/steerer').href, shared: steering.shared }]]) } : {};
  const sw = await Switch.start(config, opts);
  const pps = await rate(() => {
    const s = sw.stats();
    const p = s.ports.gen0;
    return s.queues.rx0_packets + p.rx_ring_full + p.rx_no_buffer + p.rx_flow_drop; // every packet the device steered
  }, seconds);
  await sw.stop();
  return pps;
}

const mode: BenchMode = {
  name: 'steer',
  description: 'flow steering: parse + ntuple match at 0/16/256/1024 rules, RSS alone, and the device thread rate gen → steer → ring',
  async run(opts, report) {
    const buf = packets();
    // Timed on the process's CPU clock, not the wall clock: on a shared machine the wall
    // clock counts the time this thread was not running at all (nothing else runs in this
    // process during these loops). Resolution 1 µs; one iteration is 1024 packets.
    const cpuNow = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const bench = new Bench({ time: opts.seconds * 1000, warmupTime: 200, now: cpuNow });
    const steerers: [string, { steer(b: Uint8Array, o: number, l: number): number }, number][] = [];
    for (const n of [0, 16, 256, 1024]) steerers.push([`rules:${n}`, new FlowSteerer(control(n).shared), n === 16 ? 20 : n === 1024 ? 50 : 0]);
    steerers.push(['ref:default-rss', new DefaultRssSteerer(8), 0]);
    let sink = 0;
    for (const [name, s] of steerers) {
      bench.add(name, () => {
        // A local int accumulator: `sink +=` on a captured double would box a number per packet.
        let acc = 0;
        for (let i = 0; i < N; i++) acc = (acc + s.steer(buf, i * STRIDE, STRIDE)) | 0;
        sink ^= acc;
      });
    }
    const table = newToeplitzTable(DEFAULT_RSS_KEY);
    bench.add('rss-only', () => {
      let acc = 0;
      for (let i = 0; i < N; i++) {
        const o = i * STRIDE;
        acc ^= toeplitzAdd(table, toeplitzAdd(table, 0, 0, buf, o + 26, 8), 8, buf, o + 34, 4);
      }
      sink ^= acc;
    });
    await bench.run();
    if (sink === 0.5) console.log(sink); // keeps the loops observable
    for (const t of bench.tasks) {
      const res = t.result as { latency?: { mean: number; rme?: number } };
      if (!res.latency) continue;
      const ns = (res.latency.mean * 1e6) / N;
      const target = steerers.find((s) => s[0] === t.name)?.[2] ?? 0;
      report({ mode: `steer:${t.name}`, mpps: 1000 / ns, nsPerPacket: ns, ...(target ? { targetNs: target } : {}) });
      if (!opts.json) console.log(`${t.name.padEnd(23)}${ns.toFixed(1).padStart(10)} ns/pkt    ${(1000 / ns).toFixed(1).padStart(8)} Mpps${target ? `   (target ≤ ${target} ns)` : ''}`);
    }
    const ref = await deviceRate(null, opts.seconds);
    const steered = await deviceRate(control(16), opts.seconds);
    report({ mode: 'steer:device-ref', mpps: ref / 1e6 });
    report({ mode: 'steer:device-16rules', mpps: steered / 1e6, targetMpps: 15, vsRef: steered / ref });
    if (!opts.json) {
      console.log(line('device ref:default-rss', [[ref, 'rx/s']]));
      console.log(line('device 16 rules', [[steered, 'rx/s']]));
      console.log(`  device thread with 16 rules: ${(steered / 1e6).toFixed(2)} Mpps (target 15), ${((100 * steered) / ref).toFixed(0)}% of the default steerer`);
    }
  },
};
export default mode;
