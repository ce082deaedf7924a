/**
 * struct sockaddr_in / sockaddr_in6 bytes for the native datagram path (lib/native), and
 * back: the address is built once per peer, never per datagram.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { K } from '../../../lib/native/index.js';
import type { HostPort } from './address.js';

/** IPv6 text → 16 bytes (handles '::' and an embedded IPv4 tail). */
function ipv6Bytes(host: string): Uint8Array {
  const out = new Uint8Array(16);
  let h = host.replace(/%.*$/, '');
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (tail) {
    const b = tail[1]!.split('.').map(Number);
    h = h.slice(0, -tail[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, rest] = h.split('::') as [string, string | undefined];
  const a = head === '' ? [] : head.split(':');
  const b = rest === undefined ? [] : rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? a : [...a, ...Array(8 - a.length - b.length).fill('0'), ...b];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** The sockaddr for an IP literal and port (names are resolved before: resolveHost). */
export function sockaddr(a: HostPort): Uint8Array {
  if (isIPv4(a.host)) {
    const s = new Uint8Array(16);
    new DataView(s.buffer).setUint16(0, K.AF_INET, true);
    new DataView(s.buffer).setUint16(2, a.port); // network order
    s.set(a.host.split('.').map(Number), 4);
    return s;
  }
  if (!isIPv6(a.host)) throw new Error(`'${a.host}' is not an IP address`);
  const s = new Uint8Array(28);
  new DataView(s.buffer).setUint16(0, K.AF_INET6, true);
  new DataView(s.buffer).setUint16(2, a.port);
  s.set(ipv6Bytes(a.host), 8);
  return s;
}

/** host:port of a sockaddr at b[o] (AF_INET or AF_INET6). Allocates: for rare events (learning a peer). */
export function fromSockaddr(b: Uint8Array, o: number): HostPort {
  const v = new DataView(b.buffer, b.byteOffset + o);
  const family = v.getUint16(0, true);
  const port = v.getUint16(2);
  if (family === K.AF_INET) return { host: `${b[o + 4]}.${b[o + 5]}.${b[o + 6]}.${b[o + 7]}`, port, family: 4 };
  const g: string[] = [];
  for (let i = 0; i < 8; i++) g.push(v.getUint16(8 + i * 2).toString(16));
  return { host: g.join(':').replace(/(^|:)0(:0)+(:|$)/, '::'), port, family: 6 };
}
