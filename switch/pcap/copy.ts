/**
 * Copies packet bytes into one destination buffer (a sink's), allocation-free and fast for
 * short frames. Node 20's Buffer#copy builds a Uint8Array view per call when copying part
 * of a buffer, and a call costs ~100 ns whatever the length; a frame of 64 bytes is 16
 * words, so short frames are copied word by word: with Int32Array indexing when both
 * ends are 4-byte aligned (pcapng records are), otherwise with DataView reads and writes,
 * which allow any alignment. Long frames use Buffer#copy (a memcpy once started).
 *
 * Views of the source are made once per source array and cached: the source is almost
 * always the switch's frame area.
 */

/** Above this many bytes, one Buffer#copy beats the word loop. */
const WORD_COPY_MAX = 256;

export class Copier {
  private readonly dst8: Buffer;
  private readonly dst32: Int32Array;
  private readonly dstDv: DataView;
  private src: Uint8Array | null = null;
  private srcBuf: Buffer = Buffer.alloc(0);
  private src32: Int32Array = new Int32Array(0);
  private srcDv: DataView = new DataView(new ArrayBuffer(0));
  /** Byte offset of the source view in its ArrayBuffer, mod 4 (word alignment of index 0). */
  private srcMis = 0;

  /** `dst` must start at a 4-byte-aligned offset of its ArrayBuffer. */
  constructor(dst: Buffer) {
    if (dst.byteOffset % 4 !== 0) throw new RangeError('destination buffer must be 4-byte aligned');
    this.dst8 = dst;
    this.dst32 = new Int32Array(dst.buffer, dst.byteOffset, dst.length >> 2);
    this.dstDv = new DataView(dst.buffer, dst.byteOffset, dst.length);
  }

  private attach(src: Uint8Array): void {
    this.src = src;
    this.srcBuf = Buffer.isBuffer(src) ? src : Buffer.from(src.buffer, src.byteOffset, src.byteLength);
    this.srcMis = src.byteOffset & 3;
    this.src32 = new Int32Array(src.buffer, src.byteOffset - this.srcMis, (src.byteLength + this.srcMis) >> 2);
    this.srcDv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  }

  /** dst[at, at + length) = src[offset, offset + length). */
  copy(src: Uint8Array, offset: number, length: number, at: number): void {
    if (src !== this.src) this.attach(src);
    if (length > WORD_COPY_MAX) {
      this.srcBuf.copy(this.dst8, at, offset, offset + length);
      return;
    }
    const words = length >> 2;
    const s = offset + this.srcMis;
    if (((s | at) & 3) === 0) {
      const s32 = this.src32;
      const d32 = this.dst32;
      const si = s >> 2;
      const di = at >> 2;
      for (let k = 0; k < words; k++) d32[di + k] = s32[si + k];
    } else {
      const sdv = this.srcDv;
      const ddv = this.dstDv;
      // Native byte order both ways: the bytes are moved, not interpreted.
      for (let k = 0; k < words << 2; k += 4) ddv.setInt32(at + k, sdv.getInt32(offset + k, true), true);
    }
    const d8 = this.dst8;
    for (let k = words << 2; k < length; k++) d8[at + k] = src[offset + k];
  }
}
