/**
 * Software GSO: a TCP or UDP super-frame (a guest's TSO/USO send) cut into segments as
 * Linux's skb_segment with tcp_gso_segment / __udp_gso_segment and inet/ipv6 gso_segment
 * cuts it, for a port, endpoint or program that cannot take super-frames.
 *
 * Per segment i of n (payload bytes [i·mss, min((i+1)·mss, total)) after the headers):
 *   IPv4   total length of the segment; id = first id + i (mod 2^16); header checksum
 *   IPv6   payload length of the segment
 *   TCP    seq = first seq + i·mss; CWR kept on the first segment only; FIN and PSH kept
 *          on the last only; the checksum computed in full (pseudo-header, header, payload)
 *   UDP    (UDP_L4) length of the segment; checksum computed in full (0 sent as 0xffff)
 * Everything else in the headers (options, ECE, URG, TTL, DSCP/ECN, flow label) is copied.
 * The header's own checksum fields and hdr_len are not trusted: the headers are parsed.
 *
 * API (nothing allocates; the caller owns every buffer):
 *   const plan = new GsoPlan()                                  once
 *   n = gsoPrepare(plan, src, off, len, gsoType, gsoSize)       n ≥ 1 segments, or a GSO_E_* (< 0)
 *   for i in 0..n-1:
 *     need = gsoSegmentLength(plan, i)                           bytes segment i takes
 *     gsoWriteSegment(plan, i, dst, dstOff, partial?)            writes it; returns its length
 *       partial: leave each L4 checksum as a NEEDS_CSUM seed (the pseudo-header sum, as
 *       Linux leaves CHECKSUM_PARTIAL segments for a device that offloads checksums)
 *   gsoErrorText(code)                                          what was wrong, for the log
 * src must stay unchanged until the last segment is written; dst may be in the same buffer
 * (the frame area) but must not overlap the super-frame.
 */
import { csumFinal, fold16, ipv4HeaderChecksum, sum32 } from './checksum.js';
import { moveBytes } from './move.js';
import { findOffsets, IPPROTO_TCP, IPPROTO_UDP, Offsets } from './offsets.js';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP, VIRTIO_NET_HDR_GSO_UDP_L4, type VnetHdr } from './vnet-hdr.js';

export const GSO_E_HEADERS = -1;
export const GSO_E_TYPE = -2;
export const GSO_E_SIZE = -3;
export const GSO_E_UFO = -4;

const ERRORS = [
  '',
  'super-frame headers are not Ethernet / IPv4 or IPv6 (no extension headers) / TCP or UDP, or are cut short',
  'gso_type does not match the headers (TCPV4 needs IPv4+TCP, TCPV6 IPv6+TCP, UDP_L4 UDP)',
  'gso_size is 0 (a super-frame needs a segment size of at least 1 byte)',
  'gso_type UDP (UFO, IP fragmentation) is not supported; a guest offered only HOST_TSO4/6 must not send it',
];

export function gsoErrorText(code: number): string {
  return ERRORS[-code] ?? `unknown GSO error ${code}`;
}

const TCP_FLAG_FIN = 0x01;
const TCP_FLAG_PSH = 0x08;
const TCP_FLAG_CWR = 0x80;

export class GsoPlan {
  readonly at = new Offsets();
  src: Uint8Array = new Uint8Array(0);
  off = 0;
  mss = 0;
  segments = 0;
  payloadLen = 0;
  private tcp = false;
  private seq = 0;
  private ipId = 0;
  /** Ones' complement sum of the pseudo-header's addresses and protocol (lengths added per segment). */
  private pseudo = 0;

  prepare(src: Uint8Array, off: number, len: number, gsoType: number, gsoSize: number): number {
    const o = this.at;
    if (findOffsets(o, src, off, len) !== 0) return GSO_E_HEADERS;
    const type = gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
    if (type === VIRTIO_NET_HDR_GSO_UDP) return GSO_E_UFO;
    const tcp = o.proto === IPPROTO_TCP;
    const fits =
      (type === VIRTIO_NET_HDR_GSO_TCPV4 && tcp && !o.ipv6) ||
      (type === VIRTIO_NET_HDR_GSO_TCPV6 && tcp && o.ipv6) ||
      (type === VIRTIO_NET_HDR_GSO_UDP_L4 && o.proto === IPPROTO_UDP);
    if (!fits) return GSO_E_TYPE;
    if (gsoSize < 1) return GSO_E_SIZE;
    this.src = src;
    this.off = off;
    this.tcp = tcp;
    this.mss = gsoSize;
    this.payloadLen = len - o.payload;
    this.segments = this.payloadLen === 0 ? 1 : Math.ceil(this.payloadLen / gsoSize);
    const l3 = off + o.l3;
    if (o.ipv6) {
      this.ipId = 0;
      this.pseudo = sum32(src, l3 + 8, l3 + 40, o.proto);
    } else {
      this.ipId = (src[l3 + 4] << 8) | src[l3 + 5];
      this.pseudo = sum32(src, l3 + 12, l3 + 20, o.proto);
    }
    const l4 = off + o.l4;
    if (tcp) this.seq = ((src[l4 + 4] << 24) | (src[l4 + 5] << 16) | (src[l4 + 6] << 8) | src[l4 + 7]) >>> 0;
    return this.segments;
  }

