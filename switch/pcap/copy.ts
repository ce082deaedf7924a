/**
 * Copies packet bytes into one destination buffer without allocating. Node 20's Buffer#copy
 * creates a Uint8Array view per call when it copies part of a buffer (and costs ~100 ns a
 * call whatever the length), so the sink copies with Int32Array words instead:
 *
 *   1. bytes one by one until the destination is word aligned (at most 3);
 *   2. whole words: straight when the source is aligned the same way, otherwise each
 *      destination word is merged from two neighbouring source words (shift and or —
 *      the classic unaligned memcpy; the platform is little-endian, checked below);
 *   3. the last 0–3 bytes one by one.
 *
 * Views of the source are made once per source array and cached: the source is almost
 * always the switch's frame area.
 */
import { endianness } from 'node:os';

const LITTLE_ENDIAN = endianness() === 'LE';

export class Copier {
  private readonly dst8: Buffer;
  private readonly dst32: Int32Array;
  private src: Uint8Array | null = null;
  private src32: Int32Array = new Int32Array(0);
  private srcBuf: Buffer = Buffer.alloc(0);
  /** Byte offset of the source view in its ArrayBuffer, mod 4 (word alignment of index 0). */
  private srcMis = 0;

  /** `dst` must start at a 4-byte-aligned offset of its ArrayBuffer. */
  constructor(dst: Buffer) {
    if (dst.byteOffset % 4 !== 0) throw new RangeError('destination buffer must be 4-byte aligned');
    this.dst8 = dst;
    this.dst32 = new Int32Array(dst.buffer, dst.byteOffset, dst.length >> 2);
  }

  private attach(src: Uint8Array): void {
    this.src = src;
    this.srcMis = src.byteOffset & 3;
    // Every whole word of the ArrayBuffer from the view's first word on: the merge below
    // may read the word holding bytes just past the copied range.
    const first = src.byteOffset - this.srcMis;
    this.src32 = new Int32Array(src.buffer, first, (src.buffer.byteLength - first) >> 2);
    this.srcBuf = Buffer.isBuffer(src) ? src : Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  }

  /** dst[at, at + length) = src[offset, offset + length). Allocates nothing. */
  copy(src: Uint8Array, offset: number, length: number, at: number): void {
    if (src !== this.src) this.attach(src);
    if (!LITTLE_ENDIAN) {
      // The word merge below assumes little-endian words; big-endian hosts take the slow road.
      this.srcBuf.copy(this.dst8, at, offset, offset + length);
      return;
    }
    const d8 = this.dst8;
    let i = 0;
    while (((at + i) & 3) !== 0 && i < length) {
      d8[at + i] = src[offset + i];
      i++;
    }
    let words = (length - i) >> 2;
    if (words > 0) {
      const s32 = this.src32;
      const d32 = this.dst32;
      const sAbs = this.srcMis + offset + i; // byte index in src32's words
      const si = sAbs >> 2;
      const di = (at + i) >> 2;
      const shift = sAbs & 3;
      if (shift === 0) {
        for (let k = 0; k < words; k++) d32[di + k] = s32[si + k];
      } else {
        // The merge reads source words si … si + words; when the last of them is not a whole
        // word of the ArrayBuffer, the bytes it would give are left to the byte loop.
        if (si + words >= s32.length) words = Math.max(0, s32.length - si - 1);
        const r = shift << 3;
        const l = 32 - r;
        let w0 = s32[si];
        for (let k = 0; k < words; k++) {
          const w1 = s32[si + k + 1];
          d32[di + k] = (w0 >>> r) | (w1 << l);
          w0 = w1;
        }
      }
      i += words << 2;
    }
    for (; i < length; i++) d8[at + i] = src[offset + i];
  }
}
