/**
 * The run-to-completion hot paths allocate nothing even where V8 leaves them half-optimized.
 *
 * V8 can compile a function's loop alone (on-stack replacement) and keep running the rest
 * of the function — the code before the loop and the loop's first pass — unoptimized,
 * call after call. There every double, and every 32-bit integer beyond ±2^30, is a heap
 * number. A CI run caught the generator's poll so: its loop compiled alone for good, a
 * Toeplitz hash boxed every breath (32 bytes a breath, all eight measurements;
 * docs/architecture.md §3). `--always-osr` makes V8 do that to every function with a loop;
 * this file runs the rigs of engine-alloc.test.ts under it, in its own process (vitest's
 * forks pool), and asks the same of them.
 */
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { bestSpread, rig, rtcSpread, RTC_CASES, vmRig } from '../support/engine-rigs.js';

// Read by V8 each time it decides how to tier a function up: set before any rig runs.
setFlagsFromString('--always-osr');

describe('queue engine under --always-osr: no allocation per packet or per breath', () => {
  for (const [program, gen] of RTC_CASES) {
    it(`gen (${'recycle' in gen ? 'pre-written frames' : 'written'}) through ${program}`, async () => {
      const { spread, processed, samples, packets } = await rtcSpread(program, gen);
      expect(processed).toBeGreaterThanOrEqual(1_000_000);
      expect(packets).toBeGreaterThanOrEqual(1_300_000);
      expect(spread, samples).toBeLessThan(200 * 1024);
    });
  }

  it('gen into a JS guest RX ring', async () => {
    const { run, delivered, direct } = await vmRig();
    run(300_000);
    expect(direct()).toBe(true);
    const { spread, samples } = bestSpread(run, 1_000_000);
    expect(delivered()).toBeGreaterThanOrEqual(1_000_000);
    expect(spread, samples).toBeLessThan(200 * 1024);
  });

  for (const program of ['drop', 'tx']) {
    it(`a ring written by a device thread, through ${program}`, async () => {
      const { run } = await rig(program);
      run(300_000);
      const { spread, samples } = bestSpread(run, 1_000_000);
      expect(spread, samples).toBeLessThan(200 * 1024);
    });
  }
});
