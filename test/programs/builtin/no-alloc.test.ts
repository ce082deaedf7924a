import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { testProgram, type TestProgram } from '../harness.js';
import { udpFrame } from '../packets.js';

// The per-packet path must not allocate: 4,000,000 packets through each program while
// counting garbage collections. The driving loop allocates nothing; a program that
// allocated even 16 bytes a packet would fill the young generation (16 MiB semi-spaces
// in Node 20) four times over. Allowed: one collection, for what V8 itself may do once
// (re-optimising a function allocates code and feedback objects).
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

async function gcsDuring(fn: () => void): Promise<number> {
  // Start clean: the maps earlier tests made (external memory) must not bring a
  // collection due now.
  collect();
  collect();
  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  fn();
  await new Promise((r) => setTimeout(r, 100)); // gc entries are delivered asynchronously
  obs.disconnect();
  return gcs;
}

function drive(t: TestProgram, frames: Uint8Array[], n: number): void {
  const ctx = t.slot.ctx;
  const views = frames.map((f) => {
    t.slot.load(f, 1);
    return ctx.packet.slice(ctx.data, ctx.dataEnd);
  });
  for (let i = 0; i < n; i++) {
    const f = views[i % views.length];
    ctx.packet.set(f, 256);
    ctx.data = 256;
    ctx.dataEnd = 256 + f.length;
    ctx.ingressIfindex = 1 + (i & 3);
    t.clock.ns += 1000;
    t.prog(ctx);
  }
}

const frames = () => [
  udpFrame({ srcIp: '10.0.0.1', dstIp: '10.1.0.1', src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }),
  udpFrame({ srcIp: '192.0.2.9', dstIp: '10.2.0.1', src: '02:00:00:00:00:02', dst: '02:00:00:00:00:01' }),
  udpFrame({ srcIp: '2001:db8::1', dstIp: '2001:db8::2', src: '02:00:00:00:00:03', dst: 'ff:ff:ff:ff:ff:ff' }),
  udpFrame({ srcIp: '198.51.100.7', dstIp: '10.1.2.3', ttl: 1, src: '02:00:00:00:00:04', dst: '02:00:00:00:00:09' }),
];

const cases: [string, Record<string, unknown>][] = [
  ['ddos', { blocklist: ['10.0.0.0/8', '2001:db8::/32'], rate: 1000, burst: 100 }],
  ['router', { routes: ['10.0.0.0/8 via 02:00:00:00:0a:0a dev p2', '2001:db8::/32 via 02:00:00:00:0a:0b dev p3'], addresses: ['10.2.0.1'] }],
  ['l2switch', { vlan: true }],
  ['cpumap', { by: 'src' }],
  ['redirect-map', { by: 'ip', entries: ['10.0.0.0/8 dev p2'] }],
];

describe('programs do not allocate per packet', () => {
  for (const [name, params] of cases) {
    it(`${name}: 4,000,000 packets, no allocation`, async () => {
      const t = await testProgram(name, params, { queues: 2 });
      const f = frames();
      drive(t, f, 200_000); // warm up: optimised code, learned addresses, source buckets
      expect(await gcsDuring(() => drive(t, f, 4_000_000))).toBeLessThanOrEqual(1);
    });
  }
});
