/**
 * Byte copies between two different SharedArrayBuffers (frame area ↔ guest memory ↔ UMEM)
 * that allocate nothing: Node 20's Buffer.copy and Uint8Array.set(subarray) both create a
 * view per call (measured: a scavenge every ~20k copies). When both ends are 4-byte
 * aligned the copy moves Int32 words, else bytes, through views over each whole buffer
 * made once per buffer.
 *
 * Reading a view's .buffer and .byteOffset costs more than copying 64 bytes (≈ 15 and 10
 * ns on Node 20), so the last view seen on each side is remembered: a port that always
 * passes the same frame area, or a device writing into the same guest memory, pays for
 * neither. Use one ByteCopier per direction so each side keeps seeing the same buffer.
 *
 * Callers have checked the bounds: the copy itself does not (an index past the end of a
 * typed array reads undefined and writes nothing, so a bug cannot reach another buffer).
 */
export class ByteCopier {
  private srcView: Uint8Array | null = null;
  private srcBase = 0;
  private srcBuffer: ArrayBufferLike | null = null;
  private src8: Uint8Array = new Uint8Array(0);
  private src32: Int32Array = new Int32Array(0);
  private dstView: Uint8Array | null = null;
  private dstBase = 0;
  private dstBuffer: ArrayBufferLike | null = null;
  private dst8: Uint8Array = new Uint8Array(0);
  private dst32: Int32Array = new Int32Array(0);

  /** dst[dstOff, dstOff + n) ← src[srcOff, srcOff + n). Does not allocate (after the first call per buffer). */
  copy(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): void {
    if (src !== this.srcView) this.seeSrc(src);
    if (dst !== this.dstView) this.seeDst(dst);
    let s = this.srcBase + srcOff;
    let d = this.dstBase + dstOff;
    const s8 = this.src8;
    const d8 = this.dst8;
    if (((s | d) & 3) === 0 && n >= 16) {
      const words = n >>> 2;
      const s32 = this.src32;
      const d32 = this.dst32;
      const sw = s >>> 2;
      const dw = d >>> 2;
      for (let k = 0; k < words; k++) d32[dw + k] = s32[sw + k];
      s += words << 2;
      d += words << 2;
      n -= words << 2;
    }
    for (let k = 0; k < n; k++) d8[d + k] = s8[s + k];
  }

  private seeSrc(src: Uint8Array): void {
    this.srcView = src;
    this.srcBase = src.byteOffset;
    if (src.buffer !== this.srcBuffer) {
      this.srcBuffer = src.buffer;
      this.src8 = new Uint8Array(src.buffer);
      this.src32 = new Int32Array(src.buffer, 0, src.buffer.byteLength >>> 2);
    }
  }

  private seeDst(dst: Uint8Array): void {
    this.dstView = dst;
    this.dstBase = dst.byteOffset;
    if (dst.buffer !== this.dstBuffer) {
      this.dstBuffer = dst.buffer;
      this.dst8 = new Uint8Array(dst.buffer);
      this.dst32 = new Int32Array(dst.buffer, 0, dst.buffer.byteLength >>> 2);
    }
  }
}
