/**
 * GRO: in-order TCP segments of one flow, met within one breath of one queue, coalesced
 * into a super-frame by Linux's rules (dev_gro_receive, inet/ipv6_gro_receive,
 * tcp_gro_receive, tcp_gro_complete), for a VM or socket endpoint that takes them.
 *
 * A segment joins the flow held for it when all of these hold (else the held one leaves):
 *   same flow     same L2 header (MACs, VLAN tags, type), IP addresses and protocol
 *                 (IPv6: and flow label), TCP ports
 *   same headers  IPv4: TTL, TOS, DF; id incrementing (or, with DF, fixed); IPv6: hop
 *                 limit, traffic class; TCP: ack, options, data offset, window and the
 *                 flags other than PSH/FIN; no CWR on the joining segment
 *   contiguous    its seq is the held seq + the held payload; payload 1..mss bytes (mss:
 *                 the first segment's payload)
 *   size          the IP length stays < 65536 and the frame fits the host's super-frame
 * and the held one then also leaves when the segment was shorter than mss or carries
 * PSH/FIN/RST/URG/SYN. A segment that joins nothing is held, unless its own payload is
 * empty or it carries those flags (then it leaves at once). At most `flows` flows are
 * held; a new one pushes the oldest out (MAX_GRO_SKBS). flush() ends the breath.
 *
 * Only TCP segments with a verified checksum are candidates (Linux validates in
 * tcp4_gro_receive): the caller says DATA_VALID (a port or guest verified it) or
 * NEEDS_CSUM (a local guest's partial checksum), else GRO verifies the TCP and IPv4
 * header checksums itself. Candidates also need a plain IPv4 header (no options) whose
 * length matches the frame (no padding), or IPv6 with no extension headers. A TCP packet
 * that is not a candidate pushes its flow's held segments out first, then leaves as it
 * came; Linux leaves them held in two of those cases (bad checksum, IP options) and may
 * reorder — here order is always kept. Other traffic leaves at once.
 *
 * A held flow's segments stay in their own frames while they join (up to
 * GRO_DEFER_SEGMENTS; past that the flow is copied into a super-frame buffer and appended
 * to). When it leaves, a host that gathers (a guest's RX ring its thread writes) gets the
 * pieces — the first segment whole, its headers completed, then the payloads — and copies
 * each once into the destination; the first segment's headers are then put back, so every
 * frame leaves as it came. Otherwise the pieces are copied into a super-frame buffer first
 * and that is delivered; with none free, the segments leave one by one, unchanged.
 *
 * What leaves carries a VnetHdr: a super-frame (≥ 2 segments) gets NEEDS_CSUM with
 * csum_start at TCP, csum_offset 16, the pseudo-header sum in the TCP checksum field,
 * gso_type TCPV4/TCPV6 (| ECN when CWR is set), gso_size = mss, hdr_len = headers, its
 * IP length and IPv4 header checksum fixed; a lone segment leaves unchanged with the
 * checksum state it came with (DATA_VALID once verified here).
 *
 * API (nothing allocates after construction):
 *   const gro = new Gro(host, flows = 8)
 *   gro.receive(handle, at, len, came)        a packet of host.bytes[at, at+len) with the
 *                                             VnetHdr it came with (flags, csum fields; a
 *                                             super-frame passes through); handle is the
 *                                             caller's name for its frame
 *   gro.flush()                               end of breath: everything held leaves
 *   gro.merged / .superFrames / .csumBad / .noBuffer   counts (the owner may take and zero them)
 * Held segments' frames stay GRO's until flush(): the caller must not reuse them earlier.
 * and GroHost (below), which the caller implements once.
 */
import { fold16, ipv4HeaderChecksum, ipv4HeaderSum, sum32 } from './checksum.js';
import { moveBytes } from './move.js';
import { findOffsets, IPPROTO_TCP, Offsets } from './offsets.js';
import {
  TCP_CSUM_OFFSET,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VnetHdr,
} from './vnet-hdr.js';

