import { describe, expect, it } from 'vitest';
import { SteeringControl } from '../../flows/control.js';
import { FlowSteerer } from '../../flows/steerer.js';
import { P_IP4_BAD_IHL, P_IP4_BAD_LEN, P_IP4_TRUNC, P_IP6_EXT_OVERRUN, P_IP6_TRUNC, P_L4_TRUNC, P_OK, P_RUNT, ParsedPacket } from '../../flows/packet.js';
import { DEFAULT_RSS_KEY, toeplitzReference } from '../../flows/toeplitz.js';
import { parseIPv4, parseIPv6 } from '../../flows/values.js';
import { frame, type FrameSpec } from './frames.js';

const addrBytes = (a: string) =>
  a.includes(':')
    ? Array.from(parseIPv6(a)!).flatMap((x) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255])
    : ((x: number) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255])(parseIPv4(a)!);

/** RSS queue computed from the spec alone, with the bit-by-bit Toeplitz and Linux's default table. */
function expectedRss(s: FrameSpec, queues: number): number {
  if (!s.ip) return 0;
  const fragmented = (s.fragOffset ?? 0) !== 0 || !!s.moreFragments;
  const v4 = s.ip === 4;
  const src = s.src ?? (v4 ? '10.0.0.1' : 'fd00::1');
  const dst = s.dst ?? (v4 ? '10.0.0.2' : 'fd00::2');
  const input = [...addrBytes(src), ...addrBytes(dst)];
  const proto = s.proto ?? 17;
  if (!fragmented && (proto === 6 || proto === 17)) {
    const sp = s.sport ?? 1000;
    const dp = s.dport ?? 2000;
    input.push(sp >> 8, sp & 255, dp >> 8, dp & 255);
  }
  return (toeplitzReference(DEFAULT_RSS_KEY, input) & 127) % queues;
}

describe('packet parser', () => {
  const p = new ParsedPacket();
  it('parses each header stack it knows', () => {
    const cases: FrameSpec[] = [
      { ip: 4, proto: 6 }, { ip: 4, proto: 17, ip4Options: 8 }, { ip: 4, proto: 132 }, { ip: 4, proto: 51 }, { ip: 4, proto: 50 },
      { ip: 6, proto: 6 }, { ip: 6, proto: 17, ip6Ext: [0, 43, 60] }, { ip: 6, proto: 51 }, { ip: 6, proto: 50 },
      { ip: 4, proto: 17, vlans: [{ tpid: 0x88a8, tci: 5 }, { tpid: 0x8100, tci: 7 }] },
    ];
    for (const s of cases) {
      const f = frame(s);
      expect(p.parse(f, 0, f.length)).toBe(P_OK);
      expect(p.l4Off).toBeGreaterThan(0);
      expect(p.key[0] & 0xff).toBe(s.proto);
    }
  });
  it('fragments have no L4, the first one included', () => {
    for (const s of [{ ip: 4 as const, moreFragments: true }, { ip: 4 as const, fragOffset: 10 }, { ip: 6 as const, fragOffset: 3 }, { ip: 6 as const, moreFragments: true }]) {
      const f = frame({ ...s, proto: 17 });
      expect(p.parse(f, 0, f.length)).toBe(P_OK);
      expect(p.l4Off).toBe(-1);
    }
  });
  it('names the reason of every fallback', () => {
    const f = frame({ ip: 4, proto: 6 });
    expect(p.parse(f, 0, 13)).toBe(P_RUNT);
    expect(p.parse(f, 0, 30)).toBe(P_IP4_TRUNC);
    const bad = f.slice();
    bad[14] = 0x44; // IHL 4 words = 16 bytes
    expect(p.parse(bad, 0, bad.length)).toBe(P_IP4_BAD_IHL);
    bad[14] = 0x4f; // IHL 60 bytes: more than the total length
    expect(p.parse(bad, 0, bad.length)).toBe(P_IP4_BAD_LEN);
    bad[17] = 60; // total length 60 too: now the header runs past the frame
    expect(p.parse(bad, 0, bad.length)).toBe(P_IP4_TRUNC);
    const t = frame({ ip: 4, proto: 6 });
    expect(p.parse(t, 0, t.length - 1)).toBe(P_IP4_TRUNC); // total length says more
    const short = frame({ ip: 4, proto: 6 });
    short[17] -= 4; // total length: TCP header cut short
    expect(p.parse(short, 0, short.length)).toBe(P_L4_TRUNC);
    const v6 = frame({ ip: 6, proto: 17, ip6Ext: [0] });
    expect(p.parse(v6, 0, 50)).toBe(P_IP6_TRUNC);
    v6[54 + 1] = 200; // hop-by-hop length runs off the packet
    expect(p.parse(v6, 0, v6.length)).toBe(P_IP6_EXT_OVERRUN);
  });
});

