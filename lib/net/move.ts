/**
 * The copy GSO and GRO move payloads with. Both run inside the frame area (a super-frame
 * cut into MTU frames, MTU frames merged into a super-frame), so the common case is one
 * SharedArrayBuffer on both sides: copyWithin over one view of the whole buffer is the
 * engine's memmove, with no view made per call (Uint8Array.set(subarray) makes one, and
 * a byte loop runs at a fifth of the speed on 1448-byte payloads). Between two buffers it
 * falls back to a loop, in words when both ends share an alignment.
 *
 * API: moveBytes(dst, dstOff, src, srcOff, n). Allocates only when it first sees a buffer
 * (one view per side, remembered). Callers check bounds.
 */
let wholeBuffer: ArrayBufferLike | null = null;
let whole8: Uint8Array = new Uint8Array(0);
let otherBuffer: ArrayBufferLike | null = null;
let other8: Uint8Array = new Uint8Array(0);
let other32: Int32Array = new Int32Array(0);
let whole32: Int32Array = new Int32Array(0);

function see(buffer: ArrayBufferLike): void {
  wholeBuffer = buffer;
  whole8 = new Uint8Array(buffer);
  whole32 = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
}

function seeOther(buffer: ArrayBufferLike): void {
  otherBuffer = buffer;
  other8 = new Uint8Array(buffer);
  other32 = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
}

export function moveBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): void {
  const d = dst.byteOffset + dstOff;
  let s = src.byteOffset + srcOff;
  if (dst.buffer === src.buffer) {
    if (dst.buffer !== wholeBuffer) see(dst.buffer);
    whole8.copyWithin(d, s, s + n);
    return;
  }
  // Different buffers: the destination is "whole", the source "other" (a guest writing
  // into the frame area keeps both remembered).
  if (dst.buffer !== wholeBuffer) see(dst.buffer);
  if (src.buffer !== otherBuffer) seeOther(src.buffer);
  const d8 = whole8;
  const s8 = other8;
  let k = d;
  if (((s ^ d) & 3) === 0 && n >= 16) {
    while ((k & 3) !== 0) {
      d8[k++] = s8[s++];
      n--;
    }
    const words = n >>> 2;
    const d32 = whole32;
    const s32 = other32;
    const dw = k >>> 2;
    const sw = s >>> 2;
    for (let w = 0; w < words; w++) d32[dw + w] = s32[sw + w];
    k += words << 2;
    s += words << 2;
    n -= words << 2;
  }
  for (let j = 0; j < n; j++) d8[k + j] = s8[s + j];
}
