/**
 * The Toeplitz hash of RSS (Microsoft RSS specification; SPEC §2), table-driven.
 *
 * Definition: for every input bit, most significant bit of each byte first, if the bit is
 * 1 the result is XORed with the leftmost 32 bits of the key, then the key shifts left one
 * bit. Because XOR is linear, the contribution of one input byte depends only on the byte's
 * value and its position, so a table T[pos × 256 + value] (built once per key) turns the
 * hash of an n-byte input into n lookups and n XORs: no per-bit loop on the data path.
 *
 * Key bits past the end of the key count as 0: with the 40-byte key every standard input
 * (up to 36 bytes: IPv6 + ports) is covered; the optional rx-flow-hash fields (L2 address,
 * VLAN, L3 protocol) can push an input beyond that, and then hash against zero key bits.
 */

/** Linux's and Microsoft's default 40-byte key (SPEC §2). */
export const DEFAULT_RSS_KEY: readonly number[] = [
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
  0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
  0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

export const RSS_KEY_BYTES = 40;

/** Longest input any rx-flow-hash selection makes: L2DA 6 + VLAN 2 + proto 1 + 2×16 + 4. */
export const MAX_HASH_INPUT = 45;

/** The 32 key bits starting at bit `bit` (bits past the key are 0). */
function keyWindow(key: ArrayLike<number>, bit: number): number {
  let w = 0;
  for (let i = 0; i < 32; i++) {
    const b = bit + i;
    const byte = b >> 3;
    const v = byte < key.length ? (key[byte] >> (7 - (b & 7))) & 1 : 0;
    w = (w << 1) | v;
  }
  return w >>> 0;
}

/**
 * Fills `out` (at least MAX_HASH_INPUT × 256 entries) with the per-position tables of
 * `key`. Runs when a key is set, never per packet; allocates nothing.
 */
export function fillToeplitzTable(key: ArrayLike<number>, out: Uint32Array): Uint32Array {
  for (let pos = 0; pos < MAX_HASH_INPUT; pos++) {
    const base = pos * 256;
    out[base] = 0;
    // Smallest bit first, so that out[low] is complete when a higher bit is added to it.
    for (let bitIdx = 7; bitIdx >= 0; bitIdx--) {
      const wnd = keyWindow(key, pos * 8 + bitIdx); // bit 7 of the byte (0x80) is input bit 0
      const bitVal = 0x80 >> bitIdx;
      // Every value whose highest set bit is bitVal is bitVal XOR a smaller value.
      for (let low = 0; low < bitVal; low++) out[base + bitVal + low] = (out[base + low] ^ wnd) >>> 0;
    }
  }
  return out;
}

export function newToeplitzTable(key: ArrayLike<number>): Uint32Array {
  return fillToeplitzTable(key, new Uint32Array(MAX_HASH_INPUT * 256));
}

/**
 * XORs into `h` the contribution of bytes[off, off + n) placed at input position `pos`.
 * The caller sums fields in input order; the hash of the whole input is the XOR of them.
 */
export function toeplitzAdd(t: Uint32Array, h: number, pos: number, bytes: Uint8Array, off: number, n: number): number {
  let p = pos << 8;
  for (let i = 0; i < n; i++, p += 256) h ^= t[p + bytes[off + i]];
  return h;
}

/** Bit-by-bit reference, straight from the definition (tests and `trace` only). */
export function toeplitzReference(key: ArrayLike<number>, input: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < input.length * 8; i++) {
    if ((input[i >> 3] >> (7 - (i & 7))) & 1) h = (h ^ keyWindow(key, i)) >>> 0;
  }
  return h >>> 0;
}
