/**
 * soak — `npm run bench -- soak --minutes N` (default 10; not in CI, not in a plain
 * `npm run bench`): one switch at the highest rate gen0 can offer, spread by the default
 * RSS over four queues, each with its own path:
 *
 *   queue 0  drop                         (XDP_DROP)
 *   queue 1  redirect → null port out0    (a port's tx ring and device thread)
 *   queue 2  redirect → virtio port vm0   → count-drop guest (a VM)
 *   queue 3  xskmap redirect → AF_XDP-style socket → rx-drop app (an xsk socket)
 *
 * Every SAMPLE_S seconds it samples the process RSS (all threads' heaps live in it), the
 * main thread's V8 heap after a full GC, the frames sitting in rings, and each path's
 * packet count. After the run, with the ports stopped: every frame home, every packet in
 * exactly one exit counter, and what each path's consumer counted equals what its port or
 * socket delivered. "Flat" compares the median of the second minute with the median of the
 * last (the first minute is warm-up: JIT, pools filling, ring buffers touched).
 */
import v8 from 'node:v8';
import { Switch } from '../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../switch/config-types.js';
import { workerUrl } from '../../lib/worker-url.js';
import { createXskShared, xskStats } from '../../switch/endpoints/xsk-shared.js';
import { startXskApp } from '../../switch/endpoints/xsk-app.js';
import { startVm } from '../../guest/runner.js';
import { line, sleep, type BenchMode } from '../harness.js';

const SAMPLE_S = 5;
/** Growth of the last minute's median over the second minute's that still counts as flat. */
const RSS_SLACK = 0.1;
const HEAP_SLACK = 0.1;

