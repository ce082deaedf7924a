/**
 * The virtio_net_hdr a frame may carry (GSO super-frames, partial or verified checksums),
 * from a guest or a tap to the ports and endpoints that take it.
 *
 *   descriptor word 3, flags bit F_VNET: the frame holds a header copy
 *   frame bytes [VNET_AT, VNET_AT + 10): flags, gso_type, hdr_len, gso_size, csum_start,
 *     csum_offset (lib/net/vnet-hdr.ts), the first bytes of the frame's headroom
 *
 * csum_start in the copy counts from the frame's first byte, as Linux's counts from
 * skb->head, so a program that moves the packet's start (adjust_head) leaves it right; it is
 * turned back into an offset from the packet's start (the wire form) when loaded. A frame
 * without the flag carries nothing and costs nothing: readers test one bit.
 */
import { readVnetHdr, VnetHdr, writeVnetHdr } from '../lib/net/vnet-hdr.js';

/**
 * What a port takes (the word each device publishes for the queue workers, layout.offloads):
 * OFFLOAD_CSUM partial checksums (NEEDS_CSUM), OFFLOAD_TSO TCP super-frames (GRO is done for
 * it), both as a guest's GUEST_CSUM and GUEST_TSO4/6 say.
 */
export const OFFLOAD_CSUM = 1;
export const OFFLOAD_TSO4 = 2;
export const OFFLOAD_TSO6 = 4;
export const OFFLOAD_TSO = OFFLOAD_TSO4 | OFFLOAD_TSO6;
/** Takes super-frames marked ECN (CWR on the first segment): GUEST_ECN. */
export const OFFLOAD_TSO_ECN = 8;

/**
 * Flags in the high half of descriptor word 3 (Desc.META); a const enum for the hot paths
 * (see Desc in queues/frames.ts), F_VNET for the rest.
 */
export const enum DescFlag {
  VNET = 1 << 16,
}
export const F_VNET: number = DescFlag.VNET;
export const VNET_AT = 0;

export function hasVnet(meta: number): boolean {
  return (meta & F_VNET) !== 0;
}

/** Stores h for the packet at area[frameBase + dataOff …). */
export function storeFrameVnet(h: VnetHdr, area: Uint8Array, frameBase: number, dataOff: number): void {
  const start = h.csumStart;
  h.csumStart = start + dataOff;
  writeVnetHdr(h, area, frameBase + VNET_AT, false);
  h.csumStart = start;
}

/** Loads the header of the packet at area[frameBase + dataOff …) into h. */
export function loadFrameVnet(h: VnetHdr, area: Uint8Array, frameBase: number, dataOff: number): void {
  readVnetHdr(h, area, frameBase + VNET_AT);
  h.csumStart = h.csumStart >= dataOff ? h.csumStart - dataOff : 0;
}

