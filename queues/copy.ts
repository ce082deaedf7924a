/**
 * The frame-copy module: every copy of packet bytes from one buffer to another goes through
 * one of the three copiers here, chosen by where the source comes from.
 *
 * Why not Buffer#copy or Uint8Array#set: on Node 20 both create a view per call when they
 * copy part of a buffer, an allocation per packet, and the hot path allocates nothing.
 *
 *   source                                            copier          how
 *   stable SharedArrayBuffers (frame area, UMEM,      ByteCopier      Int32 words through views
 *     guest memory, capture rings, preloaded capture)                 made once per buffer
 *   a fresh Buffer per datagram or chunk (sockets)    copyBytes       byte loop up to 128 B, memcpy
 *                                                                     (one view) beyond
 *   frame area → one staging buffer (capture files)   StagingCopier   aligned/unaligned word merge;
 *                                                                     one `set` per long frame from
 *                                                                     a view made once per frame
 *
 * None of them checks bounds: callers have.
 */
import { endianness } from 'node:os';
import { Views, wordCopy } from '../lib/word-copy.js';

/** ByteCopier copies this long or longer with the engine's memcpy (see there). */
export const BULK_COPY_MIN = 4096;
const BULK_VIEWS_LOG2 = 9;
/** Remembered source views for bulk copies: more than a switch's super-frame slots (256 by default). */
const BULK_VIEWS = 1 << BULK_VIEWS_LOG2;
const EMPTY = new Uint8Array(0);
const NO_VIEWS = new Views(new ArrayBuffer(0));

/**
 * ByteCopier: byte copies between two different SharedArrayBuffers (frame area ↔ guest memory ↔ UMEM)
 * that allocate nothing: Node 20's Buffer.copy and Uint8Array.set(subarray) both create a
 * view per call (measured: a scavenge every ~20k copies). When both ends agree modulo 8
 * the copy moves Float64 words, modulo 4 Int32 words (lib/word-copy.ts), else bytes,
 * through views over each whole buffer made once per buffer.
 *
 * Reading a view's .buffer and .byteOffset costs more than copying 64 bytes (≈ 15 and 10
 * ns on Node 20), so the last view seen on each side is remembered: a port that always
 * passes the same frame area, or a device writing into the same guest memory, pays for
 * neither. Use one ByteCopier per direction so each side keeps seeing the same buffer.
 *
 * Copies of BULK_COPY_MIN bytes or more (super-frames: a 64 KB TSO frame, a GRO merge)
 * take the engine's memcpy instead, `Uint8Array.set` from a view of exactly the source
 * range, at three times the words' speed (64 KB: ≈ 4.3 µs against 11.8 on this machine).
 * Such a view costs an allocation, so the views are remembered by source offset and
 * length (BULK_VIEWS of them, direct-mapped): a super-frame slot of the frame area or a
 * guest's TX buffer is copied from again and again with the same length in a stream
 * (full-sized super-frames), and then makes no view. Only a new (offset, length) pair
 * allocates one, at most one per copy of ≥ 4 KB.
 *
 * Callers have checked the bounds: the copy itself does not. A bug cannot reach another
 * buffer (a store past a typed array's end is dropped; the bulk path's `set` throws a
 * RangeError instead), but it is not harmless either: a read past the source's end gives
 * undefined, stored as 0 in the destination.
 */
export class ByteCopier {
  // Remembered source views for bulk copies: slot i holds src8[bulkAt[i], bulkAt[i] + bulkLen[i]).
  private readonly bulkAt = new Int32Array(BULK_VIEWS).fill(-1);
  private readonly bulkLen = new Int32Array(BULK_VIEWS);
  private readonly bulkView: Uint8Array[] = new Array<Uint8Array>(BULK_VIEWS).fill(EMPTY);
  private srcView: Uint8Array | null = null;
  private srcBase = 0;
  private src: Views = NO_VIEWS;
  private dstView: Uint8Array | null = null;
  private dstBase = 0;
  private dst: Views = NO_VIEWS;

  /** dst[dstOff, dstOff + n) ← src[srcOff, srcOff + n). Does not allocate (after the first call per buffer). */
  copy(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): void {
    if (src !== this.srcView) this.seeSrc(src);
    if (dst !== this.dstView) this.seeDst(dst);
    const s = this.srcBase + srcOff;
    const d = this.dstBase + dstOff;
    if (n >= BULK_COPY_MIN && ((s ^ d) & 7) === 0) {
      // Fibonacci hashing of offset and length: slots a fixed stride apart, and the two or
      // three lengths a stream's super-frames take in one slot, spread over the table.
      const i = Math.imul(s ^ Math.imul(n, 0x85ebca6b), 0x9e3779b1) >>> (32 - BULK_VIEWS_LOG2);
      if (this.bulkAt[i] !== s || this.bulkLen[i] !== n) {
        this.bulkAt[i] = s;
        this.bulkLen[i] = n;
        this.bulkView[i] = this.src.b8.subarray(s, s + n);
      }
      this.dst.b8.set(this.bulkView[i]!, d);
      return;
    }
    wordCopy(this.dst, d, this.src, s, n);
  }

  private seeSrc(src: Uint8Array): void {
    this.srcView = src;
    this.srcBase = src.byteOffset;
    if (src.buffer !== this.src.buffer) {
      this.bulkAt.fill(-1); // views of the old buffer
      this.bulkView.fill(EMPTY);
      this.src = new Views(src.buffer);
    }
  }

  private seeDst(dst: Uint8Array): void {
    this.dstView = dst;
    this.dstBase = dst.byteOffset;
    if (dst.buffer !== this.dst.buffer) {
      this.dst = new Views(dst.buffer);
    }
  }
}

/**
 * copyBytes: for a fresh Buffer per datagram or chunk (socket buffers). Buffer.prototype.copy is a memcpy but, on Node 20, makes one short-lived Uint8Array view
 * per call whenever it copies part of its source (measured with --trace-gc: 93 scavenges
 * per million 1500-byte copies). A plain byte loop allocates nothing but writes shared
 * memory one element at a time: as fast as the memcpy for 64-byte frames (≈ 150 ns vs
 * 125 ns on this machine) and 18× slower for 1500-byte ones (≈ 5.5 µs vs 0.3 µs). So small
 * frames — where packet rate matters — are copied by the loop and allocate nothing; large
 * ones take the memcpy and its view.
 */
const memcpy = Buffer.prototype.copy;

/** Frames up to this length are copied without allocating. */
export const LOOP_COPY_MAX = 128;

/** Copies src[so, so + n) to dst[d, d + n). Allocates nothing when n ≤ LOOP_COPY_MAX. */
export function copyBytes(src: Uint8Array, so: number, dst: Uint8Array, d: number, n: number): void {
  if (n <= LOOP_COPY_MAX) {
    for (let k = 0; k < n; k++) dst[d + k] = src[so + k];
  } else {
    memcpy.call(src, dst, d, so, so + n);
  }
}

/**
 * StagingCopier: packet bytes into one destination buffer (a capture file's staging
 * buffer) without allocating. Node 20's Buffer#copy
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
const LITTLE_ENDIAN = endianness() === 'LE';

/** Frames longer than this are copied with a frame view when one applies. */
const VIEW_COPY_MIN = 256;

export class StagingCopier {
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
