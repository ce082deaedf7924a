/**
 * What a port's queue side leaves open in the process — a socket, a ring it mapped — recorded
 * in the port's shared state (PortType.sharedState), so that the worker replacing a dead one
 * finds it. Descriptors and mappings belong to the process, not to the thread that made them:
 * a worker killed by the watchdog leaves them open, and only its successor can take them over
 * (vxlan adopts the bound socket) or let them go (afpacket unmaps and closes, so the dead
 * socket leaves its fanout group).
 *
 * One slot per queue: [fd (−1: none), mapping address low, high, mapping length]. One writer
 * at a time: the queue's worker; the Switch starts a replacement only after the old thread
 * has exited.
 */
const WORDS = 4;
const TWO32 = 2 ** 32;

/**
 * The shared state of a port whose queue sides record what they hold: every slot empty, and
 * `extra` zeroed bytes at the end for the port type's own use.
 */
export function createQueueSlots(queues: number, extra = 0): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(4 * WORDS * queues + extra);
  const w = new Int32Array(sab);
  for (let q = 0; q < queues; q++) w[q * WORDS] = -1;
  return sab;
}

/** What a dead predecessor left: its descriptor, and the mapping over it (length 0: none). */
export interface LeftOpen {
  fd: number;
  address: number;
  length: number;
}

/** Queue q's slot. */
export class QueueSlot {
  private readonly w: Int32Array;
  private readonly at: number;

  constructor(shared: SharedArrayBuffer, queue: number) {
    this.w = new Int32Array(shared);
    this.at = queue * WORDS;
  }

  /** What the worker before this one left recorded here, or null. */
  left(): LeftOpen | null {
    // Pairs with the Atomics.store of the fd in record() by the worker this one replaces.
    const fd = Atomics.load(this.w, this.at);
    if (fd < 0) return null;
    return { fd, address: (this.w[this.at + 1] >>> 0) + (this.w[this.at + 2] >>> 0) * TWO32, length: this.w[this.at + 3] >>> 0 };
  }

  /** Records what this worker holds (the mapping first, the fd last: the fd publishes it). */
  record(fd: number, mapping: { address: number; length: number } | null = null): void {
    this.w[this.at + 1] = mapping === null ? 0 : mapping.address % TWO32 | 0;
    this.w[this.at + 2] = mapping === null ? 0 : Math.floor(mapping.address / TWO32) | 0;
    this.w[this.at + 3] = mapping === null ? 0 : mapping.length | 0;
    // Pairs with the Atomics.load in left() of a successor.
    Atomics.store(this.w, this.at, fd);
  }

  /** Nothing held any more (closed by its owner): a successor must not touch the number. */
  clear(): void {
    // Pairs with the Atomics.load in left(): a descriptor closed here is never taken over.
    Atomics.store(this.w, this.at, -1);
  }
}
