/**
 * Run to completion into a JS guest: queue worker q writes the guest's RX ring of pair q
 * itself when the guest runs at least as many pairs as the switch has queues, else the
 * port's device thread does. The guest driver's own counters are the check: every frame
 * the port says it delivered, the guest received; a worker killed mid-stream is replaced
 * and the ring continues (no duplicate or lost buffer: the driver throws on a used id it
 * does not own, which would break the device); a guest reset takes the ring back and DRIVER_OK
 * hands it over again. Accounting exact.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { inCI } from '../../../support/prereq.js';
import { Switch } from '../../../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../../../switch/config-types.js';
import { startVm, type Vm } from '../../../../guest/runner.js';
import { expectAccounted } from '../../support.js';
import { until } from './harness.js';

const built = existsSync(new URL('../../../../dist/guest/vm-worker.js', import.meta.url)) && existsSync(new URL('../../../../dist/switch/device.js', import.meta.url));
const run = it.runIf(built || inCI);

let sw: Switch | null = null;
const vms: Vm[] = [];
afterEach(async () => {
  for (const vm of vms.splice(0)) await vm.stop().catch(() => {});
  if (sw) await sw.stop().catch(() => {});
  sw = null;
});

/** count: frames the generator makes, then stops (0: forever). */
function config(queues: number, pairs: number, count = 0): SwitchConfig {
  return {
    ...CONFIG_DEFAULTS,
    queues,
    ports: [
      { name: 'gen0', type: 'gen', flows: 64, size: 64, rate: 50_000, count },
      { name: 'vm1', type: 'virtio', queuePairs: pairs },
    ],
    programs: [{ queues: [...Array(queues).keys()], chain: [{ name: 'redirect', params: { port: 'vm1' }, continueOn: [] }] }],
  };
}

async function vmOn(s: Switch, pairs: number): Promise<Vm> {
  const vm = await startVm({
    program: 'examples/vm/count-drop',
    driver: { queueSize: 256, pairs },
    attach: (m) => s.portControl('vm1', m),
    detach: () => s.portControl('vm1', { op: 'detach' }),
  });
  vms.push(vm);
  return vm;
}

async function onWorkers(s: Switch): Promise<number[]> {
  return (await s.portStatus('vm1')).rxRingsOnWorkers as number[];
}

describe('JS guest RX rings written by the queue workers', () => {
  run('two queues, two pairs: each worker writes its pair; a killed worker is replaced mid-stream and the ring goes on', async () => {
    const s = await Switch.start(config(2, 2, 400_000));
    sw = s;
    const vm = await vmOn(s, 2);
    let listed: number[] = [];
    await until(() => vm.counter('rx_packets') > 5000, 'frames in the guest', 20_000);
    listed = await onWorkers(s);
    expect(listed).toEqual([0, 1]);
    await s.killQueueWorker(1);
    await s.queueReady(1);
    const after = vm.counter('rx_packets');
    await until(() => vm.counter('rx_packets') > after + 5000, 'frames after the restart', 20_000);
    const st = await s.portStatus('vm1');
    expect(st.rxRingsOnWorkers).toEqual([0, 1]);
    const c = s.stats().ports.vm1;
    expect(c.needs_reset + c.rx_drop_malformed + c.device_errors, JSON.stringify(c)).toBe(0);
    expect(s.restarts[1]).toBe(1);
    // The generator has made all its frames and the guest has taken what it was given.
    await s.waitFinished('gen0');
    // The queues have taken what the generator made (a killed worker's last breath is redone).
    let last = -1;
    for (let now = 0; now !== last; await new Promise((r) => setTimeout(r, 300))) {
      last = now;
      now = s.stats().queues.rx0_packets + s.stats().queues.rx1_packets;
    }
    // Less only by what the generator's side counted in the killed worker's last breath (≤ 64).
    expect(last).toBeGreaterThanOrEqual(400_000 - 64);
    await until(() => vm.counter('rx_packets') === s.stats().ports.vm1.tx_packets || s.stats().ports.vm1.tx_packets - vm.counter('rx_packets') <= 64, 'the guest to take every frame', 10_000);
    await new Promise((r) => setTimeout(r, 200));
    await vm.stop();
    vms.length = 0;
    sw = null;
    const summary = await s.stop();
    expectAccounted(s, summary);
    const p = summary.stats.ports.vm1;
    // The guest's driver counted what the port says it delivered, but for what the killed
    // worker had counted and not yet published into the ring (at most one breath: 64 frames).
    expect(vm.counter('rx_packets')).toBeLessThanOrEqual(p.tx_packets);
    expect(p.tx_packets - vm.counter('rx_packets')).toBeLessThanOrEqual(64);
  }, 60_000);

  run('two queues, one pair: the device thread writes the ring, and the guest counts every frame the port delivered', async () => {
    const s = await Switch.start(config(2, 1, 200_000));
    sw = s;
    const vm = await vmOn(s, 1);
    await until(() => vm.counter('rx_packets') > 5000, 'frames in the guest', 20_000);
    expect(await onWorkers(s)).toEqual([]);
    await until(() => s.stats().queues.rx0_packets + s.stats().queues.rx1_packets === 200_000, 'the generator to finish', 30_000);
    // Every frame the queues sent the port has left it (tx_packets or tx_dropped), and the
    // guest took every one delivered. The guest's count alone can meet tx_packets while the
    // device thread still has frames on its tx rings (a CI run stopped there, 19 short).
    await until(() => {
      const st = s.stats();
      const p = st.ports.vm1;
      return p.tx_packets + p.tx_dropped === st.queues.rx0_tx_frames + st.queues.rx1_tx_frames && vm.counter('rx_packets') === p.tx_packets;
    }, 'the guest to take every frame', 10_000);
    await vm.stop();
    vms.length = 0;
    sw = null;
    const summary = await s.stop();
    expectAccounted(s, summary);
    expect(vm.counter('rx_packets')).toBe(summary.stats.ports.vm1.tx_packets);
  }, 60_000);

  run('a guest detached and attached again: the rings come back to the device, then go to the workers again', async () => {
    const s = await Switch.start(config(1, 1, 200_000));
    sw = s;
    const vm = await vmOn(s, 1);
    await until(() => vm.counter('rx_packets') > 2000, 'frames in the guest', 20_000);
    expect(await onWorkers(s)).toEqual([0]);
    await vm.stop();
    vms.length = 0;
    expect(await onWorkers(s)).toEqual([]);
    const vm2 = await vmOn(s, 1);
    await until(() => vm2.counter('rx_packets') > 2000, 'frames in the second guest', 20_000);
    expect(await onWorkers(s)).toEqual([0]);
    await until(() => s.stats().queues.rx0_packets === 200_000, 'the generator to finish', 30_000);
    await until(() => vm2.counter('rx_packets') + vm.counter('rx_packets') >= s.stats().ports.vm1.tx_packets - 256, 'the guest to take every frame', 10_000);
    await vm2.stop();
    vms.length = 0;
    sw = null;
    const summary = await s.stop();
    expectAccounted(s, summary);
    // The second guest took all it was given; the first may have left up to a ring's worth
    // (256) unread when it stopped while frames flowed.
    const got = vm.counter('rx_packets') + vm2.counter('rx_packets');
    expect(got).toBeLessThanOrEqual(summary.stats.ports.vm1.tx_packets);
    expect(summary.stats.ports.vm1.tx_packets - got).toBeLessThanOrEqual(256);
  }, 60_000);
});

