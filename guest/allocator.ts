/**
 * A bump allocator over guest memory, for a driver laying out queues and buffers once at
 * bring-up (a reset starts over). Address 0 is never handed out, so a zero address in a
 * descriptor is always a bug, never a buffer.
 */
export class GuestAllocator {
  private next = 64;

  constructor(readonly size: number) {}

  /** `bytes` at an address aligned to `align`; throws when guest memory is exhausted. */
  take(bytes: number, align: number): number {
    const at = Math.ceil(this.next / align) * align;
    if (at + bytes > this.size) throw new RangeError(`guest memory exhausted: need ${bytes} bytes at 0x${at.toString(16)}, have ${this.size}`);
    this.next = at + bytes;
    return at;
  }

  get used(): number {
    return this.next;
  }
}
