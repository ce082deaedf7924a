import { describe, expect, it } from 'vitest';
import { inCI } from '../support/prereq.js';
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { SteeringControl } from '../../flows/control.js';
import { generation } from '../../flows/shared.js';
import { frame } from './frames.js';

const built = existsSync(new URL('../../dist/flows/steerer.js', import.meta.url));

describe('live rule changes while another thread steers', () => {
  it.runIf(built || inCI)('every generation steers consistently, nothing is lost (needs npm run build)', async () => {
    const c = new SteeringControl('p0', 4);
    c.run('-X equal 2'); // RSS only uses queues 0 and 1
    const f = frame({ ip: 4, proto: 17, dport: 53 });
    const stop = new SharedArrayBuffer(8); // word 0: stop; word 1: the generation the worker last steered with
    const w = new Worker(new URL('./live-worker.mjs', import.meta.url), { workerData: { shared: c.shared, bytes: f.buffer, stop } });
    const messages: unknown[] = [];
    let wake: () => void = () => {};
    w.on('message', (m) => { messages.push(m); wake(); });
    const next = () => new Promise<unknown>((res, rej) => {
      if (messages.length) return res(messages.shift());
      wake = () => res(messages.shift());
      w.once('error', rej);
    });
    expect(await next()).toBe('ready');
    const table = new Int32Array(c.shared.table);
    // generation → whether the rule (dst-port 53 → queue 3) is in it
    const ruleGens = new Map<number, boolean>([[generation(table), false]]);
    for (let i = 0; i < 400; i++) {
      if (i % 2 === 0) c.run('-N flow-type udp4 dst-port 53 action 3 loc 7');
      else c.run('-N delete 7');
      ruleGens.set(generation(table), i % 2 === 0);
      // Every 4th change, let the worker steer with it before the next (however long the
      // scheduler keeps it waiting, up to a second), so it sees many generations, not a few.
      if (i % 4 === 0) {
        const g = generation(table);
        const end = Date.now() + 1000;
        // Pairs with the worker's Atomics.store of word 1 after each batch.
        while (Atomics.load(new Int32Array(stop), 1) !== g && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
      }
    }
    await new Promise((r) => setTimeout(r, 20));
    Atomics.store(new Int32Array(stop), 0, 1); // read by the worker's Atomics.load of the stop word
    const res = (await next()) as { packets: number; errors: number; seen: [number, number[]][] };
    await w.terminate();
    expect(res.errors).toBe(0);
    let rss = -1;
    for (const [gen, qs] of res.seen) {
      expect(qs.length, `generation ${gen} sent the frame to ${qs}`).toBe(1);
      if (ruleGens.get(gen)) expect(qs[0]).toBe(3);
      else {
        if (rss < 0) rss = qs[0];
        expect(qs[0]).toBe(rss); // the same RSS queue whenever the rule is absent
        expect(qs[0]).toBeLessThan(2);
      }
    }
    console.log(`worker: ${res.packets} packets over ${res.seen.length} generations`);
    expect(res.seen.length).toBeGreaterThan(50); // the worker did see many changes (at least the 100 it was waited for, less any it missed for a second)
    const k = c.counters();
    expect(k.rx_steer_rule + k.rx_steer_rss + k.rx_steer_drop).toBe(res.packets);
  });
});
