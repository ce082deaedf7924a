/**
 * End to end: a gen port → flow steering (rules + RSS) → queue workers; per-queue packet
 * counts computed independently in the test; then a rule added and one deleted while
 * traffic flows, with every packet accounted for.
 */
import { describe, expect, it } from 'vitest';
import { inCI } from '../support/prereq.js';
import { existsSync } from 'node:fs';
import { Switch } from '../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../switch/config-types.js';
import { workerUrl } from '../../lib/worker-url.js';
import { SteeringControl } from '../../flows/control.js';
import { DEFAULT_RSS_KEY, toeplitzReference } from '../../flows/toeplitz.js';

const built = existsSync(new URL('../../dist/flows/steerer.js', import.meta.url)) && existsSync(new URL('../../dist/switch/device.js', import.meta.url));
const QUEUES = 4;
const FLOWS = 600;
const COUNT = 12_000; // source ports 1024…1623, source addresses 10.0.0.1 … 10.0.0.3

/** gen's flow f (switch/ports/gen.ts): 10.0.0.(1 + f>>8):(1024+f) → 10.1.0.1:9, UDP. */
function genFlow(f: number) {
  return { src: [10, 0, 0, 1 + (f >> 8)], sport: 1024 + f, dst: [10, 1, 0, 1], dport: 9 };
}

function config(count: number, rate: number): SwitchConfig {
  return {
    ...CONFIG_DEFAULTS,
    queues: QUEUES,
    // Pool and rings hold every packet of a run, so a stalled thread (a busy machine) cannot
    // turn into rx_no_buffer / rx_ring_full losses that would blur the per-queue counts.
    poolFrames: 16384,
    ringSize: 16384,
    ports: [{ name: 'gen0', type: 'gen', flows: FLOWS, size: 64, count, rate }, { name: 'out0', type: 'null' }],
    programs: [{ queues: [0, 1, 2, 3], chain: [{ name: 'drop', params: {}, continueOn: [] }] }],
  };
}

async function waitFor(cond: () => boolean, ms: number) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('steering through a running switch (needs npm run build)', () => {
  it.runIf(built || inCI)('rules and RSS put every generated packet on its expected queue', async () => {
    const ctl = new SteeringControl('gen0', QUEUES);
    ctl.run('-N flow-type udp4 src-port 1100 m 0x3 action 3 loc 1'); // sports 1100…1103
    ctl.run('-N flow-type udp4 src-ip 10.0.0.3 action 2 loc 2'); // flows 512…599
    ctl.run('-N flow-type udp4 src-port 1200 action -1 loc 3'); // dropped by steering
    ctl.run('-X equal 2'); // the rest: RSS over queues 0 and 1
    const count = COUNT;
    const want = [0, 0, 0, 0];
    let dropped = 0;
    for (let i = 0; i < count; i++) {
      const f = genFlow(i % FLOWS);
      if ((f.sport & ~3) === 1100) want[3]++;
      else if (f.src[3] === 3) want[2]++;
      else if (f.sport === 1200) dropped++;
      else {
        const h = toeplitzReference(DEFAULT_RSS_KEY, [...f.src, ...f.dst, f.sport >> 8, f.sport & 255, 0, 9]);
        want[(h & 127) % 2]++;
      }
    }
    const sw = await Switch.start(config(count, 50_000), { steering: new Map([['gen0', { module: workerUrl('flows/steerer').href, shared: ctl.shared }]]) });
    try {
      await waitFor(() => {
        const q = sw.stats().queues;
        const p = sw.stats().ports.gen0;
        return q.rx0_packets + q.rx1_packets + q.rx2_packets + q.rx3_packets + ctl.counters().rx_steer_drop + p.rx_no_buffer + p.rx_ring_full >= count;
      }, 20_000);
    } finally {
      const summary = await sw.stop();
      const q = summary.stats.queues;
      const port = summary.stats.ports.gen0;
      expect([port.rx_no_buffer, port.rx_ring_full]).toEqual([0, 0]);
      expect([q.rx0_packets, q.rx1_packets, q.rx2_packets, q.rx3_packets]).toEqual(want);
      expect(ctl.counters().rx_steer_drop).toBe(dropped);
      expect(port.rx_flow_drop).toBe(dropped); // the device counts the same drops as its exit
      expect(summary.unaccounted).toBe(0);
    }
  });

  it.runIf(built || inCI)('a rule added and a rule deleted while traffic flows lose no packet', async () => {
    const ctl = new SteeringControl('gen0', QUEUES);
    ctl.run('-X equal 2');
    ctl.run('-N flow-type udp4 src-ip 10.0.0.2 action 2 loc 5');
    const count = COUNT;
    const sw = await Switch.start(config(count, 8_000), { steering: new Map([['gen0', { module: workerUrl('flows/steerer').href, shared: ctl.shared }]]) });
    const total = () => {
      const q = sw.stats().queues;
      return q.rx0_packets + q.rx1_packets + q.rx2_packets + q.rx3_packets;
    };
    let summary;
    try {
      await waitFor(() => total() > count / 4, 20_000);
      ctl.run('-N flow-type udp4 src-ip 10.0.0.1 action 3 loc 6'); // added
      const q3before = sw.stats().queues.rx3_packets;
      await waitFor(() => sw.stats().queues.rx3_packets > q3before, 5000);
      ctl.run('-N delete 5'); // deleted: 10.0.0.2 goes back to RSS (queues 0-1)
      const q2 = sw.stats().queues.rx2_packets;
      await waitFor(() => total() >= count, 20_000);
      const after = sw.stats().queues.rx2_packets;
      // After the delete is picked up (between two batches) queue 2 stops growing.
      expect(after - q2).toBeLessThan(1000);
    } finally {
      summary = await sw.stop();
    }
    const q = summary.stats.queues;
    const port = summary.stats.ports.gen0;
    expect(q.rx0_packets + q.rx1_packets + q.rx2_packets + q.rx3_packets).toBe(count);
    expect(port.rx_no_buffer ?? 0).toBe(0);
    expect(port.rx_ring_full ?? 0).toBe(0);
    expect(q.rx3_packets).toBeGreaterThan(0);
    expect(summary.unaccounted).toBe(0);
    const k = ctl.counters();
    expect(k.rx_steer_rule + k.rx_steer_rss + k.rx_steer_drop).toBe(count);
  });
});
