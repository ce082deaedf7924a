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
 *
 * Word loops are slow for long frames: V8 loads from a SharedArrayBuffer cost ≈ 2 ns a
 * word. So, when told the frame geometry (useFrames), a long frame that starts right after
 * its frame's headroom — as every frame does unless a program moved its head — is copied
 * with one TypedArray#set from a view of that frame made once (a memcpy, ≈ 5× faster for
 * 1500 bytes). The view runs to the frame's end, so up to frameSize − headroom bytes are
 * written at the destination; bytes past the packet are left for the caller to overwrite,
 * and the path is only taken when they fit in the destination buffer.
 */
import { endianness } from 'node:os';

const LITTLE_ENDIAN = endianness() === 'LE';

/** Frames longer than this are copied with a frame view when one applies. */
const VIEW_COPY_MIN = 256;

export class Copier {
  private readonly dst8: Buffer;
  private readonly dst32: Int32Array;
  private src: Uint8Array | null = null;
  private src32: Int32Array = new Int32Array(0);
  private srcBuf: Buffer = Buffer.alloc(0);
  /** Byte offset of the source view in its ArrayBuffer, mod 4 (word alignment of index 0). */
  private srcMis = 0;
  // Frame geometry of the source (useFrames), and one view per frame, made on first use.
  private frameSize = 0;
  private headroom = 0;
  private frameViews: Uint8Array[] = [];

  /** `dst` must start at a 4-byte-aligned offset of its ArrayBuffer. */
  constructor(dst: Buffer) {
    if (dst.byteOffset % 4 !== 0) throw new RangeError('destination buffer must be 4-byte aligned');
    this.dst8 = dst;
    this.dst32 = new Int32Array(dst.buffer, dst.byteOffset, dst.length >> 2);
  }

  /** The source is a frame area of `frameSize`-byte frames with packet data at `headroom`. */
  useFrames(frameSize: number, headroom: number): this {
    if (!Number.isInteger(frameSize) || !Number.isInteger(headroom) || headroom < 0 || frameSize <= headroom) {
      throw new RangeError(`frame size ${frameSize} with headroom ${headroom} is not a frame geometry`);
    }
    this.frameSize = frameSize;
    this.headroom = headroom;
    this.frameViews = [];
    return this;
  }

  private attach(src: Uint8Array): void {
    this.src = src;
    this.frameViews = [];
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
    const fs = this.frameSize;
    if (length > VIEW_COPY_MIN && fs !== 0 && (offset - this.headroom) % fs === 0 && at + fs - this.headroom <= d8.length) {
      const f = (offset - this.headroom) / fs;
      let v = this.frameViews[f];
      // One view per frame, made the first time the frame is seen (never again after warm-up).
      if (v === undefined) v = this.frameViews[f] = src.subarray(offset, offset + fs - this.headroom);
      d8.set(v, at);
      return;
    }
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
