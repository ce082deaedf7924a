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
import { readVnetHdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VnetHdr, writeVnetHdr } from '../lib/net/vnet-hdr.js';

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
 * The OFFLOAD_* bits a port must take for a frame with this virtio_net_hdr to reach it as
 * it is, or -1 when none can (UDP GSO). A TCP super-frame needs CSUM too: its segments'
 * checksums are the receiver's to finish (virtio: GUEST_TSO4/6 require GUEST_CSUM).
 */
export function offloadsFor(gsoType: number, flags: number): number {
  const type = gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
  const tso = type === VIRTIO_NET_HDR_GSO_TCPV4 ? OFFLOAD_TSO4 | OFFLOAD_CSUM : type === VIRTIO_NET_HDR_GSO_TCPV6 ? OFFLOAD_TSO6 | OFFLOAD_CSUM : type === VIRTIO_NET_HDR_GSO_NONE ? 0 : -1;
  if (tso < 0) return -1;
  return tso | ((gsoType & VIRTIO_NET_HDR_GSO_ECN) !== 0 ? OFFLOAD_TSO_ECN : 0) | ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0 ? OFFLOAD_CSUM : 0);
}

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

