import { describe, expect, it } from 'vitest';
import { REDIRECT_BROADCAST, REDIRECT_CPU, REDIRECT_PORT, REDIRECT_XSK, XdpContext } from '../../../programs/context.js';
import { createMap, openMap, type RedirectMapLike } from './redirect-helpers.js';
import { BPF_F_BROADCAST, BPF_F_EXCLUDE_INGRESS, XDP_DROP, XDP_PASS, XDP_REDIRECT } from '../../../programs/verdicts.js';

const u32 = (v: number) => new Uint8Array(Uint32Array.of(v).buffer);

describe('devmap / devmap_hash / xskmap / cpumap as redirect targets', () => {
  for (const type of ['devmap', 'devmap_hash'] as const) {
    it(`${type}: key → port, miss → flags & 3, broadcast with and without the ingress port`, () => {
      const m = openMap(createMap({ type, keySize: 4, valueSize: 4, maxEntries: 128 }, 2), 0) as RedirectMapLike;
      const ctx = new XdpContext(2048, 4, [], []); // no frames: the maps read none
      ctx.ingressIfindex = 2;
      for (const ifindex of [1, 2, 3]) m.update(u32(ifindex * 10), u32(ifindex));
      m.update(u32(99), u32(9)); // a port the switch does not have: a miss
      expect(ctx.redirectMap(m, 20, XDP_DROP)).toBe(XDP_REDIRECT);
      expect([ctx.redirectKind, ctx.redirectIndex]).toEqual([REDIRECT_PORT, 1]);
      expect(ctx.redirectMap(m, 21, XDP_PASS)).toBe(XDP_PASS);
      expect(ctx.redirectMap(m, 99, XDP_DROP)).toBe(XDP_DROP);
      expect(ctx.redirectMap(m, 0, BPF_F_BROADCAST)).toBe(XDP_REDIRECT);
      expect([ctx.redirectKind, [...ctx.broadcastPorts]]).toEqual([REDIRECT_BROADCAST, [1, 1, 1, 0]]);
      expect(ctx.redirectMap(m, 0, BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS)).toBe(XDP_REDIRECT);
      expect([...ctx.broadcastPorts]).toEqual([1, 0, 1, 0]);
      // Only the ingress port left: nothing to send to, so the miss action applies.
      m.delete(u32(10));
      m.delete(u32(30));
      expect(ctx.redirectMap(m, 0, BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS | XDP_DROP)).toBe(XDP_DROP);
      expect(() => m.update(u32(1), u32(0))).toThrow(/ifindex/);
    });
  }

  it('devmap: keys are indices below maxEntries', () => {
    const m = openMap(createMap({ type: 'devmap', keySize: 4, valueSize: 4, maxEntries: 2 }, 1), 0);
    expect(() => m.update(u32(2), u32(1))).toThrow(/out of range/);
  });

  it('xskmap: slot → socket endpoint id', () => {
    const m = openMap(createMap({ type: 'xskmap', keySize: 4, valueSize: 4, maxEntries: 4 }, 2), 1) as RedirectMapLike;
    const ctx = new XdpContext(2048, 2, [], []);
    m.update(u32(1), u32(0));
    expect(ctx.redirectMap(m, 1, XDP_PASS)).toBe(XDP_REDIRECT);
    expect([ctx.redirectKind, ctx.redirectIndex]).toEqual([REDIRECT_XSK, 0]);
    expect(ctx.redirectMap(m, 0, XDP_PASS)).toBe(XDP_PASS);
  });

  it('cpumap: key = destination queue, which must exist', () => {
    const m = openMap(createMap({ type: 'cpumap', keySize: 4, valueSize: 4, maxEntries: 8 }, 2), 0) as RedirectMapLike;
    const ctx = new XdpContext(2048, 2, [], []);
    m.update(u32(1), u32(256));
    expect(() => m.update(u32(2), u32(256))).toThrow(/queue 2 does not exist/);
    expect(() => m.update(u32(0), u32(0))).toThrow(/qsize/);
    expect(ctx.redirectMap(m, 1, XDP_DROP)).toBe(XDP_REDIRECT);
    expect([ctx.redirectKind, ctx.redirectIndex]).toEqual([REDIRECT_CPU, 1]);
    expect(ctx.redirectMap(m, 0, XDP_DROP)).toBe(XDP_DROP);
  });
});
