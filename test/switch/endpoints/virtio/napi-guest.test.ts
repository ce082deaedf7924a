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
