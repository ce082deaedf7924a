/**
 * The few packet shapes a host stack answers (ARP, ICMP echo, UDP), parsed and rewritten
 * in place with a cursor over a byte array: used by the switch's local stack and by the
 * example guests. Replies are built by turning the request around in a scratch buffer,
 * so nothing here allocates. Offsets are absolute indices into the array given.
 */
import { checksum } from './checksum.js';

export { ETH_HLEN, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ETH_P_8021Q, ETH_P_8021AD, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from './protocols.js';
import { ETH_HLEN, ETH_P_ARP, ETH_P_IP, IPPROTO_ICMP, IPPROTO_UDP } from './protocols.js';
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;

export function be16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
export function be32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

export function ipToU32(ip: string): number {
  const p = ip.split('.');
  if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) throw new Error(`invalid IPv4 address '${ip}'`);
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}
export function u32ToIp(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}
export function macBytes(mac: string): Uint8Array {
  const p = mac.split(':');
  if (p.length !== 6 || p.some((x) => !/^[0-9a-fA-F]{1,2}$/.test(x))) throw new Error(`invalid MAC address '${mac}'`);
  return Uint8Array.from(p.map((x) => parseInt(x, 16)));
}

/** Copies 6 bytes (a MAC) inside or across arrays. */
export function copyMac(dst: Uint8Array, d: number, src: Uint8Array, s: number): void {
  for (let k = 0; k < 6; k++) dst[d + k] = src[s + k];
}

/** What classify() found. */
export const PKT_OTHER = 0;
export const PKT_ARP_REQUEST = 1;
export const PKT_ARP_REPLY = 2;
export const PKT_ICMP_ECHO_REQUEST = 3;
export const PKT_ICMP_ECHO_REPLY = 4;
export const PKT_UDP = 5;
export const PKT_MALFORMED = -1;

/**
 * Classifies an Ethernet frame b[o, o+len). For IPv4 packets `l4Offset` (returned through
 * the out array at [0]) is where the L4 header starts and [1] the L4 length.
 */
export function classify(b: Uint8Array, o: number, len: number, out: Int32Array): number {
  if (len < ETH_HLEN) return PKT_MALFORMED;
  const type = be16(b, o + 12);
  if (type === ETH_P_ARP) {
    if (len < ETH_HLEN + 28) return PKT_MALFORMED;
    const a = o + ETH_HLEN;
    if (be16(b, a) !== 1 || be16(b, a + 2) !== ETH_P_IP || b[a + 4] !== 6 || b[a + 5] !== 4) return PKT_OTHER;
    const op = be16(b, a + 6);
    return op === ARP_REQUEST ? PKT_ARP_REQUEST : op === ARP_REPLY ? PKT_ARP_REPLY : PKT_OTHER;
  }
  if (type !== ETH_P_IP) return PKT_OTHER;
  if (len < ETH_HLEN + 20) return PKT_MALFORMED;
  const ip = o + ETH_HLEN;
  const ihl = (b[ip] & 0x0f) * 4;
  const total = be16(b, ip + 2);
  if (b[ip] >>> 4 !== 4 || ihl < 20 || total < ihl || ETH_HLEN + total > len) return PKT_MALFORMED;
  if ((be16(b, ip + 6) & 0x3fff) !== 0) return PKT_OTHER; // fragments: not ours to answer
  out[0] = ip + ihl;
  out[1] = total - ihl;
  const proto = b[ip + 9];
  if (proto === IPPROTO_ICMP) {
    if (total - ihl < 8) return PKT_MALFORMED;
    const t = b[ip + ihl];
    return t === ICMP_ECHO_REQUEST ? PKT_ICMP_ECHO_REQUEST : t === ICMP_ECHO_REPLY ? PKT_ICMP_ECHO_REPLY : PKT_OTHER;
  }
  if (proto === IPPROTO_UDP) {
    if (total - ihl < 8 || be16(b, ip + ihl + 4) < 8 || be16(b, ip + ihl + 4) > total - ihl) return PKT_MALFORMED;
    return PKT_UDP;
  }
  return PKT_OTHER;
}

export function ipDst(b: Uint8Array, o: number): number {
  return be32(b, o + ETH_HLEN + 16);
}
export function ipSrc(b: Uint8Array, o: number): number {
  return be32(b, o + ETH_HLEN + 12);
}
export function arpTargetIp(b: Uint8Array, o: number): number {
  return be32(b, o + ETH_HLEN + 24);
}
export function arpSenderIp(b: Uint8Array, o: number): number {
  return be32(b, o + ETH_HLEN + 14);
}

/** Writes an ARP frame (42 bytes) at d[o]: request when targetMac is null (broadcast). */
export function writeArp(d: Uint8Array, o: number, op: number, srcMac: Uint8Array, srcIp: number, dstMac: Uint8Array | null, dstIp: number): number {
  for (let k = 0; k < 6; k++) d[o + k] = dstMac === null ? 0xff : dstMac[k];
  copyMac(d, o + 6, srcMac, 0);
  put16(d, o + 12, ETH_P_ARP);
  const a = o + ETH_HLEN;
  put16(d, a, 1);
  put16(d, a + 2, ETH_P_IP);
  d[a + 4] = 6;
  d[a + 5] = 4;
  put16(d, a + 6, op);
  copyMac(d, a + 8, srcMac, 0);
  put32(d, a + 14, srcIp);
  for (let k = 0; k < 6; k++) d[a + 18 + k] = dstMac === null ? 0 : dstMac[k];
  put32(d, a + 24, dstIp);
  return ETH_HLEN + 28;
}