/** A guest that transmits `count` frames over its `pairs` TX rings in turn, into a switch of `queues` queues. */
function blastConfig(queues: number, pairs: number): SwitchConfig {
  return {
    ...CONFIG_DEFAULTS,
    queues,
    ports: [
      { name: 'vm0', type: 'virtio', queuePairs: pairs },
      { name: 'sink', type: 'null' },
    ],
    programs: [{ queues: [...Array(queues).keys()], chain: [{ name: 'redirect', params: { port: 'sink' }, continueOn: [] }] }],
  };
}

async function blaster(s: Switch, pairs: number, count: number): Promise<Vm> {
  const vm = await startVm({
    program: 'examples/vm/blast',
    params: { count, spread: pairs },
    driver: { queueSize: 256, pairs },
    attach: (m) => s.portControl('vm0', m),
    detach: () => s.portControl('vm0', { op: 'detach' }),
  });
  vms.push(vm);
  return vm;
}

describe('JS guest TX rings polled by the queue workers', () => {
  run('two queues, two pairs: worker q takes what the guest sends on pair q (no RPS hop); a killed worker is replaced and every frame is counted once', async () => {
    const count = 300_000;
    const s = await Switch.start(blastConfig(2, 2));
    sw = s;
    const vm = await blaster(s, 2, count);
    await until(() => s.stats().ports.vm0.rx_packets > 20_000, 'frames from the guest', 20_000);
    const st = await s.portStatus('vm0');
    expect(st.txRingsOnWorkers).toEqual([0, 1]);
    await s.killQueueWorker(0);
    await s.queueReady(0);
    await until(() => vm.counter('blasted') === count, 'the guest to send everything', 30_000);
    const c = () => s.stats().ports.vm0;
    await until(() => c().rx_packets + c().tx_drop_short + c().tx_drop_oversize + c().tx_drop_malformed === count, 'the switch to take every frame', 20_000);
    expect(await s.portStatus('vm0').then((x) => x.txRingsOnWorkers)).toEqual([0, 1]);
    await vm.stop();
    vms.length = 0;
    sw = null;
    const summary = await s.stop();
    expectAccounted(s, summary);
    const p = summary.stats.ports.vm0;
    // Every frame the guest sent, read once: no RPS hop (the device thread steered none) and
    // each queue took its pair's half.
    expect(p.rx_packets).toBe(count);
    expect(p.rx_rps).toBe(0);
    expect(p.needs_reset + p.tx_drop_malformed + p.device_errors).toBe(0);
    expect(summary.stats.queues.rx0_packets).toBeGreaterThan(0);
    expect(summary.stats.queues.rx1_packets).toBeGreaterThan(0);
    expect(s.restarts[0]).toBe(1);
  }, 60_000);

  run('two queues, one pair: the device thread polls the TX ring and steers (RPS), as before', async () => {
    const count = 50_000;
    const s = await Switch.start(blastConfig(2, 1));
    sw = s;
    const vm = await blaster(s, 1, count);
    await until(() => s.stats().ports.vm0.rx_packets === count, 'the switch to take every frame', 30_000);
    expect((await s.portStatus('vm0')).txRingsOnWorkers).toEqual([]);
    await vm.stop();
    vms.length = 0;
    sw = null;
    const summary = await s.stop();
    expectAccounted(s, summary);
    const p = summary.stats.ports.vm0;
    // Each frame the device thread read went through its steering to a queue (RPS).
    expect(p.rx_rps).toBe(p.rx_packets - p.rx_no_buffer - p.rx_ring_full - p.rx_dropped);
    expect(p.rx_rps).toBeGreaterThan(count / 2);
  }, 60_000);
});
