/**
 * Guest program: a one-way TCP-shaped byte stream between two VMs, for GSO/GRO tests and
 * the VM → VM TSO benchmark. Not a TCP stack: no handshake; go-back-N on a timeout; the
 * receiver takes only in-order data and acknowledges once per loop (delayed ACK).
 *
 *   role 'send': params dstMac, bytes (stream length), tso (send 64 KB super-frames with
 *     gso_type TCPV4 and a partial checksum; else 1514-byte frames with full checksums),
 *     mss (1448), window (bytes in flight, default 1 MiB), rtoMs (go back after this long
 *     without progress, default 20; 0: never, for a one-shot send to a capture)
 *   role 'recv': params bytes, verify (check every checksum: a partial one is completed
 *     first; hash the stream with SHA-256 into counters sha0…sha7, big-endian words)
 *   both: from (the stream offset the transfer starts at, default 0; both ends must agree):
 *     a test starts just below 4 GiB to cross the 32-bit sequence space's wrap in a few MB.
 *     rx_stream_bytes counts from there.
 *
 * Stream byte i is pattern[i mod 1000003], pattern from mulberry32(seed 14): the test
 * computes the same stream on its side and compares the digest.
 */
import { createHash, type Hash } from 'node:crypto';
import { defineGuest, type GuestEnv } from '../../guest/program.js';
import { macBytes } from '../../lib/net/packets.js';
import { csumFinal, fold16, sum32 } from '../../lib/net/checksum.js';
import {
  completeChecksum,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VnetHdr,
} from '../../lib/net/vnet-hdr.js';
import { NET_HDR_BYTES } from '../../queues/virtqueue.js';

