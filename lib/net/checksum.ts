/**
 * Internet checksum helpers (RFC 1071) and the incremental update of RFC 1624:
 * when a 16-bit word m of a header changes to m', the checksum HC becomes
 *   HC' = ~(~HC + ~m + m')            (eqn. 3, ones' complement arithmetic)
 * which avoids the −0 / +0 pitfall of RFC 1141's form. Nothing here allocates.
 */

/** Folds a 32-bit sum to 16 bits, ones' complement carries included. */
function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** RFC 1624 eqn. 3: new checksum after word `oldWord` became `newWord`. */
export function csumReplace16(check: number, oldWord: number, newWord: number): number {
  return ~fold((~check & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/** Ones' complement sum of p[from, to) as big-endian words (an odd last byte is padded). */
export function onesSum(p: Uint8Array, from: number, to: number, sum = 0): number {
  let i = from;
  for (; i + 1 < to; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (i < to) sum += p[i] << 8;
  return fold(sum);
}

/** The Internet checksum of p[from, to): 0 when the bytes include a correct checksum field. */
export function checksum(p: Uint8Array, from: number, to: number): number {
  return ~onesSum(p, from, to) & 0xffff;
}

/** The IPv4 header checksum of the header at p[at] (its checksum field counted as zero). */
export function ipv4HeaderChecksum(p: Uint8Array, at: number): number {
  const hlen = (p[at] & 15) << 2;
  const sum = onesSum(p, at, at + 10) + onesSum(p, at + 12, at + hlen);
  return ~fold(sum) & 0xffff;
}
