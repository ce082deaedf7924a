import { describe, expect, it } from 'vitest';
import { REDIRECT_BROADCAST, REDIRECT_PORT } from '../../../programs/context.js';
import { L2_EXIT_REASONS, L2_REASONS } from '../../../programs/builtin/l2switch.js';
import { XDP_DROP, XDP_REDIRECT } from '../../../programs/verdicts.js';
import { testProgram } from '../harness.js';
import { udpFrame } from '../packets.js';
import { randInt, rng } from '../rng.js';

const R = Object.fromEntries(L2_REASONS.map((n, i) => [n, i])) as Record<(typeof L2_REASONS)[number], number>;
const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const BCAST = 'ff:ff:ff:ff:ff:ff';

describe('l2switch', () => {
  it('floods unknown unicast to every port but the ingress, then forwards once learned', async () => {
    const t = await testProgram('l2switch', {});
    const ctx = t.slot.ctx;
    expect(t.run(udpFrame({ src: A, dst: B }), 1)).toBe(XDP_REDIRECT);
    expect([ctx.redirectKind, [...ctx.broadcastPorts]]).toEqual([REDIRECT_BROADCAST, [0, 1, 1, 1]]);
    expect(t.run(udpFrame({ src: B, dst: A }), 2)).toBe(XDP_REDIRECT);
    expect([ctx.redirectKind, ctx.redirectIndex]).toEqual([REDIRECT_PORT, 0]);
    expect(t.run(udpFrame({ src: A, dst: B }), 1)).toBe(XDP_REDIRECT);
    expect([ctx.redirectKind, ctx.redirectIndex]).toEqual([REDIRECT_PORT, 1]);
    expect(t.run(udpFrame({ src: A, dst: BCAST }), 3)).toBe(XDP_REDIRECT); // A moved to port 3
    expect([ctx.redirectKind, [...ctx.broadcastPorts]]).toEqual([REDIRECT_BROADCAST, [1, 1, 0, 1]]);
    expect(t.run(udpFrame({ src: B, dst: A }), 2)).toBe(XDP_REDIRECT);
    expect(ctx.redirectIndex).toBe(2);
    expect([t.stat(R.learned), t.stat(R.moved)]).toEqual([2, 1]);
  });

  it('never sends a frame back to its ingress port: a destination on the ingress port is dropped', async () => {
    const t = await testProgram('l2switch', {});
    t.run(udpFrame({ src: B, dst: BCAST }), 2);
    expect(t.run(udpFrame({ src: A, dst: B }), 2)).toBe(XDP_DROP);
    expect(t.stat(R.drop_same_port)).toBe(1);
    // Random traffic among 40 hosts that wander between 4 ports.
    const r = rng(11);
    const macs = Array.from({ length: 40 }, (_, i) => `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`);
    const ctx = t.slot.ctx;
    for (let i = 0; i < 20000; i++) {
      const ingress = 1 + randInt(r, 4);
      const dst = r() < 0.05 ? BCAST : macs[randInt(r, macs.length)];
      const v = t.run(udpFrame({ src: macs[randInt(r, macs.length)], dst }), ingress);
      if (v === XDP_REDIRECT && ctx.redirectKind === REDIRECT_PORT) expect(ctx.redirectIndex).not.toBe(ingress - 1);
      if (v === XDP_REDIRECT && ctx.redirectKind === REDIRECT_BROADCAST) expect(ctx.broadcastPorts[ingress - 1]).toBe(0);
    }
    let exits = 0;
    for (let i = 0; i < L2_EXIT_REASONS; i++) exits += t.stat(i);
    expect(exits).toBe(20002); // every frame counted under exactly one exit reason
  });

  it('ages entries out: an address not seen for `ageing` seconds is flooded again', async () => {
    const t = await testProgram('l2switch', { ageing: 10 });
    const ctx = t.slot.ctx;
    t.run(udpFrame({ src: B, dst: BCAST }), 2);
    t.clock.ns += 9e9;
    t.run(udpFrame({ src: A, dst: B }), 1);
    expect(ctx.redirectKind).toBe(REDIRECT_PORT);
    t.clock.ns += 2e9; // B last seen 11 s ago
    t.run(udpFrame({ src: A, dst: B }), 1);
    expect(ctx.redirectKind).toBe(REDIRECT_BROADCAST);
    t.run(udpFrame({ src: B, dst: A }), 2); // B seen again: fresh
    t.run(udpFrame({ src: A, dst: B }), 1);
    expect([ctx.redirectKind, ctx.redirectIndex]).toEqual([REDIRECT_PORT, 1]);
  });

  it('VLAN-aware: a MAC learned in one VLAN is unknown in another', async () => {
    const t = await testProgram('l2switch', { vlan: true });
    const ctx = t.slot.ctx;
    t.run(udpFrame({ src: B, dst: BCAST, vlan: 10 }), 2);
    t.run(udpFrame({ src: A, dst: B, vlan: 10 }), 1);
    expect([ctx.redirectKind, ctx.redirectIndex]).toEqual([REDIRECT_PORT, 1]);
    t.run(udpFrame({ src: A, dst: B, vlan: 20 }), 1);
    expect(ctx.redirectKind).toBe(REDIRECT_BROADCAST);
    t.run(udpFrame({ src: A, dst: B }), 1);
    expect(ctx.redirectKind).toBe(REDIRECT_BROADCAST);
    // Without VLAN awareness the tag is ignored.
    const u = await testProgram('l2switch', {});
    u.run(udpFrame({ src: B, dst: BCAST, vlan: 10 }), 2);
    u.run(udpFrame({ src: A, dst: B, vlan: 20 }), 1);
    expect([u.slot.ctx.redirectKind, u.slot.ctx.redirectIndex]).toEqual([REDIRECT_PORT, 1]);
  });

  it('does not learn multicast sources; drops runt frames; a one-port flood drops', async () => {
    const t = await testProgram('l2switch', {});
    t.run(udpFrame({ src: '01:00:5e:00:00:01', dst: BCAST }), 1);
    expect(t.stat(R.learned)).toBe(0);
    expect(t.run(new Uint8Array(10), 1)).toBe(XDP_DROP);
    expect(t.stat(R.drop_malformed)).toBe(1);
    const one = await testProgram('l2switch', {}, { ports: [{ name: 'only', ifindex: 1 }] });
    expect(one.run(udpFrame({ src: A, dst: BCAST }), 1)).toBe(XDP_DROP);
    expect(one.stat(R.drop_no_port)).toBe(1);
  });

  it('learns 10,000 addresses', async () => {
    const t = await testProgram('l2switch', { maxMacs: 16384 });
    const mac = (i: number) => `02:00:00:${((i >> 16) & 255).toString(16)}:${((i >> 8) & 255).toString(16)}:${(i & 255).toString(16)}`;
    for (let i = 0; i < 10000; i++) t.run(udpFrame({ src: mac(i), dst: BCAST }), 1 + (i % 4));
    expect(t.stat(R.learned)).toBe(10000);
    for (let i = 0; i < 10000; i += 97) {
      t.run(udpFrame({ src: A, dst: mac(i) }), 1 + ((i + 1) % 4));
      expect(t.slot.ctx.redirectIndex).toBe(i % 4);
    }
  });
});
