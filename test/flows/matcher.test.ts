import { describe, expect, it } from 'vitest';
import { SteeringControl } from '../../flows/control.js';
import { FlowSteerer } from '../../flows/steerer.js';
import { KEY_WORDS } from '../../flows/key.js';
import { frame, type FrameSpec } from './frames.js';

/** Seeded generator (the same sequence every run). */
function rng(seed: number) {
  return (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
}

/** A small value space, so that random rules and random packets meet often. */
const IP4 = ['10.0.0.1', '10.0.0.2', '10.0.1.1', '192.168.0.1'];
const IP6 = ['fd00::1', 'fd00::2', 'fd00:1::1', '2001:db8::1'];
const PORTS = [53, 80, 443, 8080];
const TYPES = ['tcp4', 'udp4', 'sctp4', 'ip4', 'tcp6', 'udp6', 'ip6', 'ether', 'ah4', 'esp6'];

function randomRule(r: (n: number) => number, loc: number): string {
  const ft = TYPES[r(TYPES.length)];
  const v6 = ft.endsWith('6');
  const parts = [`flow-type ${ft}`];
  const maybe = (p: string) => { if (r(3) === 0) parts.push(p); };
  if (ft === 'ether') {
    maybe(`proto ${['0x0800', '0x86dd', '0x0806'][r(3)]}`);
    maybe(`src 02:00:00:00:00:0${r(3)}`);
  } else {
    const ips = v6 ? IP6 : IP4;
    maybe(`src-ip ${ips[r(4)]}` + (r(2) ? (v6 ? ' m ::ffff' : ' m 0.0.0.255') : ''));
    maybe(`dst-ip ${ips[r(4)]}`);
    if (/^(tcp|udp|sctp)/.test(ft)) {
      maybe(`src-port ${PORTS[r(4)]}`);
      maybe(`dst-port ${PORTS[r(4)]}` + (r(3) === 0 ? ' m 0xff00' : ''));
    } else if (ft.startsWith('ip')) {
      maybe(`l4proto ${[6, 17, 1][r(3)]}`);
      if (r(4) === 0) parts.push(`dst-port ${PORTS[r(4)]}`);
    } else {
      maybe(`spi ${r(3)}`);
    }
    if (r(6) === 0) parts.push(`vlan ${r(3)} m 0xf000`);
  }
  parts.push(`action ${r(5) === 0 ? -1 : r(4)}`, `loc ${loc}`);
  return `-N ${parts.join(' ')}`;
}

function randomPacket(r: (n: number) => number): FrameSpec {
  if (r(8) === 0) return { ethertype: 0x0806, smac: [2, 0, 0, 0, 0, r(3)] };
  const ip = r(2) ? 4 : 6;
  const ips = ip === 4 ? IP4 : IP6;
  return {
    ip, smac: [2, 0, 0, 0, 0, r(3)], src: ips[r(4)], dst: ips[r(4)], proto: [6, 17, 132, 1, 51, 50][r(6)],
    sport: PORTS[r(4)], dport: PORTS[r(4)], spi: r(3),
    vlans: r(4) === 0 ? [{ tpid: 0x8100, tci: r(3) }] : undefined,
    fragOffset: r(10) === 0 ? 5 : undefined,
  };
}

describe('tuple-space matcher against a linear scan', () => {
  for (const nRules of [1, 16, 256, 1024]) {
    it(`${nRules} random rules, 4000 random packets`, () => {
      const r = rng(nRules * 31 + 1);
      const c = new SteeringControl('p0', 4);
      const used = new Set<number>();
      while (used.size < nRules) {
        const loc = r(2048);
        if (used.has(loc)) continue;
        used.add(loc);
        c.run(randomRule(r, loc));
      }
      const s = new FlowSteerer(c.shared);
      const rules = c.state.sortedRules();
      let hits = 0;
      for (let i = 0; i < 4000; i++) {
        const f = frame(randomPacket(r));
        s.steer(f, 0, f.length);
        const key = s.packet.key;
        // Reference: the first rule in location order whose every masked word matches.
        let want = -1;
        for (const rule of rules) {
          let ok = true;
          for (let w = 0; w < KEY_WORDS && ok; w++) ok = ((key[w] & rule.mask[w]) >>> 0) === ((rule.value[w] & rule.mask[w]) >>> 0);
          if (ok) { want = rule.loc!; break; }
        }
        const got = s.lastRule < 0 ? -1 : s.table!.matcher.loc[s.lastRule];
        expect(got).toBe(want);
        if (want >= 0) hits++;
      }
      expect(hits).toBeGreaterThan(nRules === 1 ? 0 : 400); // the test exercises matches, not only misses
    });
  }
});
