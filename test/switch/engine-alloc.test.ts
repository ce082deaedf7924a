/**
 * The hot path allocates nothing: a million packets through `drop` and through `tx`, run
 * synchronously on this thread (no other JavaScript can run meanwhile), leave the heap
 * where it was. The young generation is sampled every 65,536 packets (test/support/heap.ts):
 * any per-packet allocation of even a few bytes would grow it by hundreds of kilobytes
 * between samples.
 */
import { describe, expect, it } from 'vitest';
import { bestSpread, engineAllocationCases, groRig, rig, rtcRig } from '../support/engine-rigs.js';

describe('queue engine: no allocation per packet', () => {
  it('a million TCP segments merged by GRO leave the heap where it was', async () => {
    const { engine, run } = await groRig();
    // A long warm-up: on a loaded machine the optimizing compiler runs late, and until it has,
    // interpreted code boxes numbers on the heap — not what this test is about.
    run(1_500_000);
    const { spread, processed, samples } = bestSpread(run, 1_000_000);
    expect(processed).toBeGreaterThanOrEqual(1_000_000);
    // 1460-byte payloads, 44 a super-frame at most (65535 bytes), flushed every breath.
    expect(engine.counters.get('rx_gro_packets')).toBeGreaterThan(1_300_000 / 64);
    expect(engine.counters.get('rx_gro_merged')).toBeGreaterThan(1_300_000 * 0.9);
    expect(engine.counters.get('rx_gro_no_buffer')).toBe(0);
    expect(spread, samples).toBeLessThan(200 * 1024);
  });

  it('a million TCP segments merged by GRO and written into a GUEST_TSO guest\'s RX ring by the worker leave the heap where it was', async () => {
    const { engine, run, guest } = await groRig(true);
    run(1_500_000);
    expect(guest!.seen.direct()).toBe(true);
    const { spread, processed, samples } = bestSpread(run, 1_000_000);
    expect(processed).toBeGreaterThanOrEqual(1_000_000);
    expect(engine.counters.get('rx_gro_packets')).toBeGreaterThan(1_300_000 / 64);
    // Every super-frame went into the guest's ring, none onto the port's tx ring.
    expect(guest!.seen.superFrames).toBeGreaterThan(1_300_000 / 64);
    expect(engine.counters.get('rx_gro_tx_full')).toBe(0);
    // Gathered straight into the guest's buffers, every one.
    expect(engine.counters.get('rx_gro_gathered')).toBe(engine.counters.get('rx_gro_packets'));
    expect(spread, samples).toBeLessThan(200 * 1024);
  });

  engineAllocationCases();

  it('run to completion: the check catches a program that allocates (negative control)', async () => {
    const { run } = await rtcRig(new URL('../fixtures/programs/allocates.mjs', import.meta.url).pathname, { recycle: true });
    run(300_000);
    const { spread, samples } = bestSpread(run, 1_000_000);
    expect(spread, samples).toBeGreaterThan(200 * 1024);
  });

  it('the check catches a program that allocates (negative control)', async () => {
    const { run } = await rig(new URL('../fixtures/programs/allocates.mjs', import.meta.url).pathname);
    run(300_000);
    const { spread, samples } = bestSpread(run, 1_000_000);
    expect(spread, samples).toBeGreaterThan(200 * 1024);
  });
});