export interface GroHost {
  /** The one buffer all packets and super-frames live in (the frame area). */
  readonly bytes: Uint8Array;
  /** Bytes a super-frame may take (≤ 65535: descriptors carry 16-bit lengths). */
  readonly superFrameBytes: number;
  /** A super-frame buffer's handle, or -1 when none is free (the held segment then leaves alone). */
  allocSuper(): number;
  /** Where super-frame `handle`'s data starts in bytes. */
  superOffset(handle: number): number;
  /** A packet leaves GRO (its frame now belongs to the host again). */
  deliver(handle: number, at: number, len: number, hdr: VnetHdr): void;
  /** A segment's bytes were merged into a super-frame (or gathered out): its frame is free. */
  release(handle: number): void;
  /**
   * Whether deliverGather() takes a super-frame of this gso_type (TCPV4 or TCPV6, | ECN)
   * now: a destination this thread writes itself (a guest's RX ring) that takes such a
   * header, and can copy the pieces straight in. Without it, or false, the pieces are
   * first copied into a super-frame buffer and deliver()ed.
   */
  gathers?(gsoType: number): boolean;
  /**
   * A super-frame given as pieces of `bytes`, in order: (pieces[2i], pieces[2i + 1]) =
   * (at, len) for i in [first, first + n); `total` bytes in all. The first piece is the
   * first segment whole, its headers completed; the others are payloads. Copied out before
   * this returns: GRO then releases the segments' frames.
   */
  deliverGather?(pieces: Int32Array, first: number, n: number, total: number, hdr: VnetHdr): void;
}

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_PSH = 0x08;
const TCP_URG = 0x20;
const TCP_CWR = 0x80;
const FINAL_FLAGS = TCP_URG | TCP_PSH | TCP_RST | TCP_SYN | TCP_FIN;
const IP_DF = 0x40; // in the high byte of frag_off
const GRO_MAX_IP_LEN = 65536;
/**
 * Segments a held flow keeps in their own frames before they are copied into a super-frame
 * buffer (44 of 1460 bytes fill one; a flow of smaller segments is copied from here on).
 */
export const GRO_DEFER_SEGMENTS = 64;

class Held {
  used = false;
  /** This flow's slot: its deferred segments are segHandle/pieces[slot × GRO_DEFER_SEGMENTS …]. */
  slot = 0;
  /** The first segment's frame (its headers are the flow's), or the super-frame once copied. */
  handle = 0;
  at = 0;
  /** The super-frame's length: the first segment's and every joined payload. */
  len = 0;
  /** Copied into a super-frame buffer (else its segments are still in their own frames). */
  large = false;
  count = 0;
  mss = 0;
  l3 = 0;
  l4 = 0;
  payload = 0;
  ipv6 = false;
  nextSeq = 0;
  firstId = 0;
  fixedId = false;
  csumStart = 0;
  csumOffset = 0;
  /** FIN/PSH of joined segments, set on the super-frame's header at completion. */
  orFlags = 0;
  /** Breath-local arrival order: the oldest leaves first when all slots are taken. */
  age = 0;
}

export class Gro {
  merged = 0;
  superFrames = 0;
  csumBad = 0;
  noBuffer = 0;
  private readonly held: Held[];
  /** Deferred segments: their frames, their checksum state, and (at, len) of what each adds (the first: all of it). */
  private readonly segHandle: Int32Array;
  private readonly segCsum: Int32Array;
  private readonly pieces: Int32Array;
  private readonly o = new Offsets();
  /** host.bytes as a DataView: header comparisons four bytes at a time. */
  private readonly dv: DataView;
  /** The flow the last segment joined or started: the next one is most often its own. */
  private recent: Held | null = null;
  private readonly hdr = new VnetHdr();
  /** A gathered flow's first headers as they came (L2 ≤ 26, IP ≤ 40, TCP ≤ 60 bytes). */
  private readonly headers = new Uint8Array(128);
  private clock = 0;
  /** mergeable()'s decision on fixed IPv4 ids, applied by merge(). */
  private fixedNext = false;
  private holding = 0;

  constructor(
    private readonly host: GroHost,
    flows = 8,
  ) {
    this.held = Array.from({ length: flows }, (_, i) => {
      const p = new Held();
      p.slot = i;
      return p;
    });
    this.segHandle = new Int32Array(flows * GRO_DEFER_SEGMENTS);
    this.segCsum = new Int32Array(flows * GRO_DEFER_SEGMENTS);
    const b = host.bytes;
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.pieces = new Int32Array(flows * GRO_DEFER_SEGMENTS * 2);
  }

