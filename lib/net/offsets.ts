/**
 * Where a frame's L3 and L4 headers are: the walk GSO, GRO and checksum completion share
 * (Ethernet, up to two VLAN tags, IPv4 with options or IPv6 without extension headers,
 * then TCP or UDP). A cursor with bounds checks, as the xdp-tutorial parsers do; it fills
 * a reusable struct and returns 0 or a negative OFF_E_* code. Nothing allocates.
 *
 * IPv6 extension headers end the walk (OFF_E_L4): neither the guests' TSO nor Linux's GRO
 * for TCP takes them on the fast path, and a frame that has them travels unchanged.
 */
import { ETH_HLEN, ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6, IPPROTO_TCP, IPPROTO_UDP } from './packets.js';

export { IPPROTO_TCP, IPPROTO_UDP };
export const IPV6_HLEN = 40;
export const UDP_HLEN = 8;

export const OFF_E_SHORT = -1; // the frame ends inside a header
export const OFF_E_L3 = -2; // not IPv4 or IPv6 (or a bad version / header length)
export const OFF_E_L4 = -3; // not TCP or UDP (or IPv6 extension headers)
export const OFF_E_FRAGMENT = -4; // an IPv4 fragment: there is no L4 header to act on

export class Offsets {
  /** Offset of the IP header from the frame start. */
  l3 = 0;
  /** Offset of the TCP/UDP header from the frame start (csum_start). */
  l4 = 0;
  /** Offset of the payload from the frame start (hdr_len). */
  payload = 0;
  ipv6 = false;
  /** IPPROTO_TCP or IPPROTO_UDP. */
  proto = 0;
}

export function findOffsets(o: Offsets, p: Uint8Array, off: number, len: number): number {
  if (len < ETH_HLEN) return OFF_E_SHORT;
  let at = 12;
  let type = (p[off + at] << 8) | p[off + at + 1];
  for (let tags = 0; tags < 2 && (type === ETH_P_8021Q || type === ETH_P_8021AD); tags++) {
    at += 4;
    if (at + 2 > len) return OFF_E_SHORT;
    type = (p[off + at] << 8) | p[off + at + 1];
  }
  const l3 = at + 2;
  let l4: number;
  let proto: number;
  if (type === ETH_P_IP) {
    if (l3 + 20 > len) return OFF_E_SHORT;
    const vihl = p[off + l3];
    if (vihl >>> 4 !== 4 || (vihl & 15) < 5) return OFF_E_L3;
    l4 = l3 + ((vihl & 15) << 2);
    if (l4 > len) return OFF_E_SHORT;
    if ((((p[off + l3 + 6] << 8) | p[off + l3 + 7]) & 0x3fff) !== 0) return OFF_E_FRAGMENT; // MF or an offset
    proto = p[off + l3 + 9];
    o.ipv6 = false;
  } else if (type === ETH_P_IPV6) {
    if (l3 + IPV6_HLEN > len) return OFF_E_SHORT;
    if (p[off + l3] >>> 4 !== 6) return OFF_E_L3;
    l4 = l3 + IPV6_HLEN;
    proto = p[off + l3 + 6];
    o.ipv6 = true;
  } else return OFF_E_L3;
  let payload: number;
  if (proto === IPPROTO_TCP) {
    if (l4 + 20 > len) return OFF_E_SHORT;
    const doff = p[off + l4 + 12] >>> 4;
    if (doff < 5) return OFF_E_L4;
    payload = l4 + (doff << 2);
  } else if (proto === IPPROTO_UDP) {
    payload = l4 + UDP_HLEN;
  } else return OFF_E_L4;
  if (payload > len) return OFF_E_SHORT;
  o.l3 = l3;
  o.l4 = l4;
  o.payload = payload;
  o.proto = proto;
  return 0;
}
