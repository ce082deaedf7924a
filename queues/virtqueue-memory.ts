/**
 * Guest memory: the one SharedArrayBuffer a VM owns, seen through the views both sides of
 * a virtqueue need. Guest-physical address = byte offset in the buffer. Creating the views
 * allocates; using them does not.
 */
import { assertLittleEndian } from './virtqueue.js';

export class GuestMemory {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** For Atomics on the 16-bit ring index and event words (2-aligned addresses). */
  readonly u16: Uint16Array;
  readonly size: number;

  constructor(readonly sab: SharedArrayBuffer) {
    assertLittleEndian();
    if (sab.byteLength % 2 !== 0) throw new RangeError('guest memory size must be even');
    this.bytes = new Uint8Array(sab);
    this.view = new DataView(sab);
    this.u16 = new Uint16Array(sab);
    this.size = sab.byteLength;
  }

  static create(bytes: number): GuestMemory {
    return new GuestMemory(new SharedArrayBuffer(bytes));
  }

  /** True when [addr, addr + len) lies inside guest memory. */
  contains(addr: number, len: number): boolean {
    return addr >= 0 && len >= 0 && addr + len <= this.size;
  }
}
