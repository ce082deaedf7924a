/**
 * VM delivery through a running switch: VMs (guest driver + guest program, each its own
 * Worker) attached to virtio ports (each its own device thread), queue workers between.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { inCI } from '../../../support/prereq.js';
import { existsSync } from 'node:fs';
import { Switch } from '../../../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../../../switch/config-types.js';
import { workerUrl } from '../../../../lib/worker-url.js';
import { SteeringControl } from '../../../../flows/control.js';
import { startVm, type Vm } from '../../../../guest/runner.js';
import { expectAccounted } from '../../support.js';
import { until } from './harness.js';

const built = existsSync(new URL('../../../../dist/guest/vm-worker.js', import.meta.url)) && existsSync(new URL('../../../../dist/switch/device.js', import.meta.url));
const run = it.runIf(built || inCI);
const fixture = new URL('./fixtures/by-ingress.mjs', import.meta.url).pathname;

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

describe('VMs through the switch', () => {
  run('two VMs ping each other and exchange UDP through l2switch', async () => {
    sw = await Switch.start(
      base({
        queues: 2,
        ports: [
          { name: 'vm0', type: 'virtio' },
          { name: 'vm1', type: 'virtio', queuePairs: 2 },
        ],
        programs: [{ queues: [0, 1], chain: [{ name: 'l2switch', params: {}, continueOn: [] }] }],
      }),
    );
    // One guest on packed rings, one on split rings.
    const b = await vmOn(sw, 'vm1', { program: 'examples/vm/responder', params: { ip: '10.9.0.2' }, driver: { pairs: 2, packed: true } });
    const a = await vmOn(sw, 'vm0', {
      program: 'examples/vm/responder',
      params: { ip: '10.9.0.1', ping: { ip: '10.9.0.2', count: 50, intervalMs: 1 }, udp: { ip: '10.9.0.2', count: 50, intervalMs: 1, bytes: 1000 } },
    });
    expect(b.pairs).toBe(2);
    await until(() => a.counter('echo_replies_rx') === 50 && a.counter('udp_replies_rx') === 50, 'ping and UDP replies', 20_000);
    expect(b.counter('echo_answered')).toBe(50);
    expect(b.counter('udp_echoed')).toBe(50);
    expect(b.counter('arp_answered')).toBeGreaterThanOrEqual(1);
    expect(a.counter('arp_replies_rx')).toBeGreaterThanOrEqual(1);
    for (const vm of vms.splice(0)) await vm.stop();
    const s = await sw.stop();
    sw = null;
    expectAccounted({ config: { queues: 2 } } as Switch, s);
    expect(s.stats.ports.vm0.tx_drop_malformed + s.stats.ports.vm1.tx_drop_malformed).toBe(0);
    // What the guests sent is what the ports read.
    expect(s.stats.ports.vm0.rx_packets).toBe(a.counter('tx_packets'));
    expect(s.stats.ports.vm1.rx_packets).toBe(b.counter('tx_packets'));
  });

  run('generated traffic steered by rules into four queues reaches the multi-queue VM in the configured guest queue', async () => {
    const QUEUES = 4;
    // 8 s of traffic at 8000/s: the VM comes up during it even on a loaded machine, so every
    // queue redirects some to it (how much depends on when it came up: no fraction is asserted).
    const COUNT = 64_000;
    const ctl = new SteeringControl('gen0', QUEUES);
    ctl.run('-N flow-type udp4 src-port 1024 m 0x7 action 3 loc 1'); // sports 1024…1031
    ctl.run('-N flow-type udp4 src-ip 10.0.0.2 action 2 loc 2'); // flows 256…399
    ctl.run('-X equal 2'); // the rest: RSS over 0 and 1
    sw = await Switch.start(
      base({
        queues: QUEUES,
        ports: [
          { name: 'gen0', type: 'gen', flows: 400, count: COUNT, rate: 8000 },
          // Deep guest rings: a starved guest thread on a busy machine must not turn into drops.
          { name: 'vm0', type: 'virtio', queuePairs: 4, queueSize: 2048 },
        ],
        // Dropped until the VM is up, then redirected to it: every redirected frame finds a guest.
        programs: [{ queues: [0, 1, 2, 3], chain: [{ name: 'drop', params: {}, continueOn: [] }] }],
      }),
      { steering: new Map([['gen0', { module: workerUrl('flows/steerer').href, shared: ctl.shared }]]) },
    );
    const vm = await vmOn(sw, 'vm0', { program: 'examples/vm/count-drop', memoryBytes: 96 << 20, driver: { pairs: 4, queueSize: 2048 } });
    expect(vm.pairs).toBe(4);
    await sw.replacePrograms([0, 1, 2, 3], [{ name: 'redirect', params: { port: 'vm0' } }]);
    await sw.waitFinished('gen0');
    await sw.settled();
    await until(() => vm.counter('rx_packets') === sw!.stats().ports.vm0.tx_packets, 'the guest to count what the port delivered');
    const st = sw.stats();
    const port = st.ports.vm0;
    const redirected = [0, 1, 2, 3].map((q) => st.queues[`rx${q}_xdp_redirect`]);
    const packets = [0, 1, 2, 3].map((q) => st.queues[`rx${q}_packets`]);
    expect(packets.reduce((x, y) => x + y)).toBe(COUNT);
    expect(port.tx_dropped).toBe(0);
    expect(port.tx_packets).toBe(redirected.reduce((x, y) => x + y));
    // Every queue carried traffic, and the guest saw each queue's frames on pair q mod 4 = q.
    expect(redirected.every((n) => n > 0)).toBe(true);
    expect([0, 1, 2, 3].map((p) => vm.counter(`rx_q${p}`))).toEqual(redirected);
    // Queue 3 holds only the rule's flows: sports 1024…1031 of 400 flows → 8/400 of the traffic.
    expect(packets[3]).toBe((COUNT / 400) * 8);
    expect(packets[2]).toBe((COUNT / 400) * 144);
  });

  run('a guest that stops posting RX buffers: counted drops, other ports keep running, then delivery resumes; a reset mid-traffic and a restart come back', async () => {
    sw = await Switch.start(
      base({
        queues: 2,
        ports: [
          { name: 'gen0', type: 'gen', flows: 16, rate: 20_000 },
          { name: 'gen1', type: 'gen', flows: 16, rate: 20_000 },
          { name: 'vm0', type: 'virtio' },
          { name: 'out0', type: 'null' },
        ],
        programs: [{ queues: [0, 1], chain: [{ name: fixture, params: { routes: JSON.stringify({ 1: 3, 2: 4 }) }, continueOn: [] }] }],
      }),
    );
    const vm = await vmOn(sw, 'vm0', { program: 'examples/vm/count-drop', driver: { queueSize: 256 } });
    const ports = () => sw!.stats().ports;
    await until(() => vm.counter('rx_packets') > 1000, 'traffic into the VM');
    await vm.pauseRx();
    const noDesc0 = ports().vm0.rx_drop_no_desc;
    await until(() => ports().vm0.rx_drop_no_desc > noDesc0 + 1000, 'counted drops while the guest posts nothing');
    const out0 = ports().out0.tx_packets;
    await until(() => ports().out0.tx_packets > out0 + 1000, 'the other port to keep running');
    const seen = vm.counter('rx_packets');
    expect(seen - 256).toBeLessThanOrEqual(ports().vm0.tx_packets);
    await vm.resumeRx();
    await until(() => vm.counter('rx_packets') > seen + 1000, 'delivery to resume');
    // A reset mid-traffic: the guest brings the device up again and receives again.
    await vm.reset();
    const after = vm.counter('rx_packets');
    await until(() => vm.counter('rx_packets') > after + 1000, 'delivery after the reset');
    expect(ports().vm0.resets).toBeGreaterThanOrEqual(1);
    // A restart: the VM stops (detaching), a new one attaches to the same port and receives.
    await vms.splice(0)[0].stop();
    expect((await sw.portStatus('vm0')).attached).toBe(false);
    const vm2 = await vmOn(sw, 'vm0', { program: 'examples/vm/count-drop' });
    await until(() => vm2.counter('rx_packets') > 1000, 'the restarted VM to receive');
    const st = await sw.portStatus('vm0');
    expect(st.wakesDeviceThread).toBe(true); // guest kicks ring the device thread's own doorbell
    for (const v of vms.splice(0)) await v.stop();
    const s = await sw.stop();
    sw = null;
    expectAccounted({ config: { queues: 2 } } as Switch, s);
    expect(s.stats.ports.vm0.rx_drop_malformed + s.stats.ports.vm0.tx_drop_malformed).toBe(0);
  });

  run('a hostile guest on one port: NEEDS_RESET and a counted drop there, the other VM keeps receiving, and the hostile one recovers after its reset', async () => {
    sw = await Switch.start(
      base({
        queues: 2,
        ports: [
          { name: 'gen0', type: 'gen', flows: 16, rate: 20_000, dstMac: 'ff:ff:ff:ff:ff:ff' },
          { name: 'bad', type: 'virtio' },
          { name: 'good', type: 'virtio' },
        ],
        programs: [{ queues: [0, 1], chain: [{ name: 'l2switch', params: {}, continueOn: [] }] }],
      }),
    );
    const good = await vmOn(sw, 'good', { program: 'examples/vm/count-drop' });
    const bad = await vmOn(sw, 'bad', { program: new URL('./fixtures/hostile-once.mjs', import.meta.url), params: { afterMs: 150 } });
    const ports = () => sw!.stats().ports;
    await until(() => bad.counter('corrupted') === 1, 'the guest to turn hostile');
    await until(() => ports().bad.needs_reset === 1 && ports().bad.resets >= 1, 'NEEDS_RESET, then the guest’s reset');
    expect(ports().bad.tx_drop_malformed).toBe(1);
    const goodBefore = good.counter('rx_packets');
    const badBefore = bad.counter('rx_packets');
    await until(() => good.counter('rx_packets') > goodBefore + 500 && bad.counter('rx_packets') > badBefore + 500, 'both VMs to receive after the incident');
    expect(bad.counter('resets')).toBe(1);
    expect(ports().good.needs_reset).toBe(0);
    for (const v of vms.splice(0)) await v.stop();
    const s = await sw.stop();
    sw = null;
    // Frames home and packets in one exit counter (flooding sends one packet out of two
    // ports, so the shared egress check of expectAccounted does not apply here).
    expect(s.accounting.doubled).toBe(0);
    expect(s.accounting.free).toBe(s.accounting.total);
    expect(s.unaccounted).toBe(0);
  });
});