export const PATTERN_BYTES = 1_000_003;
export function streamPattern(): Uint8Array {
  const p = new Uint8Array(PATTERN_BYTES);
  let a = 14;
  for (let i = 0; i < p.length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    p[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return p;
}

const HDR = 54; // Ethernet + IPv4 + TCP, no options
const ISN = 1000;
const SPORT = 40000;
const DPORT = 5201;

let pattern: Uint8Array;
/** Where the sender keeps its copies of the pattern in guest memory (reserved in start(); see fill()). */
let patternAt = 0;
/** The headers of the next data segment, built here and copied in front of its payload. */
const frame = new Uint8Array(HDR);
const ack = new Uint8Array(HDR);
const vh = new VnetHdr();
let role = 'send';
let total = 0;
/** The stream offset this transfer started at (param `from`). */
let base = 0;
let tso = false;
let mss = 1448;
let windowBytes = 1 << 20;
let verify = false;
let rtoMs = 20;
let ipId = 0;
// sender
let una = 0;
let nxt = 0;
/** The highest stream offset ever sent (an ack can point up to it after a go-back-N). */
let sentMax = 0;
let lastProgress = 0;
// receiver
let rcvNxt = 0;
let acked = -1;
let hash: Hash | null = null;
let peerMac: Uint8Array = new Uint8Array(6);
let ci: Record<string, number> = {};

function ipHeader(b: Uint8Array, srcIp: number, dstIp: number, payload: number): void {
  b[14] = 0x45;
  b[15] = 0;
  put16(b, 16, 40 + payload);
  put16(b, 18, ipId);
  put16(b, 20, 0x4000);
  b[22] = 64;
  b[23] = 6;
  put16(b, 24, 0);
  put32(b, 26, srcIp);
  put32(b, 30, dstIp);
  put16(b, 24, csumFinal(sum32(b, 14, 34)));
}

function tcpHeader(b: Uint8Array, sport: number, dport: number, seq: number, ackNo: number, flags: number): void {
  put16(b, 34, sport);
  put16(b, 36, dport);
  put32(b, 38, seq);
  put32(b, 42, ackNo);
  b[46] = 5 << 4;
  b[47] = flags;
  put16(b, 48, 65535);
  put16(b, 50, 0);
  put16(b, 52, 0);
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
function put32(b: Uint8Array, o: number, v: number): void {
  put16(b, o, v >>> 16);
  put16(b, o + 2, v & 0xffff);
}
function get32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Pseudo-header sum for a TCP segment of tcpLen bytes in frame b (addresses at 26..34). */
function pseudo(b: Uint8Array, at: number, tcpLen: number): number {
  return sum32(b, at + 26, at + 34, 6 + tcpLen);
}

/** Bytes between two copies of the pattern in guest memory (a multiple of 8). */
const PATTERN_STRIDE = Math.ceil((PATTERN_BYTES + 8) / 8) * 8;

/**
 * Stream bytes [from, from + n) into guest memory at `at`, from the sender's copies of the
 * pattern in guest memory: a copy inside one buffer (copyWithin, a memmove), as an
 * application's write copies from its own pages. V8 moves a SharedArrayBuffer's bytes
 * word by word only when source and destination are equally aligned (else byte by byte,
 * about 4× slower), so the sender keeps eight copies, copy c starting at c mod 8, and takes
 * the one aligned like the destination.
 */
function fill(mem: Uint8Array, at: number, from: number, n: number): void {
  let i = from % PATTERN_BYTES;
  let k = 0;
  while (k < n) {
    const run = Math.min(n - k, PATTERN_BYTES - i);
    const c = (at + k - i) & 7;
    const src = patternAt + c * PATTERN_STRIDE + c + i;
    mem.copyWithin(at + k, src, src + run);
    k += run;
    i = 0;
  }
}

/**
 * One segment (or super-frame) of n payload bytes, built in place in the TX buffer (the
 * application's one copy, as a socket write into an skb): headers from `frame`, payload
 * straight from the pattern.
 */
function sendOne(env: GuestEnv, n: number): boolean {
  if (HDR + n > env.nic.txRoom) return false;
  const at = env.txFrame();
  if (at < 0) return false;
  const b = env.nic.mem.bytes;
  const last = nxt + n === total;
  const segs = Math.max(1, Math.ceil(n / mss));
  ipHeader(frame, 0x0a090001, 0x0a090002, n);
  tcpHeader(frame, SPORT, DPORT, (ISN + nxt) >>> 0, 0, 0x10 | (last ? 0x08 : 0));
  for (let k = 0; k < HDR; k++) b[at + k] = frame[k];
  fill(b, at + HDR, nxt, n);
  let ok: boolean;
  if (tso && n > mss) {
    put16(b, at + 50, fold16(pseudo(b, at, 20 + n)));
    vh.clear();
    vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh.gsoType = VIRTIO_NET_HDR_GSO_TCPV4;
    vh.gsoSize = mss;
    vh.hdrLen = HDR;
    vh.csumStart = 34;
    vh.csumOffset = 16;
    ok = env.sendFrame(HDR + n, vh);
  } else {
    put16(b, at + 50, csumFinal(sum32(b, at + 34, at + HDR + n, pseudo(b, at, 20 + n))));
    ok = env.sendFrame(HDR + n, null);
  }
  if (ok) ipId = (ipId + segs) & 0xffff;
  return ok;
}

function tickSend(env: GuestEnv, now: number): number {
  if (una === total) return 0;
  if (rtoMs > 0 && nxt > una && now - lastProgress > rtoMs) {
    nxt = una; // go back N
    env.counters[ci.rto]++;
    lastProgress = now;
  }
  let n = 0;
  const chunk = tso ? 44 * mss : mss;
  while (nxt < total && nxt - una < windowBytes && n < 64) {
    const len = Math.min(chunk, total - nxt);
    if (!sendOne(env, len)) break;
    nxt += len;
    if (nxt > sentMax) sentMax = nxt;
    n++;
  }
  return n;
}

function receiveAck(env: GuestEnv, b: Uint8Array, o: number, now: number): void {
  // Stream offsets outgrow the 32-bit sequence space (4 GiB: two seconds at 16 Gbit/s), so
  // the ack is read as TCP does, modulo 2^32: how far past una it points, up to what is in flight.
  const ahead = (get32(b, o + 42) - ISN - una) >>> 0;
  if (ahead > 0 && ahead <= sentMax - una) {
    una += ahead;
    if (nxt < una) nxt = una; // acked beyond where a go-back-N restarted
    lastProgress = now;
    if (una === total) env.counters[ci.done] = 1;
  }
}

function receiveData(env: GuestEnv, b: Uint8Array, o: number, len: number): void {
  const c = env.counters;
  const h = o - NET_HDR_BYTES;
  const ipLen = (b[o + 16] << 8) | b[o + 17];
  const thl = (b[o + 46] >>> 4) << 2;
  const n = ipLen - 20 - thl;
  if (n <= 0 || 14 + ipLen > len) return;
  if (b[h + 1] !== 0) c[ci.rx_super_frames]++;
  if (verify) {
    if ((b[h] & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
      const start = b[h + 6] | (b[h + 7] << 8);
      const off = b[h + 8] | (b[h + 9] << 8);
      completeChecksum(b, o, 14 + ipLen, start, off);
    }
    if (fold16(sum32(b, o + 34, o + 14 + ipLen, pseudo(b, o, ipLen - 20))) !== 0xffff || fold16(sum32(b, o + 14, o + 34)) !== 0xffff) {
      c[ci.rx_csum_bad]++;
      return;
    }
  }
  const seq = (get32(b, o + 38) - ISN) >>> 0;
  // Modulo 2^32, as the wire carries it (rcvNxt >>> 0 is rcvNxt mod 2^32: it stays below 2^53).
  if (seq !== rcvNxt >>> 0) {
    c[ci.rx_out_of_order]++;
    return;
  }
  if (hash !== null) hash.update(b.subarray(o + 34 + thl, o + 34 + thl + n));
  rcvNxt += n;
  c[ci.rx_stream_bytes] = rcvNxt - base;
  if (rcvNxt === total) {
    c[ci.done] = 1;
    if (hash !== null) {
      const d = hash.digest();
      for (let k = 0; k < 8; k++) c[ci[`sha${k}`]] = d.readUInt32BE(4 * k);
      hash = null;
    }
  }
}

function tickRecv(env: GuestEnv): number {
  if (rcvNxt === acked) return 0;
  ipHeader(ack, 0x0a090002, 0x0a090001, 0);
  tcpHeader(ack, DPORT, SPORT, ISN, (ISN + rcvNxt) >>> 0, 0x10);
  put16(ack, 50, csumFinal(sum32(ack, 34, HDR, pseudo(ack, 0, 20))));
  if (!env.send(ack, 0, HDR)) return 0;
  ipId = (ipId + 1) & 0xffff;
  acked = rcvNxt;
  return 1;
}

export default defineGuest({
  counters: ['done', 'rto', 'rx_stream_bytes', 'rx_super_frames', 'rx_csum_bad', 'rx_out_of_order', 'sha0', 'sha1', 'sha2', 'sha3', 'sha4', 'sha5', 'sha6', 'sha7'],
  start(env) {
    const p = env.params;
    role = p.role === 'recv' ? 'recv' : 'send';
    base = typeof p.from === 'number' ? p.from : 0;
    total = base + (typeof p.bytes === 'number' ? p.bytes : 1 << 24);
    tso = p.tso === true;
    mss = typeof p.mss === 'number' ? p.mss : 1448;
    windowBytes = typeof p.window === 'number' ? p.window : 1 << 20;
    verify = p.verify === true;
    rtoMs = typeof p.rtoMs === 'number' ? p.rtoMs : 20;
    peerMac = macBytes(typeof p.dstMac === 'string' ? p.dstMac : 'ff:ff:ff:ff:ff:ff');
    ci = {};
    for (const n of ['done', 'rto', 'rx_stream_bytes', 'rx_super_frames', 'rx_csum_bad', 'rx_out_of_order', 'sha0', 'sha1', 'sha2', 'sha3', 'sha4', 'sha5', 'sha6', 'sha7']) ci[n] = env.counterIndex(n);
    pattern ??= streamPattern();
    if (role === 'send') {
      patternAt = env.nic.reserve(8 * PATTERN_STRIDE, 8);
      for (let c = 0; c < 8; c++) env.nic.mem.bytes.set(pattern, patternAt + c * PATTERN_STRIDE + c);
    }
    for (const b of [frame, ack]) {
      b.set(peerMac, 0);
      b.set(env.mac, 6);
      put16(b, 12, 0x0800);
    }
    una = nxt = sentMax = rcvNxt = base;
    acked = -1;
    lastProgress = Date.now();
    hash = role === 'recv' && verify ? createHash('sha256') : null;
  },
  receive(env, bytes, offset, length) {
    if (length < HDR || bytes[offset + 12] !== 0x08 || bytes[offset + 13] !== 0x00 || bytes[offset + 23] !== 6) return;
    const dport = (bytes[offset + 36] << 8) | bytes[offset + 37];
    if (role === 'send' && dport === SPORT) receiveAck(env, bytes, offset, Date.now());
    else if (role === 'recv' && dport === DPORT) receiveData(env, bytes, offset, length);
  },
  tick(env, now) {
    return role === 'send' ? tickSend(env, now) : tickRecv(env);
  },
});
