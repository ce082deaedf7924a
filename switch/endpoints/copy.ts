/**
 * Byte copies between two different SharedArrayBuffers (frame area ↔ guest memory ↔ UMEM)
 * without allocating: a plain loop for short runs (faster than a call into the runtime
 * for a 64-byte frame), Buffer.copy for long ones. Callers pass Buffers made once over
 * each buffer (bufferOf) so the long path does not create a view per packet.
 */
const kShort = 96;

export function bufferOf(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

export function copyBytes(dst: Buffer, dstOff: number, src: Buffer, srcOff: number, n: number): void {
  if (n <= kShort) {
    for (let k = 0; k < n; k++) dst[dstOff + k] = src[srcOff + k];
  } else {
    src.copy(dst, dstOff, srcOff, srcOff + n);
  }
}
