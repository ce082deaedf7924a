/**
 * Address text ↔ bytes for parameters, map keys and output: IPv4/IPv6 addresses and
 * prefixes (CIDR), MAC addresses, and LPM trie keys ({ prefixlen u32 LE, address }).
 * Control-plane helpers: they allocate and throw on bad input with the text quoted.
 */

export function parseIPv4(s: string): Uint8Array {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255)) throw new Error(`'${s}' is not an IPv4 address`);
  return Uint8Array.from(parts.map(Number));
}

export function parseIPv6(s: string): Uint8Array {
  let text = s;
  const out = new Uint8Array(16);
  // A trailing dotted quad (::ffff:1.2.3.4) counts as two groups.
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: Uint8Array | null = null;
  if (m) {
    tail = parseIPv4(m[2]);
    text = m[1] + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`'${s}' is not an IPv6 address`);
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const all = [...head, ...rest];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) throw new Error(`'${s}' is not an IPv6 address`);
  if (halves.length === 1 ? head.length !== 8 : head.length + rest.length > 7) throw new Error(`'${s}' is not an IPv6 address`);
  const words = [...head, ...new Array(8 - head.length - rest.length).fill('0'), ...rest].map((g) => parseInt(g, 16));
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  if (tail) out.set(tail, 12);
  return out;
}

/** An IPv4 or IPv6 address. */
export function parseIP(s: string): Uint8Array {
  return s.includes(':') ? parseIPv6(s) : parseIPv4(s);
}

export interface Prefix {
  /** 4 or 16 bytes, bits beyond the prefix cleared. */
  addr: Uint8Array;
  len: number;
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a host prefix). */
export function parsePrefix(s: string): Prefix {
  const [a, l, extra] = s.trim().split('/');
  if (extra !== undefined) throw new Error(`'${s}' is not a prefix`);
  const addr = parseIP(a);
  const bits = addr.length * 8;
  const len = l === undefined ? bits : /^\d+$/.test(l) ? Number(l) : NaN;
  if (!(len >= 0 && len <= bits)) throw new Error(`'${s}': prefix length must be 0..${bits}`);
  maskTo(addr, len);
  return { addr, len };
}

export function maskTo(addr: Uint8Array, len: number): Uint8Array {
  for (let i = 0; i < addr.length; i++) {
    const keep = Math.max(0, Math.min(8, len - 8 * i));
    addr[i] &= (0xff00 >> keep) & 0xff;
  }
  return addr;
}

/** LPM trie key bytes: prefixlen (u32 little-endian) then the address. */
export function lpmKey(p: Prefix): Uint8Array {
  const k = new Uint8Array(4 + p.addr.length);
  new DataView(k.buffer).setUint32(0, p.len, true);
  k.set(p.addr, 4);
  return k;
}

export function formatIPv4(b: Uint8Array, at = 0): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952 text (longest run of zero groups compressed). */
export function formatIPv6(b: Uint8Array, at = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[at + 2 * i] << 8) | b[at + 2 * i + 1]);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export function formatPrefix(p: Prefix): string {
  return `${p.addr.length === 4 ? formatIPv4(p.addr) : formatIPv6(p.addr)}/${p.len}`;
}

export function parseMac(s: string): Uint8Array {
  const parts = s.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((x) => /^[0-9a-f]{1,2}$/i.test(x))) throw new Error(`'${s}' is not a MAC address`);
  return Uint8Array.from(parts.map((x) => parseInt(x, 16)));
}

export function formatMac(b: Uint8Array, at = 0): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push(b[at + i].toString(16).padStart(2, '0'));
  return out.join(':');
}
