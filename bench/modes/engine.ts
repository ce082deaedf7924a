/**
 * engine — the queue worker's own cost per packet, in thread CPU time (ns/pkt), for the
 * per-queue rows of `xdp` (drop, tx, redirect on pre-written frames) and xsk rx-drop: one
 * QueueEngine in a thread of its own with nothing else in it (bench/engine/rig.ts). CPU
 * time, not wall time: on this shared 2-core machine other processes steal the core, which
 * a wall-clock rate counts and thread CPU time does not. mpps = 1000 / ns-per-packet: what
 * the queue would do with a core to itself. Each case runs in a fresh thread so V8's
 * feedback of one case does not slow the next.
 */
import { Worker } from 'node:worker_threads';
import { line, type BenchMode } from '../harness.js';
import { ENGINE_CASES } from '../engine/rig.js';

const TARGET: Record<string, number> = { drop: 40, tx: 20, redirect: 15, xsk: 15 };

function runCase(kase: string, packets: number, rounds: number): Promise<{ best: number; median: number; counters: number[] }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('../engine/worker.js', import.meta.url), { workerData: { kase, packets, rounds } });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => code !== 0 && reject(new Error(`engine case ${kase}: worker exited ${code}`)));
  });
}

const mode: BenchMode = {
  name: 'engine',
  description: 'thread CPU ns per packet of one queue engine (drop, tx, redirect, xsk on pre-written frames), nothing else in its thread',
  async run(opts, report) {
    const packets = 1 << 20;
    const rounds = Math.max(3, Math.round(opts.seconds * 3));
    for (const kase of ENGINE_CASES) {
      const r = await runCase(kase, packets, rounds);
      const mpps = 1000 / r.median;
      report({ mode: `engine:${kase}`, mpps, nsPerPacket: r.median, bestNsPerPacket: r.best, targetMpps: TARGET[kase] });
      if (!opts.json) {
        console.log(line(`engine:${kase}`, [[mpps * 1e6, 'pkt/cpu-s']]) + `${r.median.toFixed(1).padStart(8)} ns/pkt (best ${r.best.toFixed(1)}; target ${TARGET[kase]} Mpps = ${(1000 / TARGET[kase]).toFixed(1)} ns)`);
      }
    }
  },
};
export default mode;
