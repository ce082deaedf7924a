import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ArrayMap } from '../../programs/maps/index.js';
import { openMap } from '../../programs/maps/index.js';
import { DDOS_REASONS } from '../../programs/builtin/ddos.js';
import { ROUTER_REASONS } from '../../programs/builtin/router.js';
import { L2_REASONS } from '../../programs/builtin/l2switch.js';
import { Switch } from '../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../switch/config-types.js';

// The programs in the live switch: loaded by the supervisor (setup() in the main thread),
// run by queue worker threads over the shared maps, traffic from the gen port (paced at
// 100 kpps; what a device still drops on a busy machine is counted there and allowed for).
beforeAll(() => {
  // Workers run dist/, which `npm test` builds before the suite.
});

const N = 512 * 40; // gen cycles its 512 flows: sources 10.0.0.1 (flows 0–255) and 10.0.0.2 (256–511)

async function runSwitch(program: { name: string; params: Record<string, unknown> }, queues = 2) {
  const config: SwitchConfig = {
    ...CONFIG_DEFAULTS,
    queues,
    ports: [{ name: 'gen0', type: 'gen', flows: 512, size: 64, count: N, rate: 100_000 }, { name: 'out0', type: 'null' }],
    programs: [{ queues: Array.from({ length: queues }, (_, i) => i), chain: [{ ...program, continueOn: [] }] }],
  };
  const sw = await Switch.start(config);
  try {
    const until = Date.now() + 30_000;
    const total = () => Object.entries(sw.stats().queues).reduce((s, [k, v]) => (/^rx\d+_packets$/.test(k) ? s + v : s), 0);
    // Wait until the gen port has sent its N and the queues have taken what arrived.
    const rx = () => sw.stats().ports.gen0?.rx_packets ?? 0;
    let last = -1;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      const t = total();
      if (rx() >= N && t === last) break;
      last = t;
    }
    await new Promise((r) => setTimeout(r, 100)); // the last breath publishes its counters
    const lp = sw.loadedPrograms().find((p) => p.name === program.name)!;
    const stats = openMap(lp.maps.stats, 0) as ArrayMap;
    const q = sw.stats().queues;
    const sum = (name: string) => Object.entries(q).reduce((s, [k, v]) => (k.endsWith(`_${name}`) && /^rx\d+_/.test(k) ? s + v : s), 0);
    return { q, sum, stat: (i: number) => stats.sumU64(i, 0), total: total() };
  } finally {
    await sw.stop();
  }
}

describe('programs in the live switch (gen → queue workers)', () => {
  it('ddos drops exactly the blocklisted source across queues; its counters match the switch counters', async () => {
    const r = await runSwitch({ name: 'ddos', params: { blocklist: ['10.0.0.2/32'] } });
    // A device may drop a few when its rings are full (counted there): what reached the
    // queues is split by source, and the program's counters are the switch's.
    const lost = N - r.total;
    expect(lost).toBeLessThan(N / 2);
    const drop = r.stat(DDOS_REASONS.indexOf('drop_blocklist'));
    const pass = r.stat(DDOS_REASONS.indexOf('pass'));
    expect([drop, pass]).toEqual([r.sum('xdp_drop'), r.sum('xdp_pass')]);
    expect(drop + pass).toBe(r.total);
    expect(Math.abs(drop - N / 2)).toBeLessThanOrEqual(lost);
  });

  it('router forwards every packet out of its port with the shared route table', async () => {
    const r = await runSwitch({ name: 'router', params: { routes: ['10.1.0.0/16 via 02:00:00:00:00:09 dev out0'] } });
    expect(r.total).toBeGreaterThan(N / 2); // a device drops (and counts) what its full rings cannot take
    // Redirected, or refused by a full egress ring (counted xdp_tx_full / xdp_redirect_err).
    expect(r.sum('xdp_redirect') + r.sum('xdp_tx_full') + r.sum('xdp_redirect_err')).toBe(r.total);
    expect(r.sum('xdp_redirect')).toBeGreaterThan(0);
    expect(r.stat(ROUTER_REASONS.indexOf('forward'))).toBe(r.total);
  });

  it('l2switch learns the sender and floods the unknown destination to the other port only', async () => {
    const r = await runSwitch({ name: 'l2switch', params: {} });
    expect(r.total).toBeGreaterThan(N / 2); // a device drops (and counts) what its full rings cannot take
    expect(r.sum('xdp_redirect') + r.sum('xdp_tx_full') + r.sum('xdp_redirect_err')).toBe(r.total);
    expect(r.sum('xdp_redirect')).toBeGreaterThan(0);
    expect(r.stat(L2_REASONS.indexOf('flood'))).toBe(r.total);
    expect(r.stat(L2_REASONS.indexOf('learned'))).toBeGreaterThanOrEqual(1); // gen's one source MAC (a race may learn it on two queues)
    expect(r.stat(L2_REASONS.indexOf('learned'))).toBeLessThanOrEqual(2);
  });
});
