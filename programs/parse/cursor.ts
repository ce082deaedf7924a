/**
 * Cursor-style header parsers, as xdp-tutorial's parsing_helpers.h: each takes the
 * packet bytes and a cursor, checks that the header fits before `end`, records where it
 * starts, advances `pos` past it, and returns the next protocol — or -1 when the packet
 * is too short or malformed. Programs keep one Cursor (allocated in create()) and reset
 * it per packet with start(); nothing here allocates.
 *
 *   const c = new Cursor();
 *   (ctx) => {
 *     c.start(ctx);
 *     const eth = parseEth(ctx.packet, c);            // ethertype after VLAN tags
 *     if (eth !== ETH_P_IP || parseIPv4(ctx.packet, c) !== IPPROTO_UDP) return XDP_PASS;
 *     if (parseUdp(ctx.packet, c) < 0) return XDP_DROP;
 *     … ctx.packet[c.l4 + 2] …                        // UDP destination port, high byte
 *   }
 */

export {
  ETH_HLEN,
  ETH_ALEN,
  ETH_P_IP,
  ETH_P_ARP,
  ETH_P_IPV6,
  ETH_P_8021Q,
  ETH_P_8021AD,
  IPPROTO_HOPOPTS,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_ROUTING,
  IPPROTO_FRAGMENT,
  IPPROTO_ICMPV6,
  IPPROTO_DSTOPTS,
} from '../../lib/net/protocols.js';
import { ETH_HLEN, ETH_ALEN, ETH_P_IP, ETH_P_ARP, ETH_P_IPV6, ETH_P_8021Q, ETH_P_8021AD, IPPROTO_HOPOPTS, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_ICMPV6, IPPROTO_DSTOPTS } from '../../lib/net/protocols.js';

/** VLAN tags parseEth() looks through (802.1ad outer + 802.1Q inner). */
const VLAN_MAX_DEPTH = 2;
/** IPv6 extension headers parseIPv6() skips before giving up. */
const IPV6_EXT_MAX = 4;

export class Cursor {
  /** Next byte to parse. */
  pos = 0;
  /** One past the last packet byte (ctx.dataEnd). */
  end = 0;
  /** Offsets of the Ethernet, network and transport headers (-1 until parsed). */
  l2 = -1;
  l3 = -1;
  l4 = -1;
  /** VLAN ID of the outermost tag, 0 when untagged; number of tags seen. */
  vlan = 0;
  vlanDepth = 0;
  /** Offset of the ethertype field that announced the network header (for rewrites). */
  protoAt = -1;

  /** Points the cursor at a context's packet: pos = data, end = dataEnd. */
  start(ctx: { data: number; dataEnd: number }): this {
    this.pos = ctx.data;
    this.end = ctx.dataEnd;
    this.l2 = this.l3 = this.l4 = this.protoAt = -1;
    this.vlan = 0;
    this.vlanDepth = 0;
    return this;
  }

  /** The same over explicit bounds. */
  reset(pos: number, end: number): this {
    return this.start({ data: pos, dataEnd: end });
  }
}

function be16(p: Uint8Array, at: number): number {
  return (p[at] << 8) | p[at + 1];
}

/** Ethernet header and up to two VLAN tags. Returns the inner ethertype. */
export function parseEth(p: Uint8Array, c: Cursor): number {
  if (c.pos + ETH_HLEN > c.end) return -1;
  c.l2 = c.pos;
  let at = c.pos + 12;
  let proto = be16(p, at);
  for (let d = 0; d < VLAN_MAX_DEPTH && (proto === ETH_P_8021Q || proto === ETH_P_8021AD); d++) {
    if (at + 6 > c.end) return -1;
    if (d === 0) c.vlan = be16(p, at + 2) & 0x0fff;
    c.vlanDepth = d + 1;
    at += 4;
    proto = be16(p, at);
  }
  c.protoAt = at;
  c.pos = at + 2;
  return proto;
}

/** IPv4 header (options included). Returns the protocol (IPPROTO_*). */
export function parseIPv4(p: Uint8Array, c: Cursor): number {
  const at = c.pos;
  if (at + 20 > c.end) return -1;
  const vihl = p[at];
  const hlen = (vihl & 15) << 2;
  if (vihl >> 4 !== 4 || hlen < 20 || at + hlen > c.end) return -1;
  c.l3 = at;
  c.pos = at + hlen;
  return p[at + 9];
}

/** IPv6 header and the extension headers before the transport header. Returns its protocol. */
export function parseIPv6(p: Uint8Array, c: Cursor): number {
  const at = c.pos;
  if (at + 40 > c.end || p[at] >> 4 !== 6) return -1;
  c.l3 = at;
  let next = p[at + 6];
  let pos = at + 40;
  for (let i = 0; i < IPV6_EXT_MAX; i++) {
    if (next === IPPROTO_HOPOPTS || next === IPPROTO_ROUTING || next === IPPROTO_DSTOPTS) {
      if (pos + 8 > c.end) return -1;
      const len = (p[pos + 1] + 1) << 3;
      if (pos + len > c.end) return -1;
      next = p[pos];
      pos += len;
    } else if (next === IPPROTO_FRAGMENT) {
      if (pos + 8 > c.end) return -1;
      next = p[pos];
      pos += 8;
    } else break;
  }
  c.pos = pos;
  return next;
}

/** UDP header. Returns the payload length from the header, or -1 when it does not fit. */
export function parseUdp(p: Uint8Array, c: Cursor): number {
  const at = c.pos;
  if (at + 8 > c.end) return -1;
  const len = be16(p, at + 4) - 8;
  if (len < 0) return -1;
  c.l4 = at;
  c.pos = at + 8;
  return len;
}

/** TCP header (options included). Returns the header length. */
export function parseTcp(p: Uint8Array, c: Cursor): number {
  const at = c.pos;
  if (at + 20 > c.end) return -1;
  const hlen = (p[at + 12] >> 4) << 2;
  if (hlen < 20 || at + hlen > c.end) return -1;
  c.l4 = at;
  c.pos = at + hlen;
  return hlen;
}

/** ICMP or ICMPv6 header (type, code, checksum, 4 more bytes). Returns the type. */
export function parseIcmp(p: Uint8Array, c: Cursor): number {
  const at = c.pos;
  if (at + 8 > c.end) return -1;
  c.l4 = at;
  c.pos = at + 8;
  return p[at];
}

/** Reads a big-endian u16 / u32 from the packet (for ports, addresses). */
export function readBe16(p: Uint8Array, at: number): number {
  return be16(p, at);
}
export function readBe32(p: Uint8Array, at: number): number {
  return ((p[at] << 24) | (p[at + 1] << 16) | (p[at + 2] << 8) | p[at + 3]) >>> 0;
}