describe('steering a mix of flows', () => {
  const queues = 4;
  const c = new SteeringControl('p0', queues);
  c.run('-N flow-type udp4 dst-port 53 action 3 loc 10');
  c.run('-N flow-type tcp4 src-ip 10.1.0.0 m 0.0.255.255 action 2 loc 20');
  c.run('-N flow-type tcp6 dst-port 443 action 1 loc 5');
  c.run('-N flow-type ether proto 0x88cc action -1 loc 1');
  c.run('-N flow-type udp4 vlan 100 m 0xf000 action 0 loc 30'); // any PCP, VID 100
  c.run('-N flow-type ip4 l4proto 1 action 1 loc 40');
  const s = new FlowSteerer(c.shared);

  /** The test's own reading of the rules above. */
  function expected(f: FrameSpec): number {
    const v4 = f.ip === 4;
    const frag = (f.fragOffset ?? 0) !== 0 || !!f.moreFragments;
    if (!f.ip && f.ethertype === 0x88cc) return -1;
    if (v4 && !frag && f.proto === 17 && f.dport === 53) return 3;
    if (f.ip === 6 && !frag && f.proto === 6 && f.dport === 443) return 1;
    if (v4 && !frag && f.proto === 6 && (f.src ?? '').startsWith('10.1.')) return 2;
    if (v4 && !frag && f.proto === 17 && f.vlans && (f.vlans[0].tci & 0xfff) === 100) return 0;
    if (v4 && f.proto === 1) return 1;
    return expectedRss(f, queues);
  }

  it('lands every packet on the queue computed independently', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const counts = new Map<number, number>();
    const want = new Map<number, number>();
    for (let i = 0; i < 5000; i++) {
      const kind = rnd(8);
      const spec: FrameSpec = {};
      if (kind === 0) Object.assign(spec, { ethertype: rnd(2) ? 0x88cc : 0x0806 });
      else {
        spec.ip = kind < 5 ? 4 : 6;
        spec.proto = [6, 17, 1, 132][rnd(4)];
        spec.sport = rnd(65536);
        spec.dport = [53, 443, 80, rnd(65536)][rnd(4)];
        spec.src = spec.ip === 4 ? `10.${rnd(3)}.${rnd(256)}.${rnd(256)}` : `2001:db8::${rnd(65536).toString(16)}`;
        spec.dst = spec.ip === 4 ? `192.168.${rnd(256)}.${rnd(256)}` : `2001:db8:1::${rnd(65536).toString(16)}`;
        if (rnd(6) === 0) spec.vlans = [{ tpid: 0x8100, tci: (rnd(8) << 13) | [100, 200][rnd(2)] }];
        if (rnd(8) === 0) spec.fragOffset = 1 + rnd(100);
        else if (rnd(8) === 0) spec.moreFragments = true;
        if (spec.ip === 4 && rnd(4) === 0) spec.ip4Options = 4 * rnd(4);
        if (spec.ip === 6 && rnd(4) === 0) spec.ip6Ext = [[0], [60], [0, 43]][rnd(3)];
      }
      const f = frame(spec);
      const q = s.steer(f, 0, f.length);
      const e = expected(spec);
      expect(q, JSON.stringify(spec)).toBe(e);
      counts.set(q, (counts.get(q) ?? 0) + 1);
      want.set(e, (want.get(e) ?? 0) + 1);
    }
    expect(counts).toEqual(want);
    s.refresh();
    const k = c.counters();
    expect(k.rx_steer_rule + k.rx_steer_rss + k.rx_steer_drop).toBe(5000);
    expect(k.rx_steer_drop).toBe(want.get(-1));
  });

  it('the hash travels with the packet', () => {
    const f = frame({ ip: 4, proto: 6, src: '66.9.149.187', dst: '161.142.100.80', sport: 2794, dport: 1766 });
    s.steer(f, 0, f.length);
    expect(s.hash).toBe(0x51ccc178);
  });
});

