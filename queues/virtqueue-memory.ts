/**
 * Guest memory: the bytes a VM's virtqueues and buffers live in, seen through the views
 * both sides of a virtqueue need. Guest-physical address = byte offset in the buffer.
 * Creating the views allocates; using them does not.
 *
 * Two kinds of guest memory exist:
 *  - a JS guest's one SharedArrayBuffer (guest/runner.ts): every offset is memory;
 *  - a QEMU guest's RAM over vhost-user: memfd regions mapped at their guest-physical
 *    addresses inside one reserved span (switch/ports/vhost-user/mapping.ts). Between the
 *    regions lie holes (the PC's 640 KiB–1 MiB, say) that are not mapped: touching one
 *    would fault the process, so `contains` checks every address against the regions, and
 *    the device code asks it before every access it derives from the guest.
 */
import { assertLittleEndian } from './virtqueue.js';

/** One guest-physical range that is memory: [start, end). */
export interface MemoryRange {
  start: number;
  end: number;
}

export class GuestMemory {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** For Atomics on the 16-bit ring index and event words (2-aligned addresses). */
  readonly u16: Uint16Array;
  readonly size: number;
  /** Sorted, non-adjacent [start, end) pairs, or null when all of [0, size) is memory. */
  private readonly ranges: Float64Array | null;

  /**
   * `ranges` (optional): the parts of the buffer that are memory; adjacent ones are merged
   * so a buffer that crosses from one region into the next is still inside. Each must lie
   * within the buffer.
   */
  constructor(buffer: ArrayBufferLike, ranges?: readonly MemoryRange[]) {
    assertLittleEndian();
    if (buffer.byteLength % 2 !== 0) throw new RangeError('guest memory size must be even');
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    this.u16 = new Uint16Array(buffer, 0, buffer.byteLength >>> 1);
    this.size = buffer.byteLength;
    this.ranges = ranges === undefined ? null : mergeRanges(ranges, this.size);
  }

  /** The SharedArrayBuffer of a JS guest's memory (a mapped QEMU guest has none). */
  get sab(): SharedArrayBuffer {
    const b = this.bytes.buffer;
    if (!(b instanceof SharedArrayBuffer)) throw new TypeError('this guest memory is not a SharedArrayBuffer');
    return b;
  }

  static create(bytes: number): GuestMemory {
    return new GuestMemory(new SharedArrayBuffer(bytes));
  }

  /** True when [addr, addr + len) lies inside guest memory (inside one region). */
  contains(addr: number, len: number): boolean {
    if (addr < 0 || len < 0) return false;
    const end = addr + len;
    const r = this.ranges;
    if (r === null) return end <= this.size;
    // A VM has a handful of regions (two for a PC under 3 GiB): a scan beats a search.
    for (let i = 0; i < r.length; i += 2) if (addr >= r[i] && end <= r[i + 1]) return true;
    return false;
  }
}

function mergeRanges(ranges: readonly MemoryRange[], size: number): Float64Array {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: number[] = [];
  for (const r of sorted) {
    if (!(r.start >= 0 && r.end > r.start && r.end <= size)) throw new RangeError(`memory range [0x${r.start.toString(16)}, 0x${r.end.toString(16)}) is not inside the ${size}-byte buffer`);
    if (out.length > 0 && r.start <= out[out.length - 1]) out[out.length - 1] = Math.max(out[out.length - 1], r.end);
    else out.push(r.start, r.end);
  }
  return Float64Array.from(out);
}
