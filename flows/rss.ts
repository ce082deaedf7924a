/**
 * The steering hook: the one function a device thread calls to choose a packet's RX queue.
 *
 * Until a port is configured with flow-steering rules (flows/), it does what a NIC does out
 * of the box: RSS with the default Toeplitz key over the 4-tuple (TCP/UDP/SCTP) or the
 * address pair (other IP, fragments), and the default indirection table
 * `entry[i] = i mod queues` of 128 entries. Non-IP and truncated frames hash to 0 (queue 0).
 */
import { DEFAULT_RSS_KEY, newToeplitzTable } from './toeplitz.js';
import { ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP } from '../lib/net/protocols.js';

export interface Steerer {
  /**
   * Queue for the frame at bytes[offset, offset + length), or -1 to drop it (a rule with
   * action -1 or -2). Leaves the packet's hash in `hash`. Must not allocate.
   */
  steer(bytes: Uint8Array, offset: number, length: number): number;
  /** The hash of the last packet steered (travels in the descriptor). */
  hash: number;
  /** Called between batches: picks up a rule table the control plane published. */
  refresh(): void;
}

const INDIRECTION_ENTRIES = 128;

/** Default RSS: Toeplitz (default key) + the default indirection table; no rules. */
export class DefaultRssSteerer implements Steerer {
  hash = 0;
  private readonly table = newToeplitzTable(DEFAULT_RSS_KEY);
  private readonly indir: Int32Array;

  constructor(readonly queues: number) {
    this.indir = new Int32Array(INDIRECTION_ENTRIES);
    for (let i = 0; i < INDIRECTION_ENTRIES; i++) this.indir[i] = i % queues;
  }

  steer(b: Uint8Array, o: number, len: number): number {
    const h = rssHash(this.table, b, o, len);
    this.hash = h;
    return this.indir[h & (INDIRECTION_ENTRIES - 1)];
  }

  refresh(): void {}
}

/**
 * Toeplitz hash of the packet's RSS input, read straight from the frame: input byte k
 * contributes table[k × 256 + byte]. Returns an int32 (no boxing).
 */
export function rssHash(t: Uint32Array, b: Uint8Array, o: number, len: number): number {
  const end = o + len;
  let p = o + 12;
  if (p + 2 > end) return 0;
  let type = (b[p] << 8) | b[p + 1];
  p += 2;
  while ((type === ETH_P_8021Q || type === ETH_P_8021AD) && p + 4 <= end) {
    type = (b[p + 2] << 8) | b[p + 3];
    p += 4;
  }
  let h = 0;
  let l4 = -1;
  let proto = 0;
  let k = 0; // input byte position
  if (type === ETH_P_IP && p + 20 <= end) {
    const ihl = (b[p] & 0x0f) * 4;
    proto = b[p + 9];
    for (let i = 12; i < 20; i++, k++) h ^= t[(k << 8) | b[p + i]];
    const fragmented = ((b[p + 6] & 0x3f) | b[p + 7]) !== 0;
    if (!fragmented && ihl >= 20) l4 = p + ihl;
  } else if (type === ETH_P_IPV6 && p + 40 <= end) {
    proto = b[p + 6];
    for (let i = 8; i < 40; i++, k++) h ^= t[(k << 8) | b[p + i]];
    l4 = p + 40;
  } else {
    return 0;
  }
  if ((proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP) && l4 >= 0 && l4 + 4 <= end) {
    for (let i = 0; i < 4; i++, k++) h ^= t[(k << 8) | b[l4 + i]];
  }
  return h | 0;
}
