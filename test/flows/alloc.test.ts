import { describe, expect, it } from 'vitest';
import { PerformanceObserver } from 'node:perf_hooks';
import { SteeringControl } from '../../flows/control.js';
import { FlowSteerer } from '../../flows/steerer.js';
import { frame, type FrameSpec } from './frames.js';

/** Counts garbage collections while `fn` runs: a hot path that allocates nothing triggers none. */
async function gcsDuring(fn: () => void): Promise<number> {
  let n = 0;
  const obs = new PerformanceObserver((list) => { n += list.getEntries().length; });
  obs.observe({ entryTypes: ['gc'] });
  fn();
  await new Promise((r) => setTimeout(r, 50)); // entries are delivered asynchronously
  obs.disconnect();
  return n;
}

describe('the steering hook allocates nothing per packet', () => {
  it('a million packets of every kind, rules and RSS: no garbage collection', async () => {
    const c = new SteeringControl('p0', 4);
    c.run('-N flow-type udp4 dst-port 53 action 3');
    c.run('-N flow-type tcp6 src-port 80 m 0xff action 2');
    c.run('-N flow-type ether proto 0x88cc action -1');
    c.run('-X context new equal 2');
    c.run('-N flow-type tcp4 dst-port 443 context 1 action 2');
    c.run('-N rx-flow-hash udp6 sdfnvm');
    const s = new FlowSteerer(c.shared);
    const specs: FrameSpec[] = [
      { ip: 4, proto: 17, dport: 53 }, { ip: 4, proto: 6, dport: 443 }, { ip: 6, proto: 6, sport: 80 }, { ip: 6, proto: 17 },
      { ethertype: 0x88cc }, { ip: 4, proto: 17, moreFragments: true }, { ip: 6, proto: 17, ip6Ext: [0, 60] },
      { ip: 4, proto: 50, vlans: [{ tpid: 0x8100, tci: 3 }] },
    ];
    const frames = specs.map(frame);
    const buf = new Uint8Array(frames.length * 128);
    const offs = frames.map((f, i) => { buf.set(f, i * 128); return i * 128; });
    const lens = frames.map((f) => f.length);
    const run = (n: number) => {
      let acc = 0;
      for (let i = 0; i < n; i++) {
        const k = i & 7;
        acc = (acc + s.steer(buf, offs[k], lens[k])) | 0;
        if ((i & 63) === 63) s.refresh();
      }
      return acc;
    };
    // Ports may also hand each frame as its own (preallocated) view of one shared area.
    const views = offs.map((o) => buf.subarray(o, o + 128));
    const runViews = (n: number) => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc = (acc + s.steer(views[i & 7], 0, lens[i & 7])) | 0;
      return acc;
    };
    run(200_000); // warm up: optimize
    runViews(200_000);
    // A collection owed to earlier allocations (the warm-up, the test runner) may land in
    // one run; 8 bytes a packet would cost several in every run. The least of three counts.
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) counts.push(await gcsDuring(() => run(1_000_000)));
    expect(Math.min(...counts)).toBe(0);
    const viewCounts: number[] = [];
    for (let i = 0; i < 3; i++) viewCounts.push(await gcsDuring(() => runViews(1_000_000)));
    expect(Math.min(...viewCounts)).toBe(0);
  });
});
