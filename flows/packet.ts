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
import { K, Proto } from './key.js';
import { ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6 } from '../lib/net/protocols.js';

/** Why a packet fell back; 0 = parsed. Index into PARSE_REASONS. */
export const enum R {
  Ok = 0, Runt, VlanTrunc, Ip4Trunc, Ip4BadIhl, Ip4BadLen, Ip6Trunc, Ip6ExtOverrun, Ip6ExtTooMany, L4Trunc, BadVersion,
}
export const P_OK = R.Ok;
export const P_RUNT = R.Runt;
export const P_VLAN_TRUNC = R.VlanTrunc;
export const P_IP4_TRUNC = R.Ip4Trunc;
export const P_IP4_BAD_IHL = R.Ip4BadIhl;
export const P_IP4_BAD_LEN = R.Ip4BadLen;
export const P_IP6_TRUNC = R.Ip6Trunc;
export const P_IP6_EXT_OVERRUN = R.Ip6ExtOverrun;
export const P_IP6_EXT_TOO_MANY = R.Ip6ExtTooMany;
export const P_L4_TRUNC = R.L4Trunc;
export const P_BAD_VERSION = R.BadVersion;

/** Counter suffixes for the reasons (`rx_steer_<name>`). */
export const PARSE_REASONS = [
  'ok', 'runt', 'vlan_truncated', 'ipv4_truncated', 'ipv4_bad_ihl', 'ipv4_bad_len',
  'ipv6_truncated', 'ipv6_ext_overrun', 'ipv6_ext_too_many', 'l4_truncated', 'ip_bad_version',
] as const;

/** RSS packet classes (which rx-flow-hash setting applies); IP4/IP6: other protocols and fragments. */
export const enum C { NonIp = 0, Tcp4, Udp4, Sctp4, AhEsp4, Ip4, Tcp6, Udp6, Sctp6, AhEsp6, Ip6, Count }
export const C_NONIP = C.NonIp; // ether
export const C_TCP4 = C.Tcp4;
export const C_UDP4 = C.Udp4;
export const C_SCTP4 = C.Sctp4;
export const C_AHESP4 = C.AhEsp4;
export const C_IP4 = C.Ip4;
export const C_TCP6 = C.Tcp6;
export const C_UDP6 = C.Udp6;
export const C_SCTP6 = C.Sctp6;
export const C_AHESP6 = C.AhEsp6;
export const C_IP6 = C.Ip6;
export const N_CLASSES = C.Count;

const enum Limits { VlanTags = 4, Ip6ExtHeaders = 8 }

export class ParsedPacket {
  /** The match key (key.ts). */
  readonly key = new Uint32Array(K.Words);
  /** RSS class (C_*). */
  cls = C.NonIp;
  /** Absolute offsets into the frame bytes: IP source address, L4 header (−1 if none). */
  srcOff = -1;
  dstOff = -1;
  l4Off = -1;
  /** Bytes per IP address (4 or 16). */
  ipLen = 0;
  /** The key's upper address words (IPv6) may be non-zero. */
  private wide = false;
  /**
   * A DataView of the whole buffer under the last frame's bytes (one load per 32-bit
   * field), kept per buffer, not per view: ports hand frames as views of one shared area.
   * `dvBase` is the view's byteOffset inside that buffer.
   */
  private dv: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private dvBuf: ArrayBufferLike | null = null;
  private dvOf: Uint8Array | null = null;
  private dvBase = 0;

  /** Parses bytes[off, off + len). Returns R.Ok or the fallback reason. */
  parse(b: Uint8Array, off: number, len: number): number {
    const k = this.key;
    // Clear what this packet may not write (the MAC words and EtherType are always
    // written, user-def never). Unrolled stores: a loop here costs a quarter of the parse.
    // The upper address words only hold something after an IPv6 packet.
    k[K.Class] = 0;
    k[K.Src] = 0;
    k[K.Dst] = 0;
    k[K.Tos] = 0;
    k[K.L4] = 0;
    k[K.Spi] = 0;
    k[K.Tci] = 0;
    if (this.wide) {
      k[K.Src + 1] = k[K.Src + 2] = k[K.Src + 3] = 0;
      k[K.Dst + 1] = k[K.Dst + 2] = k[K.Dst + 3] = 0;
      this.wide = false;
    }
    this.cls = C.NonIp;
    this.srcOff = this.dstOff = this.l4Off = -1;
    this.ipLen = 0;
    if (b !== this.dvOf) this.viewOf(b);
    if (off < 0 || len < 14 || off + len > b.length) {
      k[K.Etype] = k[K.Dmac] = k[K.Dmac + 1] = k[K.Smac] = k[K.Smac + 1] = 0;
      return R.Runt;
    }
    const end = off + len;
    k[K.Dmac] = (b[off] << 8) | b[off + 1];
    const dv = this.dv;
    k[K.Dmac + 1] = dv.getUint32(this.dvBase + off + 2);
    k[K.Smac] = (b[off + 6] << 8) | b[off + 7];
    k[K.Smac + 1] = dv.getUint32(this.dvBase + off + 8);
    let p = off + 12;
    let type = (b[p] << 8) | b[p + 1];
    p += 2;
    k[K.Etype] = 0;
    for (let tags = 0; type === ETH_P_8021Q || type === ETH_P_8021AD; tags++) {
      if (tags === Limits.VlanTags || p + 4 > end) {
        k[K.Etype] = type & 0xffff;
        return R.VlanTrunc;
      }
      if (tags === 0) {
        k[K.Etype] = type << 16;
        k[K.Tci] = (b[p] << 8) | b[p + 1];
      }
      type = (b[p + 2] << 8) | b[p + 3];
      p += 4;
    }
    k[K.Etype] = (k[K.Etype] | type) >>> 0;
    if (type === ETH_P_IP) return this.ipv4(b, p, end);
    if (type === ETH_P_IPV6) return this.ipv6(b, p, end);
    return R.Ok;
  }

