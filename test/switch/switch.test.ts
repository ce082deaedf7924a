/**
 * The data path with real threads: one device thread per port, one worker per queue.
 */
import { describe, expect, it } from 'vitest';
import { Switch } from '../../switch/switch.js';
import { config, expectAccounted, fixture } from './support.js';

describe('Switch', () => {
  it('accounts for every frame and packet after mixed verdicts and forced ring overflow', async () => {
    // Tiny rings and pools force rx_ring_full, xdp_tx_full and rx_no_buffer paths. The
    // generator runs on its device thread and steers into the queues' rings (the RPS path).
    const sw = await Switch.start(
      config([{ name: 'gen0', type: 'gen', count: 200_000, flows: 60, thread: 'device' }, { name: 'out0', type: 'null' }], 2, [{ name: fixture('mixed.mjs'), params: { port: 2 }, continueOn: [] }], {
        ringSize: 32,
        poolFrames: 256,
        budget: 16,
      }),
    );
    await sw.waitFinished('gen0');
    await sw.settled();
    const s = await sw.stop();
    expectAccounted(sw, s);
    const q = s.stats.queues;
    const sum = (n: string) => q[`rx0_${n}`] + q[`rx1_${n}`];
    // How many reach the queues past the full rings depends on scheduling (an unpaced device
    // thread against starved workers); that each path below was taken does not.
    expect(sum('packets')).toBeGreaterThan(0);
    for (const n of ['xdp_drop', 'xdp_tx_xmit', 'xdp_redirect', 'xdp_pass', 'xdp_aborted', 'xdp_invalid']) expect(sum(n), n).toBeGreaterThan(0);
    expect(s.stats.ports.gen0.rx_ring_full + s.stats.ports.gen0.rx_no_buffer).toBeGreaterThan(0);
    expect(s.stats.ports.gen0.rx_packets).toBe(200_000);
    expect(s.stats.ports.gen0.rx_pp_recycle_ring_full).toBe(0);
  });

  it('a program that throws ABORTs only the packets it threw on', async () => {
    // 60 flows, 6 verdict classes: exactly 1/6 of the packets throw.
    const sw = await Switch.start(
      config([{ name: 'gen0', type: 'gen', count: 30_000, flows: 60, rate: 50_000 }, { name: 'out0', type: 'null' }], 1, [{ name: fixture('mixed.mjs'), continueOn: [] }], { ringSize: 16384, poolFrames: 32768 }),
    );
    await sw.waitFinished('gen0');
    await sw.settled();
    const s = await sw.stop();
    expectAccounted(sw, s);
    expect(s.stats.ports.gen0.rx_ring_full + s.stats.ports.gen0.rx_no_buffer).toBe(0);
    expect(s.stats.queues.rx0_packets).toBe(30_000);
    expect(s.stats.queues.rx0_xdp_aborted).toBe(5_000);
    expect(s.stats.queues.rx0_xdp_drop).toBe(5_000);
    expect(s.stats.queues.rx0_xdp_invalid).toBe(5_000);
  });

  it('a program swap under traffic loses no packet', async () => {
    const sw = await Switch.start(
      config([{ name: 'gen0', type: 'gen', count: 60_000, rate: 50_000 }, { name: 'out0', type: 'null' }], 2, [{ name: 'drop', continueOn: [] }], { ringSize: 16384, poolFrames: 32768 }),
    );
    let swaps = 0;
    let finished = false;
    const done = sw.waitFinished('gen0').then(() => (finished = true));
    while (!finished) {
      await sw.replacePrograms([0, 1], [{ name: swaps % 2 === 0 ? 'tx' : 'drop', continueOn: [] }]);
      swaps++;
      await new Promise((r) => setTimeout(r, 20));
    }
    await done;
    await sw.settled();
    const s = await sw.stop();
    expectAccounted(sw, s);
    expect(swaps).toBeGreaterThan(5);
    const q = s.stats.queues;
    expect(s.stats.ports.gen0.rx_ring_full + s.stats.ports.gen0.rx_no_buffer).toBe(0);
    expect(q.rx0_packets + q.rx1_packets).toBe(60_000);
    // Both programs ran: some packets dropped, some hairpinned.
    expect(q.rx0_xdp_drop + q.rx1_xdp_drop).toBeGreaterThan(0);
    expect(q.rx0_xdp_tx_xmit + q.rx1_xdp_tx_xmit).toBeGreaterThan(0);
  });

  it('a worker killed mid-run is restarted and the packets queued for it are processed', async () => {
    // A device thread keeps producing into the ring while the queue has no worker.
    const sw = await Switch.start(
      config([{ name: 'gen0', type: 'gen', count: 100_000, rate: 100_000, thread: 'device' }, { name: 'out0', type: 'null' }], 1, [{ name: 'drop', continueOn: [] }], { ringSize: 16384, poolFrames: 16384 }),
    );
    await new Promise((r) => setTimeout(r, 200));
    const before = sw.stats().queues.rx0_packets;
    await sw.killQueueWorker(0);
    // While the queue has no worker its ring fills; the new worker must take what is there.
    const queuedAtDeath = sw.ringFrames();
    await sw.queueReady(0);
    await sw.waitFinished('gen0');
    await sw.settled();
    const s = await sw.stop();
    expectAccounted(sw, s);
    expect(sw.restarts[0]).toBe(1);
    expect(s.stats.queues.rx0_restarts).toBe(1);
    expect(queuedAtDeath).toBeGreaterThan(0);
    expect(s.stats.queues.rx0_packets).toBeGreaterThanOrEqual(before + queuedAtDeath);
    // Only a full ring while no worker ran may drop, and those drops are counted at the device.
    const g = s.stats.ports.gen0;
    expect(s.stats.queues.rx0_xdp_drop + g.rx_ring_full + g.rx_no_buffer).toBe(100_000);
  });

  it('the watchdog restarts a worker whose program hangs, names it, and drops only that packet', async () => {
    const sw = await Switch.start(config([{ name: 'gen0', type: 'gen', count: 64, flows: 64, rate: 1000 }, { name: 'out0', type: 'null' }], 1, [{ name: fixture('hang.mjs'), continueOn: [] }]), {
      hangMs: 300,
    });
    const logs: string[] = [];
    sw.on('log', (e: { message: string }) => logs.push(e.message));
    await sw.waitFinished('gen0');
    const end = Date.now() + 5000;
    while (sw.restarts[0] === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    await sw.queueReady(0);
    await sw.settled();
    const s = await sw.stop();
    expectAccounted(sw, s);
    expect(logs.some((l) => /program 'hang' has run for \d+ ms/.test(l))).toBe(true);
    expect(s.stats.queues.rx0_xdp_aborted).toBe(1);
    expect(s.stats.queues.rx0_xdp_drop).toBe(63);
  });

  it('refuses a configuration it cannot run, with the reason', async () => {
    await expect(Switch.start(config([{ name: 'g', type: 'nosuch' }], 1, [{ name: 'drop' }]))).rejects.toThrow(/unknown port type 'nosuch'/);
    await expect(Switch.start(config([{ name: 'g', type: 'gen', size: 9 }], 1, [{ name: 'drop' }]))).rejects.toThrow(/'size' entries must be integers from 60/);
    await expect(Switch.start(config([{ name: 'g', type: 'gen' }], 1, [{ name: 'nosuchprog' }]))).rejects.toThrow(/no built-in program named 'nosuchprog'/);
    await expect(Switch.start(config([{ name: 'g', type: 'gen' }], 1, [{ name: 'drop', params: { bogus: 1 } }]))).rejects.toThrow(/unknown parameter 'bogus'/);
  });
});
