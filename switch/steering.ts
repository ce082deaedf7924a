/**
 * The steering hook: the one function a device thread calls to choose a packet's RX queue.
 *
 * Until a port is configured with flow-steering rules (flows/), it spreads traffic by a
 * flow hash over the IPv4/IPv6 addresses and ports, so one flow always lands on one queue.
 */
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

/** Spreads flows over `queues` by a hash of addresses and ports (no rules, no RSS key). */
export class FlowHashSteerer implements Steerer {
  hash = 0;
  constructor(readonly queues: number) {}

  steer(b: Uint8Array, o: number, len: number): number {
    this.hash = flowHash(b, o, len);
    return (this.hash >>> 0) % this.queues;
  }

  refresh(): void {}
}

/** FNV-1a-style mix of the IP addresses and L4 ports; 0 for non-IP or truncated frames. */
export function flowHash(b: Uint8Array, o: number, len: number): number {
  const end = o + len;
  let p = o + 12;
  if (p + 2 > end) return 0;
  let type = (b[p] << 8) | b[p + 1];
  p += 2;
  while ((type === 0x8100 || type === 0x88a8) && p + 4 <= end) {
    type = (b[p + 2] << 8) | b[p + 3];
    p += 4;
  }
  let h = 0x811c9dc5;
  let l4 = -1;
  let proto = 0;
  if (type === 0x0800 && p + 20 <= end) {
    const ihl = (b[p] & 0x0f) * 4;
    proto = b[p + 9];
    for (let i = 12; i < 20; i++) h = Math.imul(h ^ b[p + i], 0x01000193);
    const fragmented = ((b[p + 6] & 0x3f) | b[p + 7]) !== 0;
    if (!fragmented && ihl >= 20) l4 = p + ihl;
  } else if (type === 0x86dd && p + 40 <= end) {
    proto = b[p + 6];
    for (let i = 8; i < 40; i++) h = Math.imul(h ^ b[p + i], 0x01000193);
    l4 = p + 40;
  } else {
    return 0;
  }
  if ((proto === 6 || proto === 17 || proto === 132) && l4 >= 0 && l4 + 4 <= end) {
    for (let i = 0; i < 4; i++) h = Math.imul(h ^ b[l4 + i], 0x01000193);
  }
  return h >>> 0;
}
