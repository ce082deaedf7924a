/** Frames for program tests, built byte by byte (independent of the code under test). */
import { parseIP, parseMac } from '../../programs/parse/addr.js';

export interface FrameOpts {
  dst?: string;
  src?: string;
  vlan?: number;
  srcIp?: string;
  dstIp?: string;
  ttl?: number;
  sport?: number;
  dport?: number;
  payload?: number;
}

/** Full RFC 1071 checksum of p[from, to), written independently of lib/net/checksum.ts. */
export function inetChecksum(p: Uint8Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i += 2) s += (p[i] << 8) | (i + 1 < to ? p[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Ethernet (+VLAN) + IPv4 or IPv6 (by the address family) + UDP. */
export function udpFrame(o: FrameOpts = {}): Uint8Array {
  const src = parseIP(o.srcIp ?? '192.0.2.1');
  const dst = parseIP(o.dstIp ?? '198.51.100.1');
  const v6 = src.length === 16;
  const payload = o.payload ?? 18;
  const l2 = 14 + (o.vlan !== undefined ? 4 : 0);
  const l3len = v6 ? 40 : 20;
  const f = new Uint8Array(l2 + l3len + 8 + payload);
  const dv = new DataView(f.buffer);
  f.set(parseMac(o.dst ?? '02:00:00:00:00:02'), 0);
  f.set(parseMac(o.src ?? '02:00:00:00:00:01'), 6);
  if (o.vlan !== undefined) {
    dv.setUint16(12, 0x8100);
    dv.setUint16(14, o.vlan);
  }
  dv.setUint16(l2 - 2, v6 ? 0x86dd : 0x0800);
  const ip = l2;
  if (!v6) {
    f[ip] = 0x45;
    dv.setUint16(ip + 2, 20 + 8 + payload);
    dv.setUint16(ip + 4, 0x1234);
    f[ip + 8] = o.ttl ?? 64;
    f[ip + 9] = 17;
    f.set(src, ip + 12);
    f.set(dst, ip + 16);
    dv.setUint16(ip + 10, inetChecksum(f, ip, ip + 20));
  } else {
    f[ip] = 0x60;
    dv.setUint16(ip + 4, 8 + payload);
    f[ip + 6] = 17;
    f[ip + 7] = o.ttl ?? 64;
    f.set(src, ip + 8);
    f.set(dst, ip + 24);
  }
  const u = ip + l3len;
  dv.setUint16(u, o.sport ?? 1234);
  dv.setUint16(u + 2, o.dport ?? 5678);
  dv.setUint16(u + 4, 8 + payload);
  for (let i = 0; i < payload; i++) f[u + 8 + i] = i;
  return f;
}

export function arpFrame(src = '02:00:00:00:00:01'): Uint8Array {
  const f = new Uint8Array(42);
  f.fill(0xff, 0, 6);
  f.set(parseMac(src), 6);
  f[12] = 0x08;
  f[13] = 0x06;
  return f;
}
