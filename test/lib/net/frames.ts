/**
 * Test frames built from a description, byte by byte, with a plain two-bytes-a-step
 * checksum: the independent side the GSO/GRO code is compared against (it shares no code
 * with lib/net). A description is a plain object, so a reference segmenter or coalescer is
 * a few lines of object arithmetic on it.
 */
export interface Desc {
  dst?: number[];
  src?: number[];
  vlan?: number[]; // TCIs, outermost first
  ipv6?: boolean;
  saddr: number[];
  daddr: number[];
  id?: number;
  ttl?: number;
  tos?: number;
  df?: boolean;
  ipOptions?: number[]; // IPv4 only, a multiple of 4 bytes
  flowLabel?: number;
  udp?: boolean;
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  flags?: number; // TCP flags byte
  window?: number;
  tcpOptions?: number[]; // a multiple of 4 bytes
  payload: Uint8Array;
  /** Leave the L4 checksum wrong (GRO must not merge it). */
  badCsum?: boolean;
  /** Write the L4 checksum field as this value instead (a NEEDS_CSUM pseudo-header sum). */
  csumField?: number;
  /** Trailing bytes after the IP packet (Ethernet padding). */
  pad?: number;
}

export const FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20, ECE = 0x40, CWR = 0x80;

export function plainSum(b: Uint8Array, from: number, to: number, sum = 0): number {
  for (let i = from; i < to; i += 2) sum += (b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

export function headerLength(d: Desc): { l3: number; l4: number; payload: number } {
  const l3 = 14 + 4 * (d.vlan?.length ?? 0);
  const l4 = l3 + (d.ipv6 ? 40 : 20 + (d.ipOptions?.length ?? 0));
  const payload = l4 + (d.udp ? 8 : 20 + (d.tcpOptions?.length ?? 0));
  return { l3, l4, payload };
}

export function pseudoSum(d: Desc, l4Len: number): number {
  const a = [...d.saddr, ...d.daddr];
  let s = 0;
  for (let i = 0; i < a.length; i += 2) s += (a[i] << 8) | a[i + 1];
  return s + (d.udp ? 17 : 6) + l4Len;
}

export function build(d: Desc): Uint8Array {
  const { l3, l4, payload } = headerLength(d);
  const len = payload + d.payload.length;
  const b = new Uint8Array(len + (d.pad ?? 0));
  const w16 = (o: number, v: number) => ((b[o] = (v >>> 8) & 0xff), (b[o + 1] = v & 0xff));
  const w32 = (o: number, v: number) => (w16(o, v >>> 16), w16(o + 2, v & 0xffff));
  b.set(d.dst ?? [0x02, 0, 0, 0, 0, 1], 0);
  b.set(d.src ?? [0x02, 0, 0, 0, 0, 2], 6);
  let at = 12;
  for (const tci of d.vlan ?? []) {
    w16(at, 0x8100);
    w16(at + 2, tci);
    at += 4;
  }
  w16(at, d.ipv6 ? 0x86dd : 0x0800);
  if (d.ipv6) {
    const tc = d.tos ?? 0;
    w32(l3, ((6 << 28) | (tc << 20) | (d.flowLabel ?? 0)) >>> 0);
    w16(l3 + 4, len - l3 - 40);
    b[l3 + 6] = d.udp ? 17 : 6;
    b[l3 + 7] = d.ttl ?? 64;
    b.set(d.saddr, l3 + 8);
    b.set(d.daddr, l3 + 24);
  } else {
    b[l3] = 0x40 | ((l4 - l3) >> 2);
    b[l3 + 1] = d.tos ?? 0;
    w16(l3 + 2, len - l3);
    w16(l3 + 4, d.id ?? 0);
    w16(l3 + 6, d.df === false ? 0 : 0x4000);
    b[l3 + 8] = d.ttl ?? 64;
    b[l3 + 9] = d.udp ? 17 : 6;
    b.set(d.saddr, l3 + 12);
    b.set(d.daddr, l3 + 16);
    if (d.ipOptions) b.set(d.ipOptions, l3 + 20);
    w16(l3 + 10, ~plainSum(b, l3, l4) & 0xffff);
  }
  w16(l4, d.sport);
  w16(l4 + 2, d.dport);
  let field: number;
  if (d.udp) {
    w16(l4 + 4, len - l4);
    field = l4 + 6;
  } else {
    w32(l4 + 4, (d.seq ?? 0) >>> 0);
    w32(l4 + 8, (d.ack ?? 0) >>> 0);
    b[l4 + 12] = ((payload - l4) >> 2) << 4;
    b[l4 + 13] = d.flags ?? ACK;
    w16(l4 + 14, d.window ?? 501);
    if (d.tcpOptions) b.set(d.tcpOptions, l4 + 20);
    field = l4 + 16;
  }
  b.set(d.payload, payload);
  if (d.csumField !== undefined) w16(field, d.csumField);
  else {
    let c = ~plainSum(b, l4, len, pseudoSum(d, len - l4)) & 0xffff;
    if (d.udp && c === 0) c = 0xffff;
    if (d.badCsum) c ^= 0x5a5a;
    w16(field, c);
  }
  return b;
}

/** A seeded generator (mulberry32): the same seed, the same test. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function bytes(n: number, r: () => number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (r() * 256) | 0;
  return b;
}

/** Classic pcap (µs, little-endian, Ethernet) of these frames, written by hand. */
export function pcapFile(frames: Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(262144, 16);
  h.writeUInt32LE(1, 20);
  parts.push(h);
  frames.forEach((f, i) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(1_700_000_000 + i, 0);
    r.writeUInt32LE(f.length, 8);
    r.writeUInt32LE(f.length, 12);
    parts.push(r, Buffer.from(f));
  });
  return Buffer.concat(parts);
}