describe('bad input never crashes and reads only its own bytes', () => {
  const c = new SteeringControl('p0', 4);
  c.run('-N flow-type udp4 dst-port 53 action 3');
  c.run('-N flow-type ip6 l4proto 17 action 2');
  c.run('-N flow-type ether proto 0x0800 m 0 action 1 loc 2000');
  const s = new FlowSteerer(c.shared);
  const bases: FrameSpec[] = [
    { ip: 4, proto: 6, ip4Options: 12 }, { ip: 4, proto: 17, dport: 53 }, { ip: 6, proto: 17, ip6Ext: [0, 43, 60, 44] },
    { ip: 6, proto: 51 }, { ip: 4, proto: 50, vlans: [{ tpid: 0x88a8, tci: 1 }, { tpid: 0x8100, tci: 2 }] },
  ];

  function steerIn(f: Uint8Array, fill: number, len: number): [number, number, number] {
    const buf = new Uint8Array(f.length + 64).fill(fill);
    buf.set(f.subarray(0, len), 32);
    const q = s.steer(buf, 32, len);
    return [q, s.hash, s.lastReason];
  }

  it('every truncation of every frame', () => {
    for (const b of bases) {
      const f = frame(b);
      for (let len = 0; len <= f.length; len++) {
        const a = steerIn(f, 0x00, len);
        expect(a).toEqual(steerIn(f, 0xff, len)); // poison around the frame changes nothing
        expect(a[0]).toBeGreaterThanOrEqual(-1);
        expect(a[0]).toBeLessThan(4);
      }
    }
  });

  it('random corruption', () => {
    let seed = 99;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    for (let i = 0; i < 20000; i++) {
      const f = frame(bases[rnd(bases.length)]);
      for (let k = 0; k < 1 + rnd(4); k++) f[rnd(f.length)] = rnd(256);
      const len = rnd(f.length + 1);
      const a = steerIn(f, 0x00, len);
      expect(a).toEqual(steerIn(f, 0xff, len));
    }
    s.refresh();
    const k = c.counters();
    expect(k.rx_steer_ipv4_bad_ihl + k.rx_steer_ipv4_truncated + k.rx_steer_ipv6_ext_overrun + k.rx_steer_runt).toBeGreaterThan(0);
  });

  it('malformed IP falls back to L2: ether rules still apply, IP rules do not', () => {
    const f = frame({ ip: 4, proto: 17, dport: 53 });
    f[14] = 0x43; // bogus IHL
    expect(s.steer(f, 0, f.length)).toBe(1); // the ether rule (EtherType 0x0800)
    expect(s.lastReason).toBe(P_IP4_BAD_IHL);
    expect(s.hash).toBe(0);
    expect(s.steer(f, 0, 10)).toBe(0); // runt: queue 0
  });
});

describe('counters have one writer', () => {
  it('a looking steerer (trace) leaves the device\'s counts alone; a restarted one continues them', () => {
    const c = new SteeringControl('p0', 2);
    const dev = new FlowSteerer(c.shared);
    const f = frame({ ip: 4, proto: 17 });
    for (let i = 0; i < 10; i++) dev.steer(f, 0, f.length);
    dev.refresh();
    expect(c.counters().rx_steer_rss).toBe(10);
    const look = new FlowSteerer(c.shared, { counts: false });
    look.steer(f, 0, f.length);
    look.refresh();
    expect(c.counters().rx_steer_rss).toBe(10);
    const again = new FlowSteerer(c.shared);
    again.steer(f, 0, f.length);
    again.refresh();
    expect(c.counters().rx_steer_rss).toBe(11);
  });
});
