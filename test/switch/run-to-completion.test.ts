/**
 * Run to completion with real threads: queue workers poll their own RX queue of a `gen`
 * port and transmit on `null`'s queue side themselves, no device thread in between. The
 * guarantees of the pipeline model hold: exact packet and frame accounting, a killed
 * worker loses nothing, program swaps lose nothing, and `cpus` bounds the worker threads.
 */
import { describe, expect, it } from 'vitest';
import { Switch } from '../../switch/switch.js';
import { config, expectAccounted, fixture } from './support.js';
import { until } from '../support/fake-io.js';

describe('run to completion', () => {
  it('queue workers poll the generator and transmit themselves: every packet and frame accounted, no thread hop', async () => {
    // Small pools force rx_no_buffer on the queue side; mixed verdicts cover drop, TX,
    // redirect to null, pass, abort and invalid.
    const sw = await Switch.start(
      config([{ name: 'gen0', type: 'gen', count: 200_000, flows: 60 }, { name: 'out0', type: 'null' }], 2, [{ name: fixture('mixed.mjs'), params: { port: 2 }, continueOn: [] }], {
        poolFrames: 256,
        budget: 16,
        cpus: 2,
      }),
    );
    await sw.waitFinished('gen0');
    await sw.settled();
    const s = await sw.stop();
    expectAccounted(sw, s);
    const q = s.stats.queues;
    const g = s.stats.ports.gen0;
    const sum = (n: string) => q[`rx0_${n}`] + q[`rx1_${n}`];
    // The count is exact across queues: each queue sent its RSS share of the same packets.
    expect(g.rx_packets).toBe(200_000);
    expect(sum('packets') + g.rx_no_buffer).toBe(200_000);
    expect(q.rx0_packets).toBeGreaterThan(0);
    expect(q.rx1_packets).toBeGreaterThan(0);
    for (const n of ['xdp_drop', 'xdp_tx_xmit', 'xdp_redirect', 'xdp_pass', 'xdp_aborted', 'xdp_invalid']) expect(sum(n), n).toBeGreaterThan(0);
    // No hop: the device thread neither steered (rx_rps) nor allocated a frame from its pool,
    // and nothing waited on a ring for another thread (no ring full).
    expect(g.rx_rps).toBe(0);
    expect(g.rx_pp_alloc_fast + g.rx_pp_alloc_refill).toBe(0);
    expect(g.rx_ring_full).toBe(0);
    // What left: hairpins out of gen0, redirects out of null, each transmitted by its worker.
    expect(g.tx_packets).toBe(sum('xdp_tx_xmit'));
    expect(s.stats.ports.out0.tx_packets).toBe(sum('xdp_redirect'));
  });

  it('the device-thread path counts its hop (rx_rps), as Linux RPS', async () => {
    const sw = await Switch.start(config([{ name: 'gen0', type: 'gen', count: 20_000, thread: 'device', rate: 200_000 }, { name: 'out0', type: 'null' }], 2, [{ name: 'drop', continueOn: [] }], { cpus: 2 }));
    await sw.waitFinished('gen0');
    await sw.settled();
    const s = await sw.stop();
    expectAccounted(sw, s);
    const g = s.stats.ports.gen0;
    expect(g.rx_rps).toBe(s.stats.queues.rx0_packets + s.stats.queues.rx1_packets);
    expect(g.rx_rps).toBe(20_000 - g.rx_ring_full - g.rx_no_buffer);
  });

  it('a worker killed mid-run is restarted and its generator queue continues where it stopped: nothing lost, nothing twice', async () => {
    const sw = await Switch.start(config([{ name: 'gen0', type: 'gen', count: 100_000, rate: 100_000 }, { name: 'out0', type: 'null' }], 1, [{ name: 'tx', continueOn: [] }], { cpus: 1 }));
    await new Promise((r) => setTimeout(r, 300));
    const before = sw.stats().queues.rx0_packets;
    await sw.killQueueWorker(0);
    await sw.queueReady(0);
    await sw.waitFinished('gen0');
    await sw.settled();
    const s = await sw.stop();
    expectAccounted(sw, s);
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(100_000);
    expect(sw.restarts[0]).toBe(1);
    expect(s.stats.queues.rx0_restarts).toBe(1);
    const g = s.stats.ports.gen0;
    expect(g.rx_packets).toBe(100_000);
    expect(s.stats.queues.rx0_xdp_tx_xmit + g.rx_no_buffer).toBe(100_000);
    expect(g.tx_packets).toBe(s.stats.queues.rx0_xdp_tx_xmit);
  });

  it('busyPoll keeps a worker polling between sparse packets; without it the worker sleeps in each gap', async () => {
    // 50 packets, one every 10 ms: `rx0_sleeps` counts the worker's waits between them.
    const sleepsBetween = async (busyPoll: number): Promise<number> => {
      const sw = await Switch.start(config([{ name: 'gen0', type: 'gen', count: 50, rate: 100 }, { name: 'out0', type: 'null' }], 1, [{ name: 'drop', continueOn: [] }], { busyPoll }));
      await until(() => sw.stats().queues.rx0_packets >= 1, 'the first packet', 10_000);
      const before = sw.stats().queues.rx0_sleeps;
      await sw.waitFinished('gen0');
      const after = sw.stats().queues.rx0_sleeps;
      await sw.settled();
      const s = await sw.stop();
      expectAccounted(sw, s);
      expect(s.stats.queues.rx0_xdp_drop).toBe(50);
      return after - before;
    };
    // Past SPIN_MS (200 µs) without a packet, a worker without busyPoll waits: nearly once a gap.
    expect(await sleepsBetween(0)).toBeGreaterThanOrEqual(10);
    // With a 1 s window every gap is inside it: not one wait.
    expect(await sleepsBetween(1_000_000)).toBe(0);
  });

  it('cpus bounds the worker threads: one worker runs four queues, swaps and restarts apply per queue', async () => {
    // No count: the generator runs until the checks below have seen what they need, however
    // slowly a loaded machine schedules the one worker (a timed count could finish first).
    const sw = await Switch.start(
      config([{ name: 'gen0', type: 'gen', rate: 80_000, flows: 64 }, { name: 'out0', type: 'null' }], 4, [{ name: 'drop', continueOn: [] }], { cpus: 1 }),
    );
    expect(sw.layout.workers).toBe(1);
    // A swap reaches queue 2 on the shared worker, between two of its breaths.
    await sw.replacePrograms([2], [{ name: 'tx', continueOn: [] }]);
    expect(sw.programs()[2]).toEqual(['tx']);
    // Killing "queue 3's worker" ends the one thread: every queue it ran restarts.
    await sw.killQueueWorker(3);
    await sw.queueReady(3);
    const seen = (): boolean => {
      const f = sw.flatStats();
      return f.rx2_xdp_tx_xmit > 0 && [0, 1, 3].every((i) => f[`rx${i}_xdp_drop`] > 0);
    };
    await until(seen, 'every queue of the restarted worker to switch again', 30_000);
    const s = await sw.stop();
    expectAccounted(sw, s);
    const q = s.stats.queues;
    expect(sw.restarts).toEqual([1, 1, 1, 1]);
    let packets = 0;
    for (let i = 0; i < 4; i++) {
      expect(q[`rx${i}_packets`], `queue ${i}`).toBeGreaterThan(0);
      packets += q[`rx${i}_packets`];
    }
    expect(packets + s.stats.ports.gen0.rx_no_buffer).toBe(s.stats.ports.gen0.rx_packets);
    expect(q.rx2_xdp_tx_xmit).toBeGreaterThan(0);
    expect(q.rx0_xdp_tx_xmit + q.rx1_xdp_tx_xmit + q.rx3_xdp_tx_xmit).toBe(0);
  });

  it('refuses cpus that is not a positive integer through the configuration file', async () => {
    const { parseConfig } = await import('../../daemon/config/load.js');
    await expect(parseConfig('cpus: 0\nports:\n  - name: g\n    type: gen\n', 'bad.yaml')).rejects.toThrow(/cpus: 0 is too small/);
  });
});
