/**
 * The word loop every copy between two SharedArrayBuffers (or between two ends of one that
 * disagree modulo 8) ends in: V8's memmove over shared memory moves single bytes unless both
 * ends agree modulo 8, and `Uint8Array.set` from a view allocates the view. Int32 words
 * through views of the whole buffers, made once by the caller, allocate nothing.
 * Callers check bounds; ranges must not overlap unless dst precedes src.
 */
/** d8[d, d + n) ← s8[s, s + n), in Int32 words (eight a step) where both ends share an alignment, else bytes. */
export function wordCopy(d8: Uint8Array, d32: Int32Array, d: number, s8: Uint8Array, s32: Int32Array, s: number, n: number): void {
  let k = d;
  if (((s ^ d) & 3) === 0 && n >= 16) {
    while ((k & 3) !== 0) {
      d8[k++] = s8[s++];
      n--;
    }
    const words = n >>> 2;
    const dw = k >>> 2;
    const sw = s >>> 2;
    let w = 0;
    // V8 does not unroll loops: eight words a step copies about twice as fast.
    for (; w + 8 <= words; w += 8) {
      d32[dw + w] = s32[sw + w];
      d32[dw + w + 1] = s32[sw + w + 1];
      d32[dw + w + 2] = s32[sw + w + 2];
      d32[dw + w + 3] = s32[sw + w + 3];
      d32[dw + w + 4] = s32[sw + w + 4];
      d32[dw + w + 5] = s32[sw + w + 5];
      d32[dw + w + 6] = s32[sw + w + 6];
      d32[dw + w + 7] = s32[sw + w + 7];
    }
    for (; w < words; w++) d32[dw + w] = s32[sw + w];
    k += words << 2;
    s += words << 2;
    n -= words << 2;
  }
  for (let j = 0; j < n; j++) d8[k + j] = s8[s + j];
}
