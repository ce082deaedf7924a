/**
 * Socket endpoints and the local stack in a running switch: programs redirect into an
 * xskmap; sockets bound per queue; PASS goes to the local stack, which a VM pings.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { inCI } from '../../support/prereq.js';
import { existsSync } from 'node:fs';
import { Switch } from '../../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../../switch/config-types.js';
import { workerUrl } from '../../../lib/worker-url.js';
import { createXskShared, xskStats } from '../../../switch/endpoints/xsk-shared.js';
import { startXskApp, type XskApp } from '../../../switch/endpoints/xsk-app.js';
import { LocalStackConfig } from '../../../switch/endpoints/local-stack.js';
import { bindXsk } from '../../../switch/endpoints/xsk-bind.js';
import { startVm, type Vm } from '../../../guest/runner.js';

const built = existsSync(new URL('../../../dist/switch/endpoints/xsk.js', import.meta.url)) && existsSync(new URL('../../../dist/switch/device.js', import.meta.url));
const run = it.runIf(built || inCI);
const fixture = new URL('./fixtures/xsk-redirect.mjs', import.meta.url).pathname;

let sw: Switch | null = null;
const apps: XskApp[] = [];
const vms: Vm[] = [];
afterEach(async () => {
  for (const v of vms.splice(0)) await v.stop().catch(() => {});
  for (const a of apps.splice(0)) await a.stop();
  if (sw) await sw.stop().catch(() => {});
  sw = null;
});

async function until(cond: () => boolean, what: string, ms = 15_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const base = (extra: Partial<SwitchConfig>) => ({ ...CONFIG_DEFAULTS, poolFrames: 8192, ringSize: 4096, ...extra }) as SwitchConfig;

describe('socket endpoints in the switch', () => {
  run('xskmap redirect: per-queue sockets receive, echo out of their port, and a slot bound to another queue drops', async () => {
    const COUNT = 60_000;
    // The applications start first (threads that import their code: slow on a loaded
    // machine), so the sockets are bound within moments of the generator starting; the
    // packets that come before are counted xdp_redirect_err, and 3 s of traffic follow.
    const echoSock = createXskShared({ frames: 2048, ringSize: 1024 });
    const dropSock = createXskShared({ frames: 2048, ringSize: 1024 });
    const echo = await startXskApp('examples/xsk/udp-echo', echoSock, { port: 7 });
    const drop = await startXskApp('examples/xsk/rx-drop', dropSock);
    apps.push(echo, drop);
    sw = await Switch.start(
      base({
        queues: 3,
        ports: [
          { name: 'gen0', type: 'gen', flows: 300, count: COUNT, rate: 20_000, dstPort: 7 },
          { name: 'out0', type: 'null' },
        ],
        // slot 0 → endpoint 0 (queue 0), slot 1 → endpoint 1 (queue 1), slot 2 → endpoint 0: bound on queue 0 only.
        programs: [{ queues: [0, 1, 2], chain: [{ name: fixture, params: { ids: [0, 1, 0] }, continueOn: [] }] }],
      }),
    );
    await expect(bindXsk(sw, echoSock, 'nope', 0, 0)).rejects.toThrow(/no port named 'nope'/);
    await expect(bindXsk(sw, echoSock, 'out0', 3, 0)).rejects.toThrow(/queue 3 does not exist/);
    // Each app rings its queue worker's own doorbell (need_wakeup), so the workers sleep until rung.
    echo.attachSwitchBell(await bindXsk(sw, echoSock, 'out0', 0, 0));
    drop.attachSwitchBell(await bindXsk(sw, dropSock, 'out0', 1, 1));
    await sw.waitFinished('gen0');
    await sw.settled();
    // The echo app counts what it read and could not queue for transmit (its TX ring full:
    // a busy machine can leave the worker behind the app) as tx_full, as a dropped echo.
    const handled = () => {
      const c = echo.counters();
      return c.echoed + c.ignored + c.tx_full;
    };
    await until(() => drop.counters().packets === xskStats(dropSock).rx_packets && handled() === xskStats(echoSock).rx_packets, 'apps to drain');
    await until(() => sw!.stats().ports.out0.tx_packets === echo.counters().echoed, 'echoes out of out0');
    const s = await sw.stop();
    sw = null;
    // Frames all home, every packet in one exit counter. (The shared egress check of
    // expectAccounted does not apply: socket deliveries count as xdp_redirect without
    // leaving through a port, and socket transmits leave through one without a verdict.)
    expect(s.accounting.doubled).toBe(0);
    expect(s.accounting.free).toBe(s.accounting.total);
    expect(s.unaccounted).toBe(0);
    const q = s.stats.queues;
    expect(q.rx0_packets + q.rx1_packets + q.rx2_packets).toBe(COUNT);
    // Queue 2's slot names an endpoint bound to queue 0: every packet dropped, as Linux does.
    expect(q.rx2_xdp_redirect).toBe(0);
    expect(q.rx2_xdp_redirect_err).toBe(q.rx2_packets);
    expect(q.rx2_packets).toBeGreaterThan(0);
    // Queues 0 and 1: delivered to their socket or counted by the socket.
    const e = xskStats(echoSock);
    const d = xskStats(dropSock);
    expect(q.rx0_xdp_redirect).toBe(e.rx_packets);
    expect(q.rx1_xdp_redirect).toBe(d.rx_packets);
    expect(d.rx_packets).toBeGreaterThan(1000);
    expect(q.rx0_xdp_redirect_err).toBeGreaterThanOrEqual(e.rx_ring_full + e.rx_dropped);
    expect(drop.counters().packets).toBe(d.rx_packets);
    expect(handled()).toBe(e.rx_packets);
    expect(echo.counters().echoed).toBeGreaterThan(1000);
    expect(e.tx_packets).toBe(echo.counters().echoed);
    expect(s.stats.ports.out0.tx_packets).toBe(e.tx_packets);
    expect(e.tx_invalid_descs + d.tx_invalid_descs).toBe(0);
  });

  run('PASS reaches the local stack: a VM resolves, pings and talks UDP to the switch’s own address', async () => {
    sw = await Switch.start(
      base({
        queues: 2,
        ports: [{ name: 'vm0', type: 'virtio' }],
        programs: [{ queues: [0, 1], chain: [{ name: 'pass', params: {}, continueOn: [] }] }],
      }),
    );
    const stack = new LocalStackConfig(2, [{ ip: '10.7.0.254', mac: '02:00:00:00:07:fe' }]);
    for (let q = 0; q < 2; q++) {
      const sock = createXskShared({ frames: 512, ringSize: 256 });
      stack.bindUdp(7, q, sock);
      apps.push(await startXskApp('examples/xsk/udp-echo', sock, { port: 7 }));
    }
    await sw.setPassEndpoints(workerUrl('switch/endpoints/local-stack').href, stack.perQueue);
    const s0 = sw;
    const vm = await startVm({
      program: 'examples/vm/responder',
      params: { ip: '10.7.0.1', ping: { ip: '10.7.0.254', count: 30, intervalMs: 1 }, udp: { ip: '10.7.0.254', count: 30, intervalMs: 1 } },
      attach: (m) => s0.portControl('vm0', m),
      detach: () => s0.portControl('vm0', { op: 'detach' }),
    });
    vms.push(vm);
    await until(() => vm.counter('echo_replies_rx') === 30 && vm.counter('udp_replies_rx') === 30, 'replies from the local stack');
    const st = stack.stats();
    expect(st.echo_replied).toBe(30);
    expect(st.udp_delivered).toBe(30);
    expect(st.arp_replied).toBeGreaterThanOrEqual(1);
    expect(vm.counter('arp_replies_rx')).toBeGreaterThanOrEqual(1);
  });
});
