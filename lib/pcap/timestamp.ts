/**
 * 64-bit capture timestamps (pcapng: a count of 1/resolution units in two u32 halves)
 * converted to and from seconds + nanoseconds without BigInt, so that reading and writing a
 * record allocates nothing. Doubles are exact to 2^53; the arithmetic below splits the
 * 64-bit value into 16-bit limbs so that no intermediate goes beyond that.
 */

const TWO16 = 65536;
const TWO32 = 4294967296;
/** Largest units-per-second for which limb division stays exact (rem × 2^16 < 2^53). */
const LIMB_DIV_MAX = 2 ** 37;

/** A pcapng if_tsresol resolution, decoded. */
export interface Resolution {
  /** Timestamp units per second (10^n or 2^n). */
  unitsPerSecond: number;
  /** 10 or 2. */
  base: number;
  /** The exponent n. */
  exponent: number;
}

export const MICROSECONDS: Resolution = { unitsPerSecond: 1e6, base: 10, exponent: 6 };
export const NANOSECONDS: Resolution = { unitsPerSecond: 1e9, base: 10, exponent: 9 };

/** Decodes the if_tsresol byte: MSB clear → 10^-n s, MSB set → 2^-n s. */
export function decodeTsresol(byte: number): Resolution {
  const n = byte & 0x7f;
  return byte & 0x80 ? { unitsPerSecond: 2 ** n, base: 2, exponent: n } : { unitsPerSecond: 10 ** n, base: 10, exponent: n };
}

/** Result holder, reused by the caller (no allocation per conversion). */
export interface SecNsec {
  tsSec: number;
  tsNsec: number;
}

/**
 * out.tsSec/tsNsec = (high × 2^32 + low) / res, nanoseconds truncated.
 * Allocates only for resolutions finer than 2^-37 s (picoseconds and beyond).
 */
export function unitsToSecNsec(high: number, low: number, res: Resolution, out: SecNsec): void {
  const u = res.unitsPerSecond;
  if (u > LIMB_DIV_MAX) return bigUnitsToSecNsec(high, low, res, out);
  // Long division of four 16-bit limbs by u; each step's dividend is < u × 2^16 ≤ 2^53.
  let rem = 0;
  let q = 0;
  let cur = high >>> 16;
  q = Math.floor(cur / u);
  rem = cur - q * u;
  let sec = q;
  cur = rem * TWO16 + (high & 0xffff);
  q = Math.floor(cur / u);
  rem = cur - q * u;
  sec = sec * TWO16 + q;
  cur = rem * TWO16 + (low >>> 16);
  q = Math.floor(cur / u);
  rem = cur - q * u;
  sec = sec * TWO16 + q;
  cur = rem * TWO16 + (low & 0xffff);
  q = Math.floor(cur / u);
  rem = cur - q * u;
  sec = sec * TWO16 + q;
  out.tsSec = sec;
  if (res.base === 10) {
    // 10^e units: scale the remainder exactly.
    out.tsNsec = res.exponent <= 9 ? rem * 10 ** (9 - res.exponent) : Math.floor(rem / 10 ** (res.exponent - 9));
  } else {
    out.tsNsec = Math.floor((rem * 1e9) / u);
  }
}

function bigUnitsToSecNsec(high: number, low: number, res: Resolution, out: SecNsec): void {
  const v = (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  const u = BigInt(res.base) ** BigInt(res.exponent);
  const sec = v / u;
  out.tsSec = Number(sec);
  out.tsNsec = Number(((v - sec * u) * 1_000_000_000n) / u);
}

/** Holder for the two u32 halves of a nanosecond count, reused by the caller. */
export interface HighLow {
  high: number;
  low: number;
}

/** out = sec × 10^9 + nsec as two u32 halves (sec < 2^32, nsec < 10^9). */
export function secNsecToNanos(sec: number, nsec: number, out: HighLow): void {
  const sh = Math.floor(sec / TWO16);
  const sl = sec - sh * TWO16;
  const a = 1e9 * sh; // < 2^46
  const b = 1e9 * sl + nsec; // < 2^47
  const aLow = (a % TWO16) * TWO16; // (a × 2^16) mod 2^32
  const aHigh = Math.floor(a / TWO16);
  const sum = aLow + b; // < 2^48, exact
  const sumHigh = Math.floor(sum / TWO32);
  out.low = sum - sumHigh * TWO32;
  out.high = aHigh + sumHigh;
}
