/**
 * scaling — how the drop rate grows with queues: 1, 2, 4 and 8 queues, one worker each
 * (`cpus` = queues), every queue polling its own RX queue of one `gen` port on pre-written
 * frames (recycle: the per-queue figure, as the xdp bench's `drop` row) and running drop.
 * The figure is the sum over the queues of what they took, against one queue in the same
 * run (target, issue 11: ≥ 7× at 8 queues).
 *
 *   gen0 RX queue q ──poll──▶ worker q: drop          (q = 0 … n−1, RSS spreads 64 × n flows)
 *
 * A queue count above the cores this process may use is still measured, and marked: its
 * workers time-slice (threads ≤ cores is the switch's own rule, `cpus`), so that row shows
 * what the machine gives, not how the switch scales. Run it where there are cores to spare
 * (the 16-core device machine) for the issue's figure.
 */
import { availableParallelism } from 'node:os';
import { Switch } from '../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../switch/config-types.js';
import { line, rate, type BenchMode } from '../harness.js';

const COUNTS = [1, 2, 4, 8];

/** Packets a second all `queues` queues took together, each with a worker of its own. */
async function dropRate(queues: number, seconds: number): Promise<{ pps: number; perQueue: number[] }> {
  const all = Array.from({ length: queues }, (_, q) => q);
  const config: SwitchConfig = {
    ...CONFIG_DEFAULTS,
    queues,
    cpus: queues,
    ports: [{ name: 'gen0', type: 'gen', flows: 64 * queues, size: 64, recycle: true }],
    programs: [{ queues: all, chain: [{ name: 'drop', params: { readData: true }, continueOn: [] }] }],
  };
  const sw = await Switch.start(config);
  try {
    const taken = () => {
      const s = sw.stats().queues;
      let n = 0;
      for (const q of all) n += s[`rx${q}_packets`];
      return n;
    };
    const start = sw.stats().queues;
    const t0 = process.hrtime.bigint();
    const pps = await rate(taken, seconds);
    const end = sw.stats().queues;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    // Each queue's share over the whole run (warm-up included): an idle queue shows as 0.
    const perQueue = all.map((q) => (end[`rx${q}_packets`] - start[`rx${q}_packets`]) / s);
    return { pps, perQueue };
  } finally {
    await sw.stop();
  }
}

const mode: BenchMode = {
  name: 'scaling',
  description: 'drop rate with 1, 2, 4 and 8 queues (a worker each, pre-written frames) against one queue, same run (target ≥ 7× at 8)',
  async run(opts, report) {
    const cores = availableParallelism();
    if (!opts.json) console.log(`Dropping packets on gen0 (pre-written frames, 64 B), 1…8 queues with a worker each; ${cores} cores here`);
    let one = 0;
    for (const queues of COUNTS) {
      const r = await dropRate(queues, opts.seconds);
      if (queues === 1) one = r.pps;
      const ratio = r.pps / one;
      const sliced = queues > cores;
      report({ mode: `scaling:${queues}`, mpps: r.pps / 1e6, queues, cores, ratioToOneQueue: ratio, perQueueMpps: r.perQueue.map((p) => p / 1e6), timeSliced: sliced, ...(queues === 8 ? { targetRatio: 7 } : {}) });
      if (!opts.json) {
        console.log(line(`scaling:${queues}`, [[r.pps, 'rx/s']]) + `  ${ratio.toFixed(2)}× one queue${queues === 8 ? ' (target ≥ 7×)' : ''}`);
        console.log(`  per queue (Mpps): ${r.perQueue.map((p) => (p / 1e6).toFixed(1)).join(' ')}${sliced ? `  — ${queues} workers on ${cores} cores: they time-slice, this row is the machine's limit` : ''}`);
      }
    }
  },
};
export default mode;
