/**
 * The packet parser of the steering hook: Ethernet, 802.1Q / 802.1ad tags, IPv4 (with
 * options), IPv6 (with extension headers up to the transport header), TCP, UDP, SCTP, AH,
 * ESP. It writes the match key (key.ts) and the offsets RSS hashes from into preallocated
 * fields, reads only inside [off, off + len), and allocates nothing.
 *
 * What a NIC does with what it cannot parse, this does too: a frame shorter than an
 * Ethernet header is steered to queue 0; a malformed IP packet (truncated header, bogus
 * IHL or length, an IPv6 header chain that runs off the frame) is classified as L2 only —
 * `ether` rules still see its MAC addresses and EtherType, IP rules do not, and RSS hashes
 * it as 0 (indirection entry 0). Each case returns its own reason so it is counted.
 *
 * Fragments (IPv4 MF or offset ≠ 0, IPv6 Fragment header) carry no L4 fields, the first
 * one included: all pieces of a datagram must hash alike and land on one queue, as NICs
 * steer them ("frag" packet classes).
 */
import {
  CLASS_HAS_L4, IPPROTO_AH, IPPROTO_ESP, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, KEY_WORDS,
  W_CLASS, W_DMAC, W_DST, W_ETYPE, W_L4, W_SMAC, W_SPI, W_SRC, W_TCI, W_TOS,
} from './key.js';

/** Why a packet fell back; 0 = parsed. Index into PARSE_REASONS. */
export const P_OK = 0;
export const P_RUNT = 1;
export const P_VLAN_TRUNC = 2;
export const P_IP4_TRUNC = 3;
export const P_IP4_BAD_IHL = 4;
export const P_IP4_BAD_LEN = 5;
export const P_IP6_TRUNC = 6;
export const P_IP6_EXT_OVERRUN = 7;
export const P_IP6_EXT_TOO_MANY = 8;
export const P_L4_TRUNC = 9;
export const P_BAD_VERSION = 10;

/** Counter suffixes for the reasons (`rx_steer_<name>`). */
export const PARSE_REASONS = [
  'ok', 'runt', 'vlan_truncated', 'ipv4_truncated', 'ipv4_bad_ihl', 'ipv4_bad_len',
  'ipv6_truncated', 'ipv6_ext_overrun', 'ipv6_ext_too_many', 'l4_truncated', 'ip_bad_version',
] as const;

/** RSS packet classes (which rx-flow-hash setting applies). */
export const C_NONIP = 0; // ether
export const C_TCP4 = 1;
export const C_UDP4 = 2;
export const C_SCTP4 = 3;
export const C_AHESP4 = 4;
export const C_IP4 = 5; // other IPv4 and IPv4 fragments
export const C_TCP6 = 6;
export const C_UDP6 = 7;
export const C_SCTP6 = 8;
export const C_AHESP6 = 9;
export const C_IP6 = 10;
export const N_CLASSES = 11;

const kMaxVlanTags = 4;
const kMaxIp6ExtHeaders = 8;

export class ParsedPacket {
  /** The match key (key.ts). */
  readonly key = new Uint32Array(KEY_WORDS);
  /** RSS class (C_*). */
  cls = C_NONIP;
  /** Absolute offsets into the frame bytes: IP source address, L4 header (−1 if none). */
  srcOff = -1;
  dstOff = -1;
  l4Off = -1;
  /** Bytes per IP address (4 or 16). */
  ipLen = 0;

  /** Parses bytes[off, off + len). Returns P_OK or the fallback reason. */
  parse(b: Uint8Array, off: number, len: number): number {
    const k = this.key;
    k.fill(0);
    this.cls = C_NONIP;
    this.srcOff = this.dstOff = this.l4Off = -1;
    this.ipLen = 0;
    if (off < 0 || len < 14 || off + len > b.length) return P_RUNT;
    const end = off + len;
    k[W_DMAC] = (b[off] << 8) | b[off + 1];
    k[W_DMAC + 1] = ((b[off + 2] << 24) | (b[off + 3] << 16) | (b[off + 4] << 8) | b[off + 5]) >>> 0;
    k[W_SMAC] = (b[off + 6] << 8) | b[off + 7];
    k[W_SMAC + 1] = ((b[off + 8] << 24) | (b[off + 9] << 16) | (b[off + 10] << 8) | b[off + 11]) >>> 0;
    let p = off + 12;
    let type = (b[p] << 8) | b[p + 1];
    p += 2;
    for (let tags = 0; type === 0x8100 || type === 0x88a8; tags++) {
      if (tags === kMaxVlanTags || p + 4 > end) {
        k[W_ETYPE] = type;
        return P_VLAN_TRUNC;
      }
      if (tags === 0) {
        k[W_ETYPE] = type << 16;
        k[W_TCI] = (b[p] << 8) | b[p + 1];
      }
      type = (b[p + 2] << 8) | b[p + 3];
      p += 4;
    }
    k[W_ETYPE] = (k[W_ETYPE] | type) >>> 0;
    if (type === 0x0800) return this.ipv4(b, p, end);
    if (type === 0x86dd) return this.ipv6(b, p, end);
    return P_OK;
  }