  receive(handle: number, at: number, len: number, came: VnetHdr): void {
    const b = this.host.bytes;
    const o = this.o;
    if (came.gsoType !== VIRTIO_NET_HDR_GSO_NONE || findOffsets(o, b, at, len) !== 0 || o.proto !== IPPROTO_TCP) {
      // Not a TCP segment: a super-frame of this flow would overtake held segments, so they go first.
      if (came.gsoType !== VIRTIO_NET_HDR_GSO_NONE && this.holding > 0 && findOffsets(o, b, at, len) === 0) this.flushFlow(at);
      return this.host.deliver(handle, at, len, came);
    }
    const csumFlags = came.flags & (VIRTIO_NET_HDR_F_DATA_VALID | VIRTIO_NET_HDR_F_NEEDS_CSUM);
    const p = this.holding === 0 ? null : this.lookup(at);
    if (!this.candidate(at, len, csumFlags)) {
      if (p !== null) this.complete(p);
      return this.host.deliver(handle, at, len, came);
    }
    const flags = b[at + o.l4 + 13];
    const plen = len - o.payload;
    let merged = false;
    const verified = csumFlags === 0 ? VIRTIO_NET_HDR_F_DATA_VALID : csumFlags;
    if (p !== null && this.mergeable(p, at, flags, plen)) merged = this.merge(p, handle, at, plen, flags, verified);
    let final = merged ? plen < p!.mss : plen < 1;
    if ((flags & FINAL_FLAGS) !== 0) final = true;
    if (p !== null && (!merged || final)) this.complete(p);
    if (merged) return;
    if (final) return this.alone(handle, at, len, verified, came.csumStart, came.csumOffset);
    this.hold(handle, at, len, verified, came.csumStart, came.csumOffset);
  }

  /** End of breath: every held flow leaves, oldest first. */
  flush(): void {
    while (this.holding > 0) this.complete(this.oldest());
  }

  private flushFlow(at: number): void {
    const p = this.lookup(at);
    if (p !== null) this.complete(p);
  }

