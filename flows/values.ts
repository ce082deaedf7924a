/**
 * Value parsers and printers with the C library's behaviour that ethtool inherits:
 * strtoull/strtoll with base 0 (decimal, 0x hex, leading-0 octal; a leading '-' wraps
 * modulo 2^64 as strtoull does), inet_pton / inet_ntop for addresses, sscanf("%2x:…")
 * for MAC addresses. These run when a command is parsed or printed, never per packet.
 */

const U64 = (1n << 64n) - 1n;

/** strtoull(str, &end, 0) accepting only a fully consumed string; null if invalid or ERANGE. */
export function strtoull(str: string): bigint | null {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(str);
  if (!m) return str.length === 0 ? 0n : null; // strtoull("") consumes nothing: 0, end at '\0'
  const digits = m[2];
  let v: bigint;
  if (/^0[xX]/.test(digits)) v = BigInt(digits);
  else if (digits.length > 1 && digits[0] === '0') v = BigInt('0o' + digits.slice(1));
  else v = BigInt(digits);
  if (v > U64) return null; // ERANGE
  if (m[1] === '-') v = (-v) & U64;
  return v;
}

/** rxclass_get_ulong: strtoull then `val > (2^size − 1)` is an error. */
export function getUlong(str: string, bits: number): bigint | null {
  const v = strtoull(str);
  if (v === null || v > (1n << BigInt(bits)) - 1n) return null;
  return v;
}

/** strtoll(str, &end, 0) fully consumed; null on error or out of the signed 64-bit range. */
export function strtoll(str: string): bigint | null {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(str);
  if (!m) return str.length === 0 ? 0n : null;
  const digits = m[2];
  let v: bigint;
  if (/^0[xX]/.test(digits)) v = BigInt(digits);
  else if (digits.length > 1 && digits[0] === '0') v = BigInt('0o' + digits.slice(1));
  else v = BigInt(digits);
  if (m[1] === '-') v = -v;
  if (v > (1n << 63n) - 1n || v < -(1n << 63n)) return null;
  return v;
}

/** inet_pton(AF_INET): exactly four decimal octets, no leading zeros, each ≤ 255. */
export function parseIPv4(str: string): number | null {
  if (!/^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$/.test(str)) return null;
  let v = 0;
  for (const part of str.split('.')) {
    const n = Number(part);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v >>> 0;
}

/** inet_pton(AF_INET6) into four big-endian words, or null. */
export function parseIPv6(str: string): Uint32Array | null {
  const groups: number[] = [];
  let s = str;
  // An embedded dotted quad ("::ffff:10.0.0.1") is the last two groups.
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.indexOf('.', lastColon) > lastColon) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (v4 === null) return null;
    s = s.slice(0, lastColon + 1) + (v4 >>> 16).toString(16) + ':' + (v4 & 0xffff).toString(16);
  }
  const want = 8;
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return null;
  const hex = (p: string): number | null => (/^[0-9a-fA-F]{1,4}$/.test(p) ? parseInt(p, 16) : null);
  const split = (p: string): number[] | null => {
    if (p === '') return [];
    const out: number[] = [];
    for (const g of p.split(':')) {
      const v = hex(g);
      if (v === null) return null;
      out.push(v);
    }
    return out;
  };
  if (dbl >= 0) {
    const head = split(s.slice(0, dbl));
    const tail = split(s.slice(dbl + 2));
    if (!head || !tail || head.length + tail.length > want - 1) return null;
    groups.push(...head, ...new Array<number>(want - head.length - tail.length).fill(0), ...tail);
  } else {
    const all = split(s);
    if (!all || all.length !== want) return null;
    groups.push(...all);
  }
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[i] = ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0;
  return w;
}

export function formatIPv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** inet_ntop(AF_INET6) as glibc writes it (longest zero run ≥ 2 groups as ::, v4 forms). */
export function formatIPv6(w: ArrayLike<number>): string {
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(w[i] >>> 16, w[i] & 0xffff);
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestBase = i; bestLen = j - i; }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff))) {
      return out + formatIPv4(((g[6] << 16) | g[7]) >>> 0);
    }
    out += g[i].toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** rxclass_get_ether: needs a ':'; sscanf "%2x:%2x:%2x:%2x:%2x:%2x" must fill all six. */
export function parseMac(str: string): number[] | null {
  if (!str.includes(':')) return null;
  const m = /^\s*([0-9a-fA-F]{1,2}):\s*([0-9a-fA-F]{1,2}):\s*([0-9a-fA-F]{1,2}):\s*([0-9a-fA-F]{1,2}):\s*([0-9a-fA-F]{1,2}):\s*([0-9a-fA-F]{1,2})/.exec(str);
  if (!m) return null;
  return m.slice(1, 7).map((h) => parseInt(h, 16));
}

export function formatMacUpper(bytes: ArrayLike<number>): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push(bytes[i].toString(16).toUpperCase().padStart(2, '0'));
  return out.join(':');
}