  /** Another frame view: same buffer → new base only; a new buffer → a new DataView (rare). */
  private viewOf(b: Uint8Array): void {
    const buf = b.buffer;
    if (buf !== this.dvBuf) {
      this.dv = new DataView(buf);
      this.dvBuf = buf;
    }
    this.dvBase = b.byteOffset;
    this.dvOf = b;
  }

  private ipv4(b: Uint8Array, p: number, end: number): number {
    if (p + 20 > end) return R.Ip4Trunc;
    if (b[p] >> 4 !== 4) return R.BadVersion;
    const ihl = (b[p] & 0x0f) << 2;
    if (ihl < 20) return R.Ip4BadIhl;
    const total = (b[p + 2] << 8) | b[p + 3];
    if (total < ihl) return R.Ip4BadLen;
    if (p + total > end) return R.Ip4Trunc; // also covers an IHL past the frame
    const k = this.key;
    const proto = b[p + 9];
    k[K.Tos] = b[p + 1];
    k[K.Src] = this.dv.getUint32(this.dvBase + p + 12);
    k[K.Dst] = this.dv.getUint32(this.dvBase + p + 16);
    this.srcOff = p + 12;
    this.dstOff = p + 16;
    this.ipLen = 4;
    const fragment = (b[p + 6] & 0x3f) !== 0 || b[p + 7] !== 0; // MF or offset
    k[K.Class] = (4 << 8) | proto;
    if (fragment) {
      this.cls = C.Ip4;
      return R.Ok;
    }
    return this.l4(b, p + ihl, p + total, proto, C.Tcp4);
  }

  private ipv6(b: Uint8Array, p: number, end: number): number {
    if (p + 40 > end) return R.Ip6Trunc;
    if (b[p] >> 4 !== 6) return R.BadVersion;
    const l3end = p + 40 + ((b[p + 4] << 8) | b[p + 5]);
    if (l3end > end) return R.Ip6Trunc;
    const k = this.key;
    k[K.Tos] = ((b[p] & 0x0f) << 4) | (b[p + 1] >> 4);
    const dv = this.dv;
    const at = this.dvBase + p;
    this.wide = true;
    for (let i = 0; i < 4; i++) {
      k[K.Src + i] = dv.getUint32(at + 8 + i * 4);
      k[K.Dst + i] = dv.getUint32(at + 24 + i * 4);
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
      if (n === Limits.Ip6ExtHeaders) return this.l2Only(R.Ip6ExtTooMany);
      if (q + 8 > l3end) return this.l2Only(R.Ip6ExtOverrun);
      const hlen = next === 44 ? 8 : (b[q + 1] + 1) << 3;
      if (q + hlen > l3end) return this.l2Only(R.Ip6ExtOverrun);
      if (next === 44 && (((b[q + 2] << 8) | b[q + 3]) !== 0)) fragment = true; // offset|M ≠ 0
      next = b[q];
      q += hlen;
    }
    k[K.Class] = (6 << 8) | next;
    if (fragment) {
      this.cls = C.Ip6;
      return R.Ok;
    }
    return this.l4(b, q, l3end, next, C.Tcp6);
  }

  /** A malformed IP packet keeps only its L2 fields. */
  private l2Only(reason: number): number {
    const k = this.key;
    for (let w = K.Src; w <= K.Spi; w++) k[w] = 0;
    k[K.Class] = 0;
    this.srcOff = this.dstOff = -1;
    this.ipLen = 0;
    this.cls = C.NonIp;
    return reason;
  }

  /** `base` is C.Tcp4 or C.Tcp6: the classes of one IP version are laid out alike. */
  private l4(b: Uint8Array, q: number, l3end: number, proto: number, base: number): number {
    const k = this.key;
    let need: number;
    let cls: number;
    switch (proto) {
      case Proto.TCP: need = 20; cls = base; break;
      case Proto.UDP: need = 8; cls = base + 1; break;
      case Proto.SCTP: need = 12; cls = base + 2; break;
      case Proto.AH: need = 12; cls = base + 3; break;
      case Proto.ESP: need = 8; cls = base + 3; break;
      default: need = 0; cls = base + 4;
    }
    if (q + need > l3end) return this.l2Only(R.L4Trunc);
    this.cls = cls;
    if (q + 4 > l3end) return R.Ok; // other protocol, under 4 bytes: no l4data
    k[K.L4] = this.dv.getUint32(this.dvBase + q);
    if (proto === Proto.AH) k[K.Spi] = this.dv.getUint32(this.dvBase + q + 4);
    else if (proto === Proto.ESP) k[K.Spi] = k[K.L4];
    k[K.Class] |= K.HasL4;
    this.l4Off = q;
    return R.Ok;
  }
}