  /** csum_offset of the L4 checksum field (for a partial segment's header). */
  /**
   * After prepare(): the virtio_net_hdr each segment of a super-frame whose header is `hdr`
   * carries, written into `out`. A NEEDS_CSUM super-frame's segments stay partial (each with
   * its pseudo-header seed), as Linux leaves CHECKSUM_PARTIAL segments and whoever cannot take
   * that completes them; otherwise the flags stay as they were (DATA_VALID). Returns whether
   * they are partial (write()'s `partial`).
   */
  segmentHeader(hdr: VnetHdr, out: VnetHdr): boolean {
    const partial = (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0;
    out.clear();
    out.flags = partial ? VIRTIO_NET_HDR_F_NEEDS_CSUM : hdr.flags;
    out.csumStart = this.at.l4;
    out.csumOffset = this.csumOffset;
    return partial;
  }

  get csumOffset(): number {
    return this.tcp ? 16 : 6;
  }

  segmentLength(i: number): number {
    const from = i * this.mss;
    return this.at.payload + Math.min(this.mss, this.payloadLen - from);
  }

  write(i: number, dst: Uint8Array, dstOff: number, partial = false): number {
    const o = this.at;
    const src = this.src;
    const hdr = o.payload;
    const n = Math.min(this.mss, this.payloadLen - i * this.mss);
    const segLen = hdr + n;
    moveBytes(dst, dstOff, src, this.off, hdr);
    moveBytes(dst, dstOff + hdr, src, this.off + hdr + i * this.mss, n);
    const l3 = dstOff + o.l3;
    const l4 = dstOff + o.l4;
    const l4Len = segLen - o.l4;
    if (o.ipv6) {
      put16(dst, l3 + 4, segLen - o.l3 - 40);
    } else {
      put16(dst, l3 + 2, segLen - o.l3);
      put16(dst, l3 + 4, (this.ipId + i) & 0xffff);
      put16(dst, l3 + 10, ipv4HeaderChecksum(dst, l3));
    }
    let check: number;
    if (this.tcp) {
      const seq = (this.seq + i * this.mss) >>> 0;
      dst[l4 + 4] = seq >>> 24;
      dst[l4 + 5] = (seq >>> 16) & 0xff;
      dst[l4 + 6] = (seq >>> 8) & 0xff;
      dst[l4 + 7] = seq & 0xff;
      let flags = dst[l4 + 13];
      if (i > 0) flags &= ~TCP_FLAG_CWR;
      if (i < this.segments - 1) flags &= ~(TCP_FLAG_FIN | TCP_FLAG_PSH);
      dst[l4 + 13] = flags;
      if (partial) put16(dst, l4 + 16, fold16(this.pseudo + l4Len));
      else {
        put16(dst, l4 + 16, 0);
        check = csumFinal(sum32(dst, l4, dstOff + segLen, this.pseudo + l4Len));
        put16(dst, l4 + 16, check);
      }
    } else {
      put16(dst, l4 + 4, l4Len);
      if (partial) put16(dst, l4 + 6, fold16(this.pseudo + l4Len));
      else {
        put16(dst, l4 + 6, 0);
        check = csumFinal(sum32(dst, l4, dstOff + segLen, this.pseudo + l4Len));
        put16(dst, l4 + 6, check === 0 ? 0xffff : check);
      }
    }
    return segLen;
  }
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v & 0xff;
}

/** See the API at the top. */
export function gsoPrepare(plan: GsoPlan, src: Uint8Array, off: number, len: number, gsoType: number, gsoSize: number): number {
  return plan.prepare(src, off, len, gsoType, gsoSize);
}
export function gsoSegmentLength(plan: GsoPlan, i: number): number {
  return plan.segmentLength(i);
}
export function gsoWriteSegment(plan: GsoPlan, i: number, dst: Uint8Array, dstOff: number, partial = false): number {
  return plan.write(i, dst, dstOff, partial);
}
