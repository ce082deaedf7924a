/**
 * The default steerer is a NIC's out-of-the-box RSS: Toeplitz with the default key over the
 * 4-tuple (address pair for non-L4 and fragments), indirection entry[i] = i mod queues.
 * Checked against the verification vectors of SPEC §2, read straight from whole frames.
 */
import { describe, expect, it } from 'vitest';
import { DefaultRssSteerer } from '../../flows/rss.js';

function ip4(s: string): number[] {
  return s.split('.').map(Number);
}

function frame(src: string, dst: string, sport: number, dport: number, proto: number, opts: { vlan?: boolean; fragment?: boolean } = {}): Uint8Array {
  const l2 = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, ...(opts.vlan ? [0x81, 0x00, 0x00, 0x05] : []), 0x08, 0x00];
  const ip = [0x45, 0, 0, 40, 0, 0, opts.fragment ? 0x20 : 0, 0, 64, proto, 0, 0, ...ip4(src), ...ip4(dst)];
  const l4 = [sport >> 8, sport & 255, dport >> 8, dport & 255, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0, 0, 0, 0, 0, 0, 0];
  return Uint8Array.from([...l2, ...ip, ...l4]);
}

const VECTORS: [string, number, string, number, number, number][] = [
  ['66.9.149.187', 2794, '161.142.100.80', 1766, 0x323e8fc2, 0x51ccc178],
  ['199.92.111.2', 14230, '65.69.140.83', 4739, 0xd718262a, 0xc626b0ea],
  ['24.19.198.95', 12898, '12.22.207.184', 38024, 0xd2d0a5de, 0x5c2b394a],
  ['38.27.205.30', 48228, '209.142.163.6', 2217, 0x82989176, 0xafc7327f],
  ['153.39.163.191', 44251, '202.188.127.2', 1303, 0x5d1809c5, 0x10e828a2],
];

describe('DefaultRssSteerer', () => {
  it('hashes TCP 4-tuples and IP-only packets as the RSS verification suite says', () => {
    const s = new DefaultRssSteerer(4);
    for (const [src, sport, dst, dport, ipOnly, withPorts] of VECTORS) {
      const tcp = frame(src, dst, sport, dport, 6);
      s.steer(tcp, 0, tcp.length);
      expect(s.hash >>> 0).toBe(withPorts);
      const icmp = frame(src, dst, sport, dport, 1);
      s.steer(icmp, 0, icmp.length);
      expect(s.hash >>> 0).toBe(ipOnly);
      // Fragments carry no ports: the address pair only, so every piece lands together.
      const frag = frame(src, dst, sport, dport, 6, { fragment: true });
      s.steer(frag, 0, frag.length);
      expect(s.hash >>> 0).toBe(ipOnly);
      // A VLAN tag does not change the hash.
      const tagged = frame(src, dst, sport, dport, 6, { vlan: true });
      s.steer(tagged, 0, tagged.length);
      expect(s.hash >>> 0).toBe(withPorts);
    }
  });

  it('uses the default indirection table (entry i = i mod queues) and sends non-IP to queue 0', () => {
    const s = new DefaultRssSteerer(3);
    for (const [src, sport, dst, dport, , withPorts] of VECTORS) {
      const f = frame(src, dst, sport, dport, 17);
      expect(s.steer(f, 0, f.length)).toBe((withPorts & 127) % 3);
    }
    const arp = new Uint8Array(42);
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(s.steer(arp, 0, 42)).toBe(0);
    expect(s.steer(arp, 0, 10)).toBe(0); // truncated
  });
});
