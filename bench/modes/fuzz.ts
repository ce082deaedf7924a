/**
 * fuzz — the virtio-net device under a hostile guest (bench/fuzz/virtio-fuzz.ts):
 * 100,000 rounds (--rounds) for each configuration (split/packed × 1/2 queue pairs ×
 * MRG_RXBUF × EVENT_IDX), reporting the number of rounds that broke a rule or threw
 * ("crashes"; the target is 0) and the first one with its seed and round. Not a speed
 * figure: rounds per second are printed only to size a run.
 */
import { configName, fuzzConfigs, fuzzVirtio } from '../fuzz/virtio-fuzz.js';
import { line, type BenchMode } from '../harness.js';

const mode: BenchMode = {
  name: 'fuzz',
  description: 'virtio device fuzzing: crashes per 100,000 rounds per configuration (target 0)',
  onlyWhenNamed: true,
  async run(opts, report) {
    const rounds = opts.rounds ?? 100_000;
    let total = 0;
    for (const [i, cfg] of fuzzConfigs().entries()) {
      const t0 = process.hrtime.bigint();
      const r = fuzzVirtio(cfg, 0xf0220000 + i, rounds);
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      total += r.crashes;
      report({ mode: `fuzz:${configName(cfg)}`, mpps: 0, rounds, crashes: r.crashes, firstCrash: r.firstCrash, ...r.stats });
      if (!opts.json) {
        console.log(line(configName(cfg), [[r.crashes, 'crashes'], [rounds, 'rounds'], [rounds / s, 'rounds/s'], [r.stats.framesToGuest, 'rx frames'], [r.stats.needsReset, 'resets']]));
        if (r.firstCrash) console.log(`  first: ${r.firstCrash}`);
      }
    }
    if (!opts.json) console.log(line('all configurations', [[total, 'crashes']]));
  },
};

export default mode;