  private ipv4(b: Uint8Array, p: number, end: number): number {
    if (p + 20 > end) return P_IP4_TRUNC;
    if (b[p] >> 4 !== 4) return P_BAD_VERSION;
    const ihl = (b[p] & 0x0f) << 2;
    if (ihl < 20) return P_IP4_BAD_IHL;
    const total = (b[p + 2] << 8) | b[p + 3];
    if (total < ihl) return P_IP4_BAD_LEN;
    if (p + total > end) return P_IP4_TRUNC; // also covers an IHL past the frame
    const k = this.key;
    const proto = b[p + 9];
    k[W_TOS] = b[p + 1];
    k[W_SRC] = ((b[p + 12] << 24) | (b[p + 13] << 16) | (b[p + 14] << 8) | b[p + 15]) >>> 0;
    k[W_DST] = ((b[p + 16] << 24) | (b[p + 17] << 16) | (b[p + 18] << 8) | b[p + 19]) >>> 0;
    this.srcOff = p + 12;
    this.dstOff = p + 16;
    this.ipLen = 4;
    const fragment = (b[p + 6] & 0x3f) !== 0 || b[p + 7] !== 0; // MF or offset
    k[W_CLASS] = (4 << 8) | proto;
    if (fragment) {
      this.cls = C_IP4;
      return P_OK;
    }
    return this.l4(b, p + ihl, p + total, proto, C_TCP4);
  }

  private ipv6(b: Uint8Array, p: number, end: number): number {
    if (p + 40 > end) return P_IP6_TRUNC;
    if (b[p] >> 4 !== 6) return P_BAD_VERSION;
    const l3end = p + 40 + ((b[p + 4] << 8) | b[p + 5]);
    if (l3end > end) return P_IP6_TRUNC;
    const k = this.key;
    k[W_TOS] = ((b[p] & 0x0f) << 4) | (b[p + 1] >> 4);
    for (let i = 0; i < 4; i++) {
      const s = p + 8 + i * 4;
      const d = p + 24 + i * 4;
      k[W_SRC + i] = ((b[s] << 24) | (b[s + 1] << 16) | (b[s + 2] << 8) | b[s + 3]) >>> 0;
      k[W_DST + i] = ((b[d] << 24) | (b[d + 1] << 16) | (b[d + 2] << 8) | b[d + 3]) >>> 0;
    }
    this.srcOff = p + 8;
    this.dstOff = p + 24;
    this.ipLen = 16;
    let next = b[p + 6];
    let q = p + 40;
    let fragment = false;
    for (let n = 0; ; n++) {
      // Hop-by-hop 0, routing 43, fragment 44, destination options 60, mobility 135,
      // HIP 139, shim6 140: skip. AH (51) and ESP (50) are what ah6/esp6 rules match: stop.
      if (next !== 0 && next !== 43 && next !== 44 && next !== 60 && next !== 135 && next !== 139 && next !== 140) break;
      if (n === kMaxIp6ExtHeaders) return this.l2Only(P_IP6_EXT_TOO_MANY);
      if (q + 8 > l3end) return this.l2Only(P_IP6_EXT_OVERRUN);
      const hlen = next === 44 ? 8 : (b[q + 1] + 1) << 3;
      if (q + hlen > l3end) return this.l2Only(P_IP6_EXT_OVERRUN);
      if (next === 44 && (((b[q + 2] << 8) | b[q + 3]) !== 0)) fragment = true; // offset|M ≠ 0
      next = b[q];
      q += hlen;
    }
    k[W_CLASS] = (6 << 8) | next;
    if (fragment) {
      this.cls = C_IP6;
      return P_OK;
    }
    return this.l4(b, q, l3end, next, C_TCP6);
  }

  /** A malformed IP packet keeps only its L2 fields. */
  private l2Only(reason: number): number {
    const k = this.key;
    for (let w = W_SRC; w <= W_SPI; w++) k[w] = 0;
    k[W_CLASS] = 0;
    this.srcOff = this.dstOff = -1;
    this.ipLen = 0;
    this.cls = C_NONIP;
    return reason;
  }

  /** `base` is C_TCP4 or C_TCP6: the classes of one IP version are laid out alike. */
  private l4(b: Uint8Array, q: number, l3end: number, proto: number, base: number): number {
    const k = this.key;
    let need: number;
    let cls: number;
    switch (proto) {
      case IPPROTO_TCP: need = 20; cls = base; break;
      case IPPROTO_UDP: need = 8; cls = base + 1; break;
      case IPPROTO_SCTP: need = 12; cls = base + 2; break;
      case IPPROTO_AH: need = 12; cls = base + 3; break;
      case IPPROTO_ESP: need = 8; cls = base + 3; break;
      default: need = 0; cls = base + 4;
    }
    if (q + need > l3end) return this.l2Only(P_L4_TRUNC);
    this.cls = cls;
    if (q + 4 > l3end) return P_OK; // other protocol, under 4 bytes: no l4data
    k[W_L4] = ((b[q] << 24) | (b[q + 1] << 16) | (b[q + 2] << 8) | b[q + 3]) >>> 0;
    if (proto === IPPROTO_AH) k[W_SPI] = ((b[q + 4] << 24) | (b[q + 5] << 16) | (b[q + 6] << 8) | b[q + 7]) >>> 0;
    else if (proto === IPPROTO_ESP) k[W_SPI] = k[W_L4];
    k[W_CLASS] |= CLASS_HAS_L4;
    this.l4Off = q;
    return P_OK;
  }
}
