/**
 * The JS guest as a NAPI driver: with RX interrupt coalescing (EVENT_IDX used_event set
 * frames ahead) and no busy poll, a lone frame still reaches the guest (its sleep is
 * bounded by rx-usecs), on split and packed rings; a stream through a small ring arrives
 * whole and counted exactly.
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

function vmOn(s: Switch, port: string, opts: Omit<Parameters<typeof startVm>[0], 'attach' | 'detach'>): Promise<Vm> {
  return startVm({ ...opts, attach: (m) => s.portControl(port, m), detach: () => s.portControl(port, { op: 'detach' }) }).then((vm) => (vms.push(vm), vm));
}

function base(extra: Partial<SwitchConfig>): SwitchConfig {
  return { ...CONFIG_DEFAULTS, poolFrames: 8192, ringSize: 4096, ...extra } as SwitchConfig;
}

describe('NAPI guest', () => {
  run('coalesced RX interrupts and no busy poll: every ping and UDP echo is answered, split and packed rings', async () => {
    sw = await Switch.start(
      base({
        queues: 1,
        ports: [
          { name: 'vm0', type: 'virtio' },
          { name: 'vm1', type: 'virtio' },
        ],
        programs: [{ queues: [0], chain: [{ name: 'l2switch', params: {}, continueOn: [] }] }],
      }),
    );
    const napi = { rxCoalesceFrames: 64, rxCoalesceUsecs: 200, busyPollSpins: 0 };
    const b = await vmOn(sw, 'vm1', { program: 'examples/vm/responder', params: { ip: '10.9.0.2' }, driver: { ...napi, packed: true } });
    const a = await vmOn(sw, 'vm0', {
      program: 'examples/vm/responder',
      params: { ip: '10.9.0.1', ping: { ip: '10.9.0.2', count: 50, intervalMs: 2 }, udp: { ip: '10.9.0.2', count: 50, intervalMs: 2, bytes: 1000 } },
      driver: napi,
    });
    await until(() => a.counter('echo_replies_rx') === 50 && a.counter('udp_replies_rx') === 50, 'ping and UDP replies', 20_000);
    expect(b.counter('echo_answered')).toBe(50);
    expect(b.counter('udp_echoed')).toBe(50);
    for (const vm of vms.splice(0)) await vm.stop();
    const s = await sw.stop();
    sw = null;
    expectAccounted({ config: { queues: 1 } } as Switch, s);
    expect(s.stats.ports.vm0.rx_packets).toBe(a.counter('tx_packets'));
    expect(s.stats.ports.vm1.rx_packets).toBe(b.counter('tx_packets'));
  });

  // Halt polling (KVM's halt_poll_ns): a guest that polls its interrupt word before it sleeps
  // catches interrupts that come within the window without a futex sleep (the device's
  // notify then finds no sleeper); without it every gap between bursts is a sleep. Once the
  // traffic stops, the waits time out, the window halves each time, and polling stops.
  run('halt polling: bursts a millisecond apart are caught by the poll, not by a sleep; an idle guest stops polling', async () => {
    const guests: Record<string, Vm> = {};
    sw = await Switch.start(
      base({
        queues: 1,
        ports: [
          { name: 'gen0', type: 'gen', flows: 16, rate: 20_000, count: 20_000, size: 64 },
          { name: 'vm1', type: 'virtio' },
          { name: 'vm2', type: 'virtio' },
        ],
        programs: [{ queues: [0], chain: [{ name: 'redirect', params: { port: 'vm1' }, continueOn: [] }] }],
      }),
    );
    guests.polling = await vmOn(sw, 'vm1', { program: 'examples/vm/count-drop', driver: { haltPollUs: 5000 } });
    guests.idle = await vmOn(sw, 'vm2', { program: 'examples/vm/count-drop', driver: { haltPollUs: 0 } });
    await until(() => sw!.stats().ports.gen0.rx_packets === 20_000, 'the generator to finish', 20_000);
    await until(() => guests.polling.counter('rx_packets') === sw!.stats().ports.vm1.tx_packets, 'the guest to count what the port delivered', 5_000);
    const g = guests.polling;
    const caught = g.counter('halt_successful_poll');
    // A second of bursts (the paced generator's worker looks every millisecond): most gaps are polled through.
    expect(caught, `polls that saw the interrupt (of ${g.counter('halt_attempted_poll')} attempted, ${g.counter('halt_wakeup')} sleeps)`).toBeGreaterThan(200);
    expect(caught).toBeGreaterThan(g.counter('halt_wakeup'));
    // haltPollUs 0: the guest never polls.
    expect(guests.idle.counter('halt_attempted_poll')).toBe(0);
    expect(guests.idle.counter('halt_wakeup')).toBeGreaterThan(0);
    // Idle: 5 ms timeouts halve the window 23 times at most (115 ms); then no wait polls.
    await new Promise((r) => setTimeout(r, 400));
    const attempted = g.counter('halt_attempted_poll');
    await new Promise((r) => setTimeout(r, 300));
    expect(g.counter('halt_attempted_poll'), 'an idle guest stopped polling').toBe(attempted);
    expect(g.counter('halt_wakeup'), 'and sleeps').toBeGreaterThan(0);
    for (const v of vms.splice(0)) await v.stop();
    const st = await sw.stop();
    sw = null;
    expectAccounted({ config: { queues: 1 } } as Switch, st);
  });

  run('a paced stream through a 64-entry ring: every frame the port delivered is one the guest counted', async () => {
    sw = await Switch.start(
      base({
        queues: 1,
        ports: [
          { name: 'gen0', type: 'gen', flows: 16, rate: 20_000, count: 20_000, size: 64 },
          { name: 'vm1', type: 'virtio', queueSize: 64 },
        ],
        programs: [{ queues: [0], chain: [{ name: 'redirect', params: { port: 'vm1' }, continueOn: [] }] }],
      }),
    );
    const vm = await vmOn(sw, 'vm1', { program: 'examples/vm/count-drop', driver: { queueSize: 64, rxCoalesceFrames: 16 } });
    const ports = () => sw!.stats().ports;
    await until(() => ports().gen0.rx_packets === 20_000, 'the generator to finish', 20_000);
    await until(() => vm.counter('rx_packets') === ports().vm1.tx_packets, 'the guest to count what the port delivered', 5_000);
    expect(vm.counter('rx_packets')).toBeGreaterThan(0);
    for (const v of vms.splice(0)) await v.stop();
    const s = await sw.stop();
    sw = null;
    expectAccounted({ config: { queues: 1 } } as Switch, s);
  });
});
