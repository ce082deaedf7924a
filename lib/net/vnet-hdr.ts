/**
 * The virtio-net header (virtio 1.x §5.1.6, SPEC.md §10.4) that rides in front of every
 * frame between a guest and the switch, and the checksum offload it carries.
 *
 *   byte 0  flags        NEEDS_CSUM 1 (checksum partial: complete it), DATA_VALID 2 (verified)
 *   byte 1  gso_type     NONE 0, TCPV4 1, UDP 3 (UFO), TCPV6 4, UDP_L4 5, | ECN 0x80
 *   2..3    hdr_len      bytes of headers (a hint: Linux, and this code, parse them instead)
 *   4..5    gso_size     payload bytes per segment (the MSS)
 *   6..7    csum_start   offset of the L4 header, from the start of the frame
 *   8..9    csum_offset  offset of the checksum field from csum_start (16 TCP, 6 UDP)
 *   10..11  num_buffers  with VERSION_1 or MRG_RXBUF only (VNET_HDR_LEN_MRG)
 *
 * All fields are little-endian (VERSION_1; a legacy x86 guest is little-endian too).
 *
 * API (nothing allocates):
 *   new VnetHdr()                          a reusable header struct
 *   readVnetHdr(h, p, at)                  p[at, at+10) → h
 *   writeVnetHdr(h, p, at, withNumBuffers) h → p[at, …), num_buffers written when asked
 *   completeChecksum(p, off, len, start, offset)
 *                                          NEEDS_CSUM done in software (Linux's
 *                                          skb_checksum_help): the field holds the pseudo-header
 *                                          sum; the sum of p[off+start, off+len) replaces it.
 *                                          Returns false when start/offset are out of the frame.
 */
import { csumFinal, sum32 } from './checksum.js';

export const VNET_HDR_LEN = 10;
export const VNET_HDR_LEN_MRG = 12;

export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;

export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

/** csum_offset of the checksum field in a TCP and a UDP header. */
export const TCP_CSUM_OFFSET = 16;
export const UDP_CSUM_OFFSET = 6;

export class VnetHdr {
  flags = 0;
  gsoType = VIRTIO_NET_HDR_GSO_NONE;
  hdrLen = 0;
  gsoSize = 0;
  csumStart = 0;
  csumOffset = 0;
  numBuffers = 1;

  clear(): void {
    this.flags = 0;
    this.gsoType = VIRTIO_NET_HDR_GSO_NONE;
    this.hdrLen = 0;
    this.gsoSize = 0;
    this.csumStart = 0;
    this.csumOffset = 0;
    this.numBuffers = 1;
  }
}

export function readVnetHdr(h: VnetHdr, p: Uint8Array, at: number): void {
  h.flags = p[at];
  h.gsoType = p[at + 1];
  h.hdrLen = p[at + 2] | (p[at + 3] << 8);
  h.gsoSize = p[at + 4] | (p[at + 5] << 8);
  h.csumStart = p[at + 6] | (p[at + 7] << 8);
  h.csumOffset = p[at + 8] | (p[at + 9] << 8);
}

export function writeVnetHdr(h: VnetHdr, p: Uint8Array, at: number, withNumBuffers: boolean): void {
  p[at] = h.flags;
  p[at + 1] = h.gsoType;
  p[at + 2] = h.hdrLen & 0xff;
  p[at + 3] = h.hdrLen >>> 8;
  p[at + 4] = h.gsoSize & 0xff;
  p[at + 5] = h.gsoSize >>> 8;
  p[at + 6] = h.csumStart & 0xff;
  p[at + 7] = h.csumStart >>> 8;
  p[at + 8] = h.csumOffset & 0xff;
  p[at + 9] = h.csumOffset >>> 8;
  if (withNumBuffers) {
    p[at + 10] = h.numBuffers & 0xff;
    p[at + 11] = h.numBuffers >>> 8;
  }
}

export function completeChecksum(p: Uint8Array, off: number, len: number, start: number, offset: number): boolean {
  const field = start + offset;
  if (field + 2 > len || start >= len) return false;
  const at = off + field;
  // The field holds the pseudo-header sum the sender seeded; summing over it adds it in.
  let c = csumFinal(sum32(p, off + start, off + len));
  // A UDP checksum that comes out 0 is sent as 0xffff (RFC 768: 0 means "none"); TCP keeps 0.
  if (c === 0 && offset === UDP_CSUM_OFFSET) c = 0xffff;
  p[at] = c >>> 8;
  p[at + 1] = c & 0xff;
  return true;
}
