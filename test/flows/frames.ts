/**
 * Test frame builder: Ethernet (+ VLAN tags) / IPv4 (+ options, fragments) / IPv6 (+
 * extension headers) / TCP, UDP, SCTP, AH, ESP, with fields chosen by the caller.
 */
import { parseIPv4, parseIPv6 } from '../../flows/values.js';

export interface FrameSpec {
  dmac?: number[];
  smac?: number[];
  vlans?: { tpid: number; tci: number }[];
  ethertype?: number; // for non-IP frames
  ip?: 4 | 6;
  src?: string;
  dst?: string;
  tos?: number;
  proto?: number;
  sport?: number;
  dport?: number;
  spi?: number;
  ip4Options?: number; // bytes of options (multiple of 4)
  fragOffset?: number; // 8-byte units
  moreFragments?: boolean;
  ip6Ext?: number[]; // next-header values of extension headers to insert (0, 43, 60 …; 44 = fragment)
  payload?: number;
}

const addr = (a: string, v: 4 | 6): number[] => {
  if (v === 4) {
    const x = parseIPv4(a)!;
    return [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255];
  }
  return Array.from(parseIPv6(a)!).flatMap((x) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255]);
};

export function l4Header(proto: number, s: FrameSpec): number[] {
  const sp = s.sport ?? 1000;
  const dp = s.dport ?? 2000;
  const ports = [sp >> 8, sp & 255, dp >> 8, dp & 255];
  const spi = s.spi ?? 0x1234;
  const spiB = [spi >>> 24, (spi >>> 16) & 255, (spi >>> 8) & 255, spi & 255];
  switch (proto) {
    case 6: return [...ports, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0];
    case 17: return [...ports, 0, 8, 0, 0];
    case 132: return [...ports, 0, 0, 0, 0, 0, 0, 0, 0];
    case 51: return [59, 1, 0, 0, ...spiB, 0, 0, 0, 1];
    case 50: return [...spiB, 0, 0, 0, 1];
    default: return [8, 0, 0, 0, 0, 1, 0, 1];
  }
}

export function frame(s: FrameSpec): Uint8Array {
  const out: number[] = [...(s.dmac ?? [2, 0, 0, 0, 0, 1]), ...(s.smac ?? [2, 0, 0, 0, 0, 2])];
  for (const v of s.vlans ?? []) out.push(v.tpid >> 8, v.tpid & 255, v.tci >> 8, v.tci & 255);
  const payload = new Array<number>(s.payload ?? 0).fill(0xab);
  if (!s.ip) {
    const t = s.ethertype ?? 0x0806;
    out.push(t >> 8, t & 255, ...payload, ...new Array<number>(28).fill(0));
    return Uint8Array.from(out);
  }
  const proto = s.proto ?? 17;
  const fragmented = (s.fragOffset ?? 0) !== 0 || s.moreFragments;
  const l4 = s.fragOffset ? [] : l4Header(proto, s);
  if (s.ip === 4) {
    const opt = new Array<number>(s.ip4Options ?? 0).fill(1);
    const ihl = 20 + opt.length;
    const total = ihl + l4.length + payload.length;
    const fo = (s.fragOffset ?? 0) | (s.moreFragments ? 0x2000 : 0);
    out.push(0x08, 0x00, 0x40 | (ihl >> 2), s.tos ?? 0, total >> 8, total & 255, 0, 1, fo >> 8, fo & 255, 64, proto, 0, 0,
      ...addr(s.src ?? '10.0.0.1', 4), ...addr(s.dst ?? '10.0.0.2', 4), ...opt, ...l4, ...payload);
  } else {
    const ext: number[] = [];
    const chain = [...(s.ip6Ext ?? [])];
    if (fragmented && !chain.includes(44)) chain.push(44);
    const first = chain.length ? chain[0] : proto;
    chain.forEach((h, i) => {
      const next = i + 1 < chain.length ? chain[i + 1] : proto;
      if (h === 44) {
        const fo = ((s.fragOffset ?? 0) << 3) | (s.moreFragments ? 1 : 0);
        ext.push(next, 0, fo >> 8, fo & 255, 0, 0, 0, 1);
      } else {
        ext.push(next, 0, 1, 4, 0, 0, 0, 0); // 8 bytes, PadN option
      }
    });
    const plen = ext.length + l4.length + payload.length;
    const tc = s.tos ?? 0;
    out.push(0x86, 0xdd, 0x60 | (tc >> 4), (tc & 15) << 4, 0, 0, plen >> 8, plen & 255, first, 64,
      ...addr(s.src ?? 'fd00::1', 6), ...addr(s.dst ?? 'fd00::2', 6), ...ext, ...l4, ...payload);
  }
  return Uint8Array.from(out);
}
