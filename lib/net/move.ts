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
import { Views, wordCopy } from '../word-copy.js';

const NO_VIEWS = new Views(new ArrayBuffer(0));
let whole = NO_VIEWS;
let other = NO_VIEWS;

export function moveBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): void {
  const d = dst.byteOffset + dstOff;
  const s = src.byteOffset + srcOff;
  if (dst.buffer === src.buffer) {
    if (dst.buffer !== whole.buffer) whole = new Views(dst.buffer);
    // The engine's memmove over shared memory moves 8-byte words only when both ends have
    // the same offset modulo 8, and bytes otherwise (measured on 1460 bytes: ≈ 13 GB/s
    // against 2.8). GRO appends 1460-byte payloads, so every other one lands 4 bytes off
    // its source: those go through wordCopy's unaligned 8-byte reads (≈ 16 GB/s). The
    // ranges never overlap here (two different frames), so a forward copy is right.
    if (((s ^ d) & 7) === 0 || n < 64) whole.b8.copyWithin(d, s, s + n);
    else wordCopy(whole, d, whole, s, n);
    return;
  }
  // Different buffers: the destination is "whole", the source "other" (a guest writing
  // into the frame area keeps both remembered).
  if (dst.buffer !== whole.buffer) whole = new Views(dst.buffer);
  if (src.buffer !== other.buffer) other = new Views(src.buffer);
  wordCopy(whole, d, other, s, n);
}
