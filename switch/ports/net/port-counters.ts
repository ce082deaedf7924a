/**
 * Counting what a socket port rejects before it reaches io.receive(): the frame was read
 * from the medium, so it is in rx_packets/rx_bytes, and it leaves in rx_dropped — its one
 * exit counter — with the reason in a counter of the port's own (rx_runt, rx_oversize, …).
 */
import type { PortIO } from '../port.js';
import { ETH_HLEN, VLAN_HLEN, overMtu } from './mtu.js';

/** What the counting needs of a device's PortIO or a queue side's QueueIO. */
type Counting = Pick<PortIO, 'counters' | 'counterIndex' | 'maxFrameLength'>;

export class RxDrops {
  private readonly c: Float64Array;
  private readonly iPackets: number;
  private readonly iBytes: number;
  private readonly iDropped: number;
  private readonly iRunt: number;
  private readonly iOversize: number;
  private readonly mtu: number;
  private readonly maxLen: number;

  /**
   * With the port's `mtu`, admit() checks frames against it: at most mtu + 14 bytes (+ 4
   * with a VLAN tag), never more than a frame of the switch holds (the port has rx_runt and
   * rx_oversize).
   */
  constructor(io: Counting, mtu: number | null = null) {
    this.c = io.counters;
    this.iPackets = io.counterIndex('rx_packets');
    this.iBytes = io.counterIndex('rx_bytes');
    this.iDropped = io.counterIndex('rx_dropped');
    this.iRunt = mtu === null ? -1 : io.counterIndex('rx_runt');
    this.iOversize = mtu === null ? -1 : io.counterIndex('rx_oversize');
    this.mtu = mtu ?? 0;
    this.maxLen = mtu === null ? 0 : Math.min(io.maxFrameLength, mtu + ETH_HLEN + VLAN_HLEN);
  }

  /** Counts one dropped frame of `len` bytes under the port counter at index `reason`. */
  drop(reason: number, len: number, n = 1): void {
    const c = this.c;
    c[this.iPackets] += n;
    c[this.iBytes] += len;
    c[this.iDropped] += n;
    c[reason] += n;
  }

  /**
   * Whether the frame at b[at, at + len) is fit to switch: shorter than an Ethernet header
   * is rx_runt, cut short by the medium (`truncated`), longer than maxLen or than the MTU
   * allows is rx_oversize — counted here, and false.
   */
  admit(b: Uint8Array, at: number, len: number, truncated = false): boolean {
    if (len < ETH_HLEN) this.drop(this.iRunt, len);
    else if (truncated || len > this.maxLen || overMtu(b, at, len, this.mtu)) this.drop(this.iOversize, len);
    else return true;
    return false;
  }
}