interface Sample {
  t: number;
  rss: number;
  heap: number;
  inRings: number;
  paths: number[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
};
const MB = 1 << 20;

const mode: BenchMode = {
  name: 'soak',
  description: 'N minutes (--minutes, default 10) through drop, redirect, a VM and an xsk socket: flat RSS and heap, every frame home, every packet accounted',
  onlyWhenNamed: true,
  async run(opts, report) {
    const minutes = opts.minutes ?? 10;
    const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
    const shared = createXskShared({ frames: 8192, ringSize: 4096 });
    const app = await startXskApp('examples/xsk/rx-drop', shared);
    const cfg: SwitchConfig = {
      ...CONFIG_DEFAULTS,
      queues: 4,
      poolFrames: 16384,
      ringSize: 2048,
      ports: [
        { name: 'gen0', type: 'gen', flows: 256, size: 64 },
        { name: 'out0', type: 'null' },
        { name: 'vm0', type: 'virtio', queueSize: 1024 },
      ],
      programs: [
        { queues: [0], chain: [{ name: 'drop', params: {}, continueOn: [] }] },
        { queues: [1], chain: [{ name: 'redirect', params: { port: 'out0' }, continueOn: [] }] },
        { queues: [2], chain: [{ name: 'redirect', params: { port: 'vm0' }, continueOn: [] }] },
        { queues: [3], chain: [{ name: workerUrl('examples/xsk/redirect-program').pathname, params: { ids: [-1, -1, -1, 0] }, continueOn: [] }] },
      ],
    } as SwitchConfig;
    const sw = await Switch.start(cfg);
    await sw.bindEndpoint(3, 0, workerUrl('switch/endpoints/xsk').href, { ...shared, egressPort: 0 });
    const vm = await startVm({
      program: 'examples/vm/count-drop',
      driver: { queueSize: 1024 },
      attach: (m) => sw.portControl('vm0', m),
      // The switch stops first (below): its port has already let the guest go.
      detach: () => sw.portControl('vm0', { op: 'detach' }).then(() => undefined, () => undefined),
    });
    const total = sw.accounting().total;
    const paths = () => {
      const q = sw.stats().queues;
      return [q.rx0_xdp_drop, q.rx1_xdp_redirect, vm.counter('rx_packets'), app.counters().packets];
    };
    const samples: Sample[] = [];
    const t0 = Date.now();
    const end = t0 + minutes * 60_000;
    if (!opts.json) console.log(`${'minute'.padEnd(23)}     drop Mpps  redirect Mpps        VM Mpps       xsk Mpps        RSS MiB       heap MiB  frames in rings`);
    let printed: Sample = { t: 0, rss: 0, heap: 0, inRings: 0, paths: [0, 0, 0, 0] };
    while (Date.now() < end) {
      await sleep(SAMPLE_S * 1000);
      gc();
      const mu = process.memoryUsage();
      // Frames sitting in rings (the pool's own free count is exact only when threads are idle).
      const s: Sample = { t: (Date.now() - t0) / 1000, rss: mu.rss, heap: v8.getHeapStatistics().used_heap_size, inRings: sw.ringFrames(), paths: paths() };
      samples.push(s);
      if (s.t - printed.t >= 60 || Date.now() >= end) {
        const dt = s.t - printed.t;
        const mpps = s.paths.map((p, i) => (p - printed.paths[i]) / dt / 1e6);
        if (!opts.json) {
          console.log(
            `${(s.t / 60).toFixed(1).padEnd(23)}` +
              mpps.map((m) => m.toFixed(3).padStart(15)).join('') +
              `${(s.rss / MB).toFixed(1).padStart(15)}${(s.heap / MB).toFixed(1).padStart(15)}${String(s.inRings).padStart(15)}`,
          );
        }
        printed = s;
      }
    }
    const offered = sw.stats().queues;
    const summary = await sw.stop();
    // The guest and the app drain what the port and the socket delivered before the switch stopped.
    const xs = xskStats(shared);
    for (let i = 0; i < 200 && (app.counters().packets < xs.rx_packets || vm.counter('rx_packets') < summary.stats.ports.vm0.tx_packets); i++) await sleep(10);
    const appPackets = app.counters().packets;
    const vmPackets = vm.counter('rx_packets');
    await vm.stop();
    await app.stop();

    // Flatness: the second minute against the last (fewer samples in a short run).
    const warm = samples.filter((s) => s.t > 60 && s.t <= 120);
    const last = samples.filter((s) => s.t > samples[samples.length - 1].t - 60);
    const base = warm.length > 0 ? warm : samples.slice(0, Math.max(1, Math.floor(samples.length / 3)));
    const rss0 = median(base.map((s) => s.rss));
    const rss1 = median(last.map((s) => s.rss));
    const heap0 = median(base.map((s) => s.heap));
    const heap1 = median(last.map((s) => s.heap));
    const maxInRings = Math.max(...samples.map((s) => s.inRings));

    // Accounting: frames home; each packet in one exit counter; each consumer saw what its port or socket delivered.
    const st = summary.stats;
    const problems: string[] = [];
    if (summary.accounting.doubled !== 0) problems.push(`${summary.accounting.doubled} frames in two places`);
    if (summary.accounting.free !== summary.accounting.total) problems.push(`${summary.accounting.total - summary.accounting.free} of ${summary.accounting.total} frames not home`);
    if (summary.unaccounted !== 0) problems.push(`${summary.unaccounted} packets in no queue exit counter`);
    let toQueues = 0;
    let sent = 0;
    for (let q = 0; q < 4; q++) {
      toQueues += st.queues[`rx${q}_packets`];
      sent += st.queues[`rx${q}_tx_frames`];
    }
    const g = st.ports.gen0;
    const fromPorts = g.rx_packets - g.rx_no_buffer - g.rx_ring_full - g.rx_flow_drop - g.rx_dropped;
    if (toQueues !== fromPorts) problems.push(`ports read ${fromPorts} into queues, queues counted ${toQueues}`);
    let out = 0;
    for (const c of Object.values(st.ports)) out += c.tx_packets + c.tx_dropped;
    if (out !== sent) problems.push(`queues put ${sent} on tx rings, ports sent or dropped ${out}`);
    if (vmPackets !== st.ports.vm0.tx_packets) problems.push(`vm0 sent ${st.ports.vm0.tx_packets}, the guest counted ${vmPackets}`);
    if (appPackets !== xs.rx_packets) problems.push(`the socket delivered ${xs.rx_packets}, the app counted ${appPackets}`);

    const rssFlat = rss1 <= rss0 * (1 + RSS_SLACK);
    const heapFlat = heap1 <= heap0 * (1 + HEAP_SLACK);
    const pass = rssFlat && heapFlat && problems.length === 0;
    const result = {
      mode: 'soak',
      mpps: 0,
      minutes,
      packets: toQueues,
      drop: offered.rx0_xdp_drop,
      redirect: offered.rx1_xdp_redirect,
      vm: vmPackets,
      xsk: appPackets,
      rssStartMiB: rss0 / MB,
      rssEndMiB: rss1 / MB,
      heapStartMiB: heap0 / MB,
      heapEndMiB: heap1 / MB,
      maxInRings,
      poolFrames: total,
      problems,
      pass,
    };
    report(result);
    if (!opts.json) {
      console.log(line('packets through queues', [[toQueues, 'packets'], [toQueues / (minutes * 60), 'pps']]));
      console.log(line('  drop / redirect', [[result.drop, 'dropped'], [result.redirect, 'to out0']]));
      console.log(line('  VM / xsk', [[result.vm, 'guest rx'], [result.xsk, 'app rx']]));
      console.log(`RSS   ${(rss0 / MB).toFixed(1)} MiB (2nd minute) → ${(rss1 / MB).toFixed(1)} MiB (last minute): ${rssFlat ? 'flat' : 'GROWING'}`);
      console.log(`heap  ${(heap0 / MB).toFixed(1)} MiB → ${(heap1 / MB).toFixed(1)} MiB (main thread, after GC): ${heapFlat ? 'flat' : 'GROWING'}`);
      console.log(`pool  at most ${maxInRings} of ${total} frames in rings at a sample; at stop ${summary.accounting.free} of ${summary.accounting.total} home`);
      console.log(problems.length === 0 ? 'accounting: every frame home, every packet in one counter, every consumer saw what was delivered' : `accounting: ${problems.join('; ')}`);
      console.log(pass ? 'soak: PASS' : 'soak: FAIL');
    }
    if (!pass) process.exitCode = 1;
  },
};

export default mode;