/**
 * Turns an ARP request at s[so] into the reply from (myMac, its target IP) at d[o].
 * Returns the reply length (42).
 */
export function arpReply(d: Uint8Array, o: number, s: Uint8Array, so: number, myMac: Uint8Array): number {
  const a = so + ETH_HLEN;
  const askerIp = be32(s, a + 14);
  const targetIp = be32(s, a + 24);
  // The asker's MAC from the ARP body (not the Ethernet source), as Linux arp_process does.
  for (let k = 0; k < 6; k++) d[o + k] = s[a + 8 + k];
  copyMac(d, o + 6, myMac, 0);
  put16(d, o + 12, ETH_P_ARP);
  const r = o + ETH_HLEN;
  put16(d, r, 1);
  put16(d, r + 2, ETH_P_IP);
  d[r + 4] = 6;
  d[r + 5] = 4;
  put16(d, r + 6, ARP_REPLY);
  copyMac(d, r + 8, myMac, 0);
  put32(d, r + 14, targetIp);
  for (let k = 0; k < 6; k++) d[r + 18 + k] = s[a + 8 + k];
  put32(d, r + 24, askerIp);
  return ETH_HLEN + 28;
}

/** Writes an IPv4 header (20 bytes, no options) at d[ip] and its checksum. */
export function writeIpv4(d: Uint8Array, ip: number, proto: number, src: number, dst: number, payloadLen: number, id: number): void {
  d[ip] = 0x45;
  d[ip + 1] = 0;
  put16(d, ip + 2, 20 + payloadLen);
  put16(d, ip + 4, id & 0xffff);
  put16(d, ip + 6, 0x4000); // DF
  d[ip + 8] = 64;
  d[ip + 9] = proto;
  put16(d, ip + 10, 0);
  put32(d, ip + 12, src);
  put32(d, ip + 16, dst);
  put16(d, ip + 10, checksum(d, ip, ip + 20));
}

/**
 * Copies the IPv4 packet at s[so] to d[o] with Ethernet and IP addresses swapped (the
 * frame's source becomes its destination) and a fresh IP header. Returns the frame
 * length; the L4 header starts at o + 34 (options are dropped).
 */
export function turnAround(d: Uint8Array, o: number, s: Uint8Array, so: number, l4: number, l4len: number, myMac: Uint8Array, id: number): number {
  copyMac(d, o, s, so + 6);
  copyMac(d, o + 6, myMac, 0);
  put16(d, o + 12, ETH_P_IP);
  const ip = o + ETH_HLEN;
  writeIpv4(d, ip, s[so + ETH_HLEN + 9], ipDst(s, so), ipSrc(s, so), l4len, id);
  for (let k = 0; k < l4len; k++) d[ip + 20 + k] = s[l4 + k];
  return ETH_HLEN + 20 + l4len;
}

/** Turns an ICMP echo request into its reply (in d, after turnAround). */
export function icmpEchoReply(d: Uint8Array, l4: number, l4len: number): void {
  d[l4] = ICMP_ECHO_REPLY;
  put16(d, l4 + 2, 0);
  put16(d, l4 + 2, checksum(d, l4, l4 + l4len));
}

/** Swaps UDP ports (after turnAround) and sets the checksum to 0 (optional in IPv4). */
export function udpSwapPorts(d: Uint8Array, l4: number): void {
  const sp = be16(d, l4);
  put16(d, l4, be16(d, l4 + 2));
  put16(d, l4 + 2, sp);
  put16(d, l4 + 6, 0);
}

/** Writes Ethernet + IPv4 + ICMP echo request or UDP datagram at d[o]; returns the frame length. */
export function writeIcmpEcho(d: Uint8Array, o: number, srcMac: Uint8Array, dstMac: Uint8Array, src: number, dst: number, ident: number, seq: number, payload: number): number {
  copyMac(d, o, dstMac, 0);
  copyMac(d, o + 6, srcMac, 0);
  put16(d, o + 12, ETH_P_IP);
  const l4 = o + ETH_HLEN + 20;
  const l4len = 8 + payload;
  d[l4] = ICMP_ECHO_REQUEST;
  d[l4 + 1] = 0;
  put16(d, l4 + 2, 0);
  put16(d, l4 + 4, ident);
  put16(d, l4 + 6, seq);
  for (let k = 0; k < payload; k++) d[l4 + 8 + k] = (seq + k) & 0xff;
  put16(d, l4 + 2, checksum(d, l4, l4 + l4len));
  writeIpv4(d, o + ETH_HLEN, IPPROTO_ICMP, src, dst, l4len, seq);
  return ETH_HLEN + 20 + l4len;
}

export function writeUdp(d: Uint8Array, o: number, srcMac: Uint8Array, dstMac: Uint8Array, src: number, dst: number, sport: number, dport: number, payload: Uint8Array): number {
  copyMac(d, o, dstMac, 0);
  copyMac(d, o + 6, srcMac, 0);
  put16(d, o + 12, ETH_P_IP);
  const l4 = o + ETH_HLEN + 20;
  put16(d, l4, sport);
  put16(d, l4 + 2, dport);
  put16(d, l4 + 4, 8 + payload.length);
  put16(d, l4 + 6, 0);
  d.set(payload, l4 + 8);
  writeIpv4(d, o + ETH_HLEN, IPPROTO_UDP, src, dst, 8 + payload.length, 1);
  return ETH_HLEN + 28 + payload.length;
}
