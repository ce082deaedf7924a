import { describe, expect, it } from 'vitest';
import { SteeringControl } from '../../flows/control.js';
import { FlowSteerer } from '../../flows/steerer.js';
import { DEFAULT_RSS_KEY, toeplitzReference } from '../../flows/toeplitz.js';
import { parseIPv4, parseIPv6 } from '../../flows/values.js';
import { frame } from './frames.js';

const bytes4 = (a: string) => ((x: number) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255])(parseIPv4(a)!);
const bytes6 = (a: string) => Array.from(parseIPv6(a)!).flatMap((x) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255]);
const be16 = (v: number) => [v >> 8, v & 255];

describe('RSS through the steerer, against the bit-by-bit Toeplitz', () => {
  it('IPv6 vectors of SPEC §2 from whole frames (TCP 4-tuple, UDP with sd)', () => {
    const c = new SteeringControl('p0', 4);
    c.run('-N rx-flow-hash udp6 sd');
    const s = new FlowSteerer(c.shared);
    const v: [string, number, string, number, number, number][] = [
      ['3ffe:2501:200:1fff::7', 2794, '3ffe:2501:200:3::1', 1766, 0x2cc18cd5, 0x40207d3d],
      ['3ffe:501:8::260:97ff:fe40:efab', 14230, 'ff02::1', 4739, 0x0f0c461c, 0xdde51bbf],
      ['3ffe:1900:4545:3:200:f8ff:fe21:67cf', 44251, 'fe80::200:f8ff:fe21:67cf', 38024, 0x4b61e985, 0x02d1feef],
    ];
    for (const [src, sport, dst, dport, ipOnly, l4] of v) {
      const t = frame({ ip: 6, proto: 6, src, dst, sport, dport, ip6Ext: [0] });
      s.steer(t, 0, t.length);
      expect(s.hash).toBe(l4);
      expect(s.lastIndex).toBe(l4 & 127);
      const u = frame({ ip: 6, proto: 17, src, dst, sport, dport });
      s.steer(u, 0, u.length);
      expect(s.hash).toBe(ipOnly);
    }
  });

  it('a key set with -X hkey', () => {
    const key = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) & 255);
    const c = new SteeringControl('p0', 4);
    c.run('-X hkey ' + key.map((b) => b.toString(16).padStart(2, '0')).join(':'));
    const s = new FlowSteerer(c.shared);
    const f = frame({ ip: 4, proto: 17, src: '10.9.8.7', dst: '192.0.2.1', sport: 5353, dport: 53 });
    s.steer(f, 0, f.length);
    expect(s.hash).toBe(toeplitzReference(key, [...bytes4('10.9.8.7'), ...bytes4('192.0.2.1'), ...be16(5353), ...be16(53)]));
  });

  it('every rx-flow-hash field, in the documented order', () => {
    const c = new SteeringControl('p0', 4);
    c.run('-N rx-flow-hash udp4 mvtsdfn');
    c.run('-N rx-flow-hash tcp4 dn');
    const s = new FlowSteerer(c.shared);
    const dmac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
    const f = frame({ dmac, vlans: [{ tpid: 0x8100, tci: 0x2064 }], ip: 4, proto: 17, src: '10.0.0.1', dst: '10.0.0.2', sport: 1111, dport: 2222 });
    s.steer(f, 0, f.length);
    expect(s.hash).toBe(toeplitzReference(DEFAULT_RSS_KEY, [...dmac, ...be16(0x2064), 17, ...bytes4('10.0.0.1'), ...bytes4('10.0.0.2'), ...be16(1111), ...be16(2222)]));
    const t = frame({ ip: 4, proto: 6, src: '10.0.0.1', dst: '10.0.0.2', sport: 1111, dport: 2222 });
    s.steer(t, 0, t.length);
    expect(s.hash).toBe(toeplitzReference(DEFAULT_RSS_KEY, [...bytes4('10.0.0.2'), ...be16(2222)]));
  });

  it('rules with a context: that context\'s table plus the action offset', () => {
    const c = new SteeringControl('p0', 8);
    c.run('-X context new weight 1 1');
    c.run('-N flow-type udp4 dst-port 53 context 1 action 4');
    const s = new FlowSteerer(c.shared);
    for (let sport = 1000; sport < 1100; sport++) {
      const f = frame({ ip: 4, proto: 17, src: '10.0.0.1', dst: '10.0.0.2', sport, dport: 53 });
      const h = toeplitzReference(DEFAULT_RSS_KEY, [...bytes4('10.0.0.1'), ...bytes4('10.0.0.2'), ...be16(sport), ...be16(53)]);
      expect(s.steer(f, 0, f.length)).toBe(4 + ((h & 127) < 64 ? 0 : 1));
      expect(s.lastContext).toBe(1);
    }
  });

  it('rx-flow-hash r discards the flow type (counted as a drop)', () => {
    const c = new SteeringControl('p0', 4);
    c.run('-N rx-flow-hash sctp4 r');
    const s = new FlowSteerer(c.shared);
    const f = frame({ ip: 4, proto: 132 });
    expect(s.steer(f, 0, f.length)).toBe(-1);
    s.refresh();
    expect(c.counters().rx_steer_drop).toBe(1);
  });
});
