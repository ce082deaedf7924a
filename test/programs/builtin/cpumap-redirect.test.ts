import { describe, expect, it } from 'vitest';
import { REDIRECT_CPU, REDIRECT_PORT } from '../../../programs/context.js';
import { XDP_DROP, XDP_PASS, XDP_REDIRECT } from '../../../programs/verdicts.js';
import { testProgram } from '../harness.js';
import { udpFrame } from '../packets.js';

describe('cpumap (re-steering)', () => {
  it('sends each source to one target queue; the target queue passes it on; nothing loops', async () => {
    const q0 = await testProgram('cpumap', { queues: [1, 2, 3], by: 'src' }, { queues: 4, queue: 0 });
    const seen = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const src = `192.0.2.${i % 50}`;
      expect(q0.run(udpFrame({ srcIp: src }), 1, 0)).toBe(XDP_REDIRECT);
      expect(q0.slot.ctx.redirectKind).toBe(REDIRECT_CPU);
      const q = q0.slot.ctx.redirectIndex;
      expect([1, 2, 3]).toContain(q);
      expect(seen.get(src) ?? q).toBe(q);
      seen.set(src, q);
    }
    expect(new Set(seen.values()).size).toBe(3);
    // On the target queue the same choice is "here": PASS, so the chain continues there.
    const [src, q] = [...seen][0];
    expect(q0.run(udpFrame({ srcIp: src }), 1, q)).toBe(XDP_PASS);
    // A queue taken out of the cpumap is a miss: PASS where it is.
    q0.maps.cpus.delete(new Uint8Array(Uint32Array.of(q).buffer));
    expect(q0.run(udpFrame({ srcIp: src }), 1, 0)).toBe(XDP_PASS);
  });

  it('refuses target queues the switch does not have', async () => {
    await expect(testProgram('cpumap', { queues: [5] }, { queues: 2 })).rejects.toThrow(/queue 5 does not exist/);
  });
});

describe('redirect-map (static forwarding through a devmap)', () => {
  it('by MAC', async () => {
    const t = await testProgram('redirect-map', { entries: ['02:00:00:00:00:02 dev p2', '02:00:00:00:00:03 dev 3'] });
    expect(t.run(udpFrame({ dst: '02:00:00:00:00:03' }))).toBe(XDP_REDIRECT);
    expect([t.slot.ctx.redirectKind, t.slot.ctx.redirectIndex]).toEqual([REDIRECT_PORT, 2]);
    expect(t.run(udpFrame({ dst: '02:00:00:00:00:09' }))).toBe(XDP_PASS);
    t.maps.tx_ports.delete(new Uint8Array(Uint32Array.of(2).buffer)); // port taken out: a miss
    expect(t.run(udpFrame({ dst: '02:00:00:00:00:03' }))).toBe(XDP_PASS);
  });

  it('by IP prefix, IPv4 and IPv6, with miss = drop', async () => {
    const t = await testProgram('redirect-map', { by: 'ip', miss: 'drop', entries: ['10.0.0.0/8 dev p2', '10.9.0.0/16 dev p4', '2001:db8::/32 dev p3'] });
    expect(t.run(udpFrame({ dstIp: '10.9.1.1' }))).toBe(XDP_REDIRECT);
    expect(t.slot.ctx.redirectIndex).toBe(3);
    expect(t.run(udpFrame({ dstIp: '10.8.1.1' }))).toBe(XDP_REDIRECT);
    expect(t.slot.ctx.redirectIndex).toBe(1);
    expect(t.run(udpFrame({ srcIp: '2001:db8::1', dstIp: '2001:db8::2' }))).toBe(XDP_REDIRECT);
    expect(t.slot.ctx.redirectIndex).toBe(2);
    expect(t.run(udpFrame({ dstIp: '11.0.0.1' }))).toBe(XDP_DROP);
  });
});