  /** A segment leaves unchanged, with its checksum state (DATA_VALID once verified here). */
  private alone(handle: number, at: number, len: number, csumFlags: number, csumStart: number, csumOffset: number): void {
    const h = this.hdr;
    h.clear();
    h.flags = csumFlags;
    if ((csumFlags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
      h.csumStart = csumStart;
      h.csumOffset = csumOffset;
    }
    this.host.deliver(handle, at, len, h);
  }

  /**
   * The held flow this packet (offsets in this.o) belongs to, or null. The flow the last
   * segment went to is tried first: a sender's segments come in runs.
   */
  private lookup(at: number): Held | null {
    const r = this.recent;
    if (r !== null && r.used && this.isFlow(r, at)) return r;
    const held = this.held;
    for (let i = 0; i < held.length; i++) {
      const p = held[i];
      if (p !== r && p.used && this.isFlow(p, at)) return (this.recent = p);
    }
    return null;
  }

  /** Whether the packet at `at` (offsets in this.o) is of held flow p. */
  private isFlow(p: Held, at: number): boolean {
    const o = this.o;
    if (p.l3 !== o.l3 || p.ipv6 !== o.ipv6) return false;
    const b = this.host.bytes;
    const q = p.at;
    // Ports first, each at its own L4 offset (IPv4 options move it: such a packet still
    // finds its flow): the field that tells a host's flows apart, so a held flow that is
    // not this one is usually passed over after four bytes, not after the L2 header.
    const dv = this.dv;
    if (dv.getInt32(q + p.l4) !== dv.getInt32(at + o.l4)) return false;
    if (o.l3 === 14 && !o.ipv6) {
      // Untagged IPv4, the common case, in straight-line words: addresses, then the MACs and type.
      return (
        dv.getInt32(q + 26) === dv.getInt32(at + 26) &&
        dv.getInt32(q + 30) === dv.getInt32(at + 30) &&
        dv.getInt32(q) === dv.getInt32(at) &&
        dv.getInt32(q + 4) === dv.getInt32(at + 4) &&
        dv.getInt32(q + 8) === dv.getInt32(at + 8) &&
        dv.getUint16(q + 12) === dv.getUint16(at + 12)
      );
    }
    if (o.ipv6) {
      // Version and flow label (not the traffic class, which only flushes), addresses.
      if ((b[q + o.l3] & 0xf0) !== (b[at + o.l3] & 0xf0) || (b[q + o.l3 + 1] & 0x0f) !== (b[at + o.l3 + 1] & 0x0f)) return false;
      if (!this.same(q, at, o.l3 + 2, o.l3 + 4) || !this.same(q, at, o.l3 + 8, o.l3 + 40)) return false;
    } else if (!this.same(q, at, o.l3 + 12, o.l3 + 20)) return false;
    return this.same(q, at, 0, o.l3); // L2 header: MACs, tags, type
  }

  /** Checksums verified (or vouched for), no IP options, no padding. */
  private candidate(at: number, len: number, csumFlags: number): boolean {
    const b = this.host.bytes;
    const o = this.o;
    const l3 = at + o.l3;
    if (o.ipv6) {
      if (((b[l3 + 4] << 8) | b[l3 + 5]) !== len - o.l3 - 40) return false;
    } else {
      if (b[l3] !== 0x45 || ((b[l3 + 2] << 8) | b[l3 + 3]) !== len - o.l3) return false;
      if (ipv4HeaderSum(b, l3) !== 0xffff) {
        this.csumBad++;
        return false;
      }
    }
    if ((csumFlags & (VIRTIO_NET_HDR_F_DATA_VALID | VIRTIO_NET_HDR_F_NEEDS_CSUM)) !== 0) return true;
    const pseudo = o.ipv6 ? sum32(b, l3 + 8, l3 + 40, IPPROTO_TCP) : sum32(b, l3 + 12, l3 + 20, IPPROTO_TCP);
    if (fold16(sum32(b, at + o.l4, at + len, pseudo + len - o.l4)) === 0xffff) return true;
    this.csumBad++;
    return false;
  }

  /**
   * Headers are compared a 32-bit word at a time (big-endian, through the DataView), the
   * fields that may differ masked out: a byte at a time this was a sixth of GRO's cost.
   */
  private mergeable(p: Held, at: number, flags: number, plen: number): boolean {
    const dv = this.dv;
    const o = this.o;
    const q = p.at;
    if (o.l4 !== p.l4 || o.payload !== p.payload) return false; // IP options or data offset differ
    if ((flags & TCP_CWR) !== 0) return false;
    const l3 = o.l3;
    const l4 = o.l4;
    // TCP word 3 (data offset, flags, window) equal but for CWR/FIN/PSH; ack; options.
    if (((dv.getInt32(q + l4 + 12) ^ dv.getInt32(at + l4 + 12)) & ~((TCP_CWR | TCP_FIN | TCP_PSH) << 16)) !== 0) return false;
    if (dv.getInt32(q + l4 + 8) !== dv.getInt32(at + l4 + 8) || !this.same(q, at, l4 + 20, o.payload)) return false;
    if (o.ipv6) {
      // Word 0 is version, traffic class (bits 27–20), flow label; hop limit is byte 7.
      if (((dv.getInt32(q + l3) ^ dv.getInt32(at + l3)) & 0x0ff00000) !== 0) return false;
      if (dv.getUint8(q + l3 + 7) !== dv.getUint8(at + l3 + 7)) return false;
    } else {
      // Word 0: version and IHL, TOS (bits 23–16), length; word 2: TTL (bits 31–24), protocol, checksum.
      if (((dv.getInt32(q + l3) ^ dv.getInt32(at + l3)) & 0x00ff0000) !== 0) return false;
      if (((dv.getInt32(q + l3 + 8) ^ dv.getInt32(at + l3 + 8)) & 0xff000000) !== 0) return false;
      // Word 1: id (bits 31–16), flags and fragment offset (DF: bit 14).
      const w1 = dv.getInt32(at + l3 + 4);
      const df = w1 & (IP_DF << 8);
      if ((dv.getInt32(q + l3 + 4) & (IP_DF << 8)) !== df) return false;
      // Ids increment, or (atomic datagrams, DF) stay fixed: the second segment decides which.
      const id = w1 >>> 16;
      const fixed = df !== 0 && id === p.firstId && (p.count === 1 || p.fixedId);
      if (!fixed && (p.fixedId || id !== ((p.firstId + p.count) & 0xffff))) return false;
      this.fixedNext = fixed;
    }
    const seq = dv.getUint32(at + l4 + 4);
    if (seq !== p.nextSeq) return false;
    if (plen < 1 || plen > p.mss) return false;
    if (p.len - p.l3 + plen >= GRO_MAX_IP_LEN || p.len + plen > this.host.superFrameBytes) return false;
    return true;
  }

  /**
   * Joins the segment to the flow: noted in place while the flow is deferred (its bytes move
   * once, when the flow leaves), else appended to the super-frame. False when the flow had
   * to be copied into a super-frame buffer and none was free.
   */
  private merge(p: Held, handle: number, at: number, plen: number, flags: number, verified: number): boolean {
    if (!p.large && p.count === GRO_DEFER_SEGMENTS && !this.copyOut(p)) {
      this.noBuffer++;
      return false;
    }
    if (p.large) {
      moveBytes(this.host.bytes, p.at + p.len, this.host.bytes, at + p.payload, plen);
      this.host.release(handle);
    } else {
      const k = p.slot * GRO_DEFER_SEGMENTS + p.count;
      this.segHandle[k] = handle;
      this.segCsum[k] = verified;
      this.pieces[2 * k] = at + p.payload;
      this.pieces[2 * k + 1] = plen;
    }
    p.len += plen;
    p.count++;
    p.nextSeq = (p.nextSeq + plen) >>> 0;
    p.orFlags |= flags & (TCP_FIN | TCP_PSH);
    if (!p.ipv6) p.fixedId = this.fixedNext;
    this.merged++;
    return true;
  }

  /**
   * Copies a deferred flow into a super-frame buffer (the first segment whole, then each
   * payload) and frees its segments' frames; false when no buffer was free (nothing moved).
   */
  private copyOut(p: Held): boolean {
    const host = this.host;
    const s = host.allocSuper();
    if (s < 0) return false;
    const to = host.superOffset(s);
    const base = p.slot * GRO_DEFER_SEGMENTS;
    const pieces = this.pieces;
    let end = to;
    for (let i = 0; i < p.count; i++) {
      const k = base + i;
      moveBytes(host.bytes, end, host.bytes, pieces[2 * k], pieces[2 * k + 1]);
      end += pieces[2 * k + 1];
      host.release(this.segHandle[k]);
    }
    p.handle = s;
    p.at = to;
    p.large = true;
    return true;
  }

  private hold(handle: number, at: number, len: number, csumFlags: number, csumStart: number, csumOffset: number): void {
    let p = this.free();
    if (p === null) {
      p = this.oldest();
      this.complete(p);
    }
    const b = this.host.bytes;
    const o = this.o;
    const l4 = at + o.l4;
    p.used = true;
    p.handle = handle;
    p.at = at;
    p.len = len;
    p.large = false;
    p.count = 1;
    const k = p.slot * GRO_DEFER_SEGMENTS;
    this.segHandle[k] = handle;
    this.segCsum[k] = csumFlags;
    this.pieces[2 * k] = at;
    this.pieces[2 * k + 1] = len;
    p.mss = len - o.payload;
    p.l3 = o.l3;
    p.l4 = o.l4;
    p.payload = o.payload;
    p.ipv6 = o.ipv6;
    p.nextSeq = (((b[l4 + 4] << 24) | (b[l4 + 5] << 16) | (b[l4 + 6] << 8) | b[l4 + 7]) + p.mss) >>> 0;
    p.firstId = o.ipv6 ? 0 : (b[at + o.l3 + 4] << 8) | b[at + o.l3 + 5];
    p.fixedId = false;
    p.csumStart = csumStart;
    p.csumOffset = csumOffset;
    p.orFlags = 0;
    p.age = this.clock++;
    this.holding++;
    this.recent = p;
  }

  /** The held flow leaves: as it came when alone, else completed as tcp_gro_complete does. */
  private complete(p: Held): void {
    p.used = false;
    this.holding--;
    if (this.holding === 0) this.clock = 0;
    // Every segment's checksum state is in segCsum, the first's at base.
    const base = p.slot * GRO_DEFER_SEGMENTS;
    if (p.count === 1) return this.alone(p.handle, p.at, p.len, this.segCsum[base], p.csumStart, p.csumOffset);
    const host = this.host;
    const b = host.bytes;
    // CWR can only be on the first segment (a segment with it joins nothing).
    const gsoType = (p.ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4) | ((b[p.at + p.l4 + 13] & TCP_CWR) !== 0 ? VIRTIO_NET_HDR_GSO_ECN : 0);
    // Deferred: straight into a destination that gathers, else copied into a buffer now.
    const gather = !p.large && host.gathers !== undefined && host.gathers(gsoType);
    if (!p.large && !gather && !this.copyOut(p)) {
      // No buffer: the segments leave one by one, as they came (none was changed yet).
      this.noBuffer++;
      this.merged -= p.count - 1;
      for (let i = 0; i < p.count; i++) {
        const k = base + i;
        // A partial checksum (NEEDS_CSUM) starts at this flow's TCP header, as the first's.
        if (i === 0) this.alone(p.handle, p.at, this.pieces[2 * k + 1], this.segCsum[k], p.csumStart, p.csumOffset);
        else this.alone(this.segHandle[k], this.pieces[2 * k] - p.payload, this.pieces[2 * k + 1] + p.payload, this.segCsum[k], p.l4, TCP_CSUM_OFFSET);
      }
      return;
    }
    // The headers are completed where they are now: the first segment's frame when
    // gathered, else the super-frame copyOut() made.
    const l3 = p.at + p.l3;
    const l4 = p.at + p.l4;
    // Gathered, the first segment's own frame takes the completed headers for the copy, and
    // gets its own back after it: a frame leaves GRO as it came (a producer may send it
    // again as it is: gen's recycle).
    if (gather) for (let i = 0; i < p.payload; i++) this.headers[i] = b[p.at + i];
    const l4Len = p.len - p.l4;
    b[l4 + 13] |= p.orFlags;
    let pseudo: number;
    if (p.ipv6) {
      put16(b, l3 + 4, p.len - p.l3 - 40);
      pseudo = sum32(b, l3 + 8, l3 + 40, IPPROTO_TCP + l4Len);
    } else {
      put16(b, l3 + 2, p.len - p.l3);
      put16(b, l3 + 10, ipv4HeaderChecksum(b, l3));
      pseudo = sum32(b, l3 + 12, l3 + 20, IPPROTO_TCP + l4Len);
    }
    const h = this.hdr;
    h.clear();
    put16(b, l4 + 16, pseudo); // the partial checksum: the receiver (or completion) sums from csum_start
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.gsoType = gsoType;
    h.hdrLen = p.payload;
    h.gsoSize = p.mss;
    h.csumStart = p.l4;
    h.csumOffset = TCP_CSUM_OFFSET;
    this.superFrames++;
    if (!gather) return host.deliver(p.handle, p.at, p.len, h);
    host.deliverGather!(this.pieces, base, p.count, p.len, h);
    for (let i = 0; i < p.payload; i++) b[p.at + i] = this.headers[i];
    for (let i = 0; i < p.count; i++) host.release(this.segHandle[base + i]);
  }

  /** Whether bytes [from, to) after x and after y are equal: four at a time, then the rest. */
  private same(x: number, y: number, from: number, to: number): boolean {
    const dv = this.dv;
    let i = from;
    for (; i + 4 <= to; i += 4) if (dv.getInt32(x + i) !== dv.getInt32(y + i)) return false;
    const b = this.host.bytes;
    for (; i < to; i++) if (b[x + i] !== b[y + i]) return false;
    return true;
  }

  private free(): Held | null {
    const held = this.held;
    for (let i = 0; i < held.length; i++) if (!held[i].used) return held[i];
    return null;
  }

  private oldest(): Held {
    let best: Held | null = null;
    const held = this.held;
    for (let i = 0; i < held.length; i++) {
      const p = held[i];
      if (p.used && (best === null || p.age < best.age)) best = p;
    }
    return best!;
  }
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

