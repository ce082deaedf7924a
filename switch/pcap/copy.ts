/**
 * Copying packet bytes into a sink's buffer without allocating: Buffer#copy on a Buffer
 * view of the source's memory. Views are made once per source array and cached, since the
 * source is almost always the same frame area.
 */
let lastSrc: Uint8Array | null = null;
let lastView: Buffer = Buffer.alloc(0);

export function copyBytes(src: Uint8Array, offset: number, length: number, dst: Buffer, at: number): void {
  if (src !== lastSrc) {
    lastSrc = src;
    lastView = Buffer.isBuffer(src) ? src : Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  }
  lastView.copy(dst, at, offset, offset + length);
}
