/**
 * Counting what a socket port rejects before it reaches io.receive(): the frame was read
 * from the medium, so it is in rx_packets/rx_bytes, and it leaves in rx_dropped — its one
 * exit counter — with the reason in a counter of the port's own (rx_runt, rx_oversize, …).
 */
import type { PortIO } from '../port.js';

export class RxDrops {
  private readonly c: Float64Array;
  private readonly iPackets: number;
  private readonly iBytes: number;
  private readonly iDropped: number;

  constructor(private readonly io: PortIO) {
    this.c = io.counters;
    this.iPackets = io.counterIndex('rx_packets');
    this.iBytes = io.counterIndex('rx_bytes');
    this.iDropped = io.counterIndex('rx_dropped');
  }

  /** Counts one dropped frame of `len` bytes under the port counter at index `reason`. */
  drop(reason: number, len: number, n = 1): void {
    const c = this.c;
    c[this.iPackets] += n;
    c[this.iBytes] += len;
    c[this.iDropped] += n;
    c[reason] += n;
  }
}
