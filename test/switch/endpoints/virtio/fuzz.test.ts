/**
 * Device-level fuzzing of the virtio-net device (bench/fuzz/virtio-fuzz.ts): a hostile
 * guest posts random and half-valid chains on split and packed rings, 1 and 2 queue
 * pairs, MRG_RXBUF and EVENT_IDX on and off. After every device call, every byte that
 * changed in guest memory must lie in a used-ring field or inside a writable buffer the
 * device returned, within the used.len it reported; guards around every buffer catch the
 * rest. CI runs ROUNDS per configuration; `npm run bench -- fuzz` runs 100,000.
 */
import { describe, expect, it } from 'vitest';
import { configName, fuzzConfigs, fuzzVirtio } from '../../../../bench/fuzz/virtio-fuzz.js';

const ROUNDS = 2500;

describe('virtio device fuzzing (seeded)', () => {
  for (const cfg of fuzzConfigs()) {
    it(`${configName(cfg)}: ${ROUNDS} rounds, no stray write, used.len exact, every frame read back and accounted`, () => {
      const r = fuzzVirtio(cfg, 0x15 + 97 * (cfg.packed ? 1 : 0) + 7 * cfg.pairs + (cfg.mrg ? 3 : 0) + (cfg.eventIdx ? 5 : 0), ROUNDS);
      expect(r.firstCrash).toBeNull();
      expect(r.crashes).toBe(0);
      // The fuzz must reach both outcomes and every path it is meant to: delivery both ways,
      // indirect tables the device actually walked, merged frames, broken rules.
      expect(r.stats.framesFromGuest).toBeGreaterThan(ROUNDS / 2);
      expect(r.stats.framesToGuest).toBeGreaterThan(ROUNDS / 2);
      expect(r.stats.indirectRx).toBeGreaterThan(ROUNDS / 10);
      expect(r.stats.needsReset).toBeGreaterThan(ROUNDS / 20);
      expect(r.stats.transmits).toBeGreaterThan(r.stats.framesToGuest);
      if (cfg.mrg) expect(r.stats.mergedFrames).toBeGreaterThan(ROUNDS / 20);
      else expect(r.stats.mergedFrames).toBe(0);
    });
  }
});
