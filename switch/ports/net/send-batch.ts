/**
 * Frames to send with one sendmmsg: transmit() copies each frame into a slot of a private
 * SharedArrayBuffer (the pool frame is freed as soon as transmit returns, so the batch
 * cannot point at it), and flush() sends every slot in one syscall. Nothing is allocated
 * per frame.
 */
import { ByteCopier } from '../../../queues/copy.js';
import { MmsgBatch, addressOf } from '../../../lib/native/index.js';

export class SendBatch {
  readonly slots: Uint8Array;
  readonly mmsg: MmsgBatch;
  /** Frames waiting in slots [0, count). */
  count = 0;
  private readonly lengths: Int32Array;
  private readonly base: number;
  private readonly copier = new ByteCopier();

  constructor(
    readonly capacity: number,
    readonly slotSize: number,
    /** Slots carry a destination address (MmsgBatch.names): unconnected sockets. */
    named = false,
  ) {
    this.slots = new Uint8Array(new SharedArrayBuffer(capacity * slotSize));
    this.base = addressOf(this.slots);
    this.mmsg = new MmsgBatch(capacity);
    this.lengths = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.mmsg.setNamed(i, named);
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Copies a frame into the next slot (the caller checked room and length); returns the slot. */
  add(area: Uint8Array, offset: number, length: number): number {
    const i = this.count++;
    this.copier.copy(this.slots, i * this.slotSize, area, offset, length);
    this.mmsg.setBuffer(i, this.base + i * this.slotSize, length);
    this.lengths[i] = length;
    return i;
  }

  /** Copies `prefix` (may be null) then the frame into the next slot; returns the slot. */
  addWithPrefix(prefix: Uint8Array | null, area: Uint8Array, offset: number, length: number): number {
    if (prefix === null) return this.add(area, offset, length);
    const i = this.count++;
    const at = i * this.slotSize;
    for (let k = 0; k < prefix.length; k++) this.slots[at + k] = prefix[k]!;
    this.copier.copy(this.slots, at + prefix.length, area, offset, length);
    this.mmsg.setBuffer(i, this.base + at, prefix.length + length);
    this.lengths[i] = prefix.length + length;
    return i;
  }

  /** Bytes of the frames in slots [from, count). */
  bytesFrom(from: number): number {
    let b = 0;
    for (let i = from; i < this.count; i++) b += this.lengths[i]!;
    return b;
  }

  /**
   * Sends slots [first, count) on `fd` without blocking: how many went (they are gone
   * from the batch when all went), or −errno when the first could not.
   */
  sendFrom(fd: number, first: number): number {
    return this.mmsg.sendFrom(fd, first, this.count - first);
  }

  /** Why the last sendAll() stopped short (an errno), when it did. */
  errno = 0;

  /**
   * Sends every slot on `fd` without blocking: how many went. A refusal ends the burst at
   * once (a full send buffer drops the rest: back-pressure, never a stalled thread), its
   * errno in `errno`; the slots stay until clear(), for the caller's accounting.
   */
  sendAll(fd: number): number {
    let sent = 0;
    while (sent < this.count) {
      const n = this.sendFrom(fd, sent);
      if (n <= 0) {
        this.errno = -n;
        break;
      }
      sent += n;
    }
    return sent;
  }

  clear(): void {
    this.count = 0;
  }
}
