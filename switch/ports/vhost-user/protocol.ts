/**
 * The vhost-user wire format (QEMU docs/interop/vhost-user.rst), the back-end's side.
 *
 *   header (12 bytes, little-endian)      payload (size bytes)
 *   ┌ request u32 ┬ flags u32 ┬ size u32 ┐┌ u64 | vring state | vring address | memory table ┐
 *   flags: bits 0–1 version (1), bit 2 REPLY (back-end → front-end), bit 3 NEED_REPLY
 *
 * File descriptors ride as SCM_RIGHTS on the same recvmsg as the header. This file only
 * encodes and decodes; what a request does is session.ts.
 */

export const HEADER_BYTES = 12;
export const VERSION = 1;
export const FLAG_VERSION_MASK = 0x3;
export const FLAG_REPLY = 1 << 2;
export const FLAG_NEED_REPLY = 1 << 3;

/** The largest payload any request of ours carries: the memory table with 8 regions. */
export const MAX_REGIONS = 8;
export const REGION_BYTES = 32;
export const MEM_TABLE_MAX_BYTES = 8 + MAX_REGIONS * REGION_BYTES;
/** Bigger payloads are refused before reading them (QEMU's VhostUserMsg payload union is < 4 KiB). */
export const MAX_PAYLOAD = 4096;
/** Most fds one message may carry (VHOST_MEMORY_BASELINE_NREGIONS). */
export const MAX_FDS = 8;

export const enum Req {
  GET_FEATURES = 1,
  SET_FEATURES = 2,
  SET_OWNER = 3,
  RESET_OWNER = 4,
  SET_MEM_TABLE = 5,
  SET_LOG_BASE = 6,
  SET_LOG_FD = 7,
  SET_VRING_NUM = 8,
  SET_VRING_ADDR = 9,
  SET_VRING_BASE = 10,
  GET_VRING_BASE = 11,
  SET_VRING_KICK = 12,
  SET_VRING_CALL = 13,
  SET_VRING_ERR = 14,
  GET_PROTOCOL_FEATURES = 15,
  SET_PROTOCOL_FEATURES = 16,
  GET_QUEUE_NUM = 17,
  SET_VRING_ENABLE = 18,
  SEND_RARP = 19,
  NET_SET_MTU = 20,
  GET_CONFIG = 24,
  SET_CONFIG = 25,
}

const NAMES: Record<number, string> = {
  1: 'GET_FEATURES',
  2: 'SET_FEATURES',
  3: 'SET_OWNER',
  4: 'RESET_OWNER',
  5: 'SET_MEM_TABLE',
  6: 'SET_LOG_BASE',
  7: 'SET_LOG_FD',
  8: 'SET_VRING_NUM',
  9: 'SET_VRING_ADDR',
  10: 'SET_VRING_BASE',
  11: 'GET_VRING_BASE',
  12: 'SET_VRING_KICK',
  13: 'SET_VRING_CALL',
  14: 'SET_VRING_ERR',
  15: 'GET_PROTOCOL_FEATURES',
  16: 'SET_PROTOCOL_FEATURES',
  17: 'GET_QUEUE_NUM',
  18: 'SET_VRING_ENABLE',
  19: 'SEND_RARP',
  20: 'NET_SET_MTU',
  21: 'SET_BACKEND_REQ_FD',
  22: 'IOTLB_MSG',
  23: 'SET_VRING_ENDIAN',
  24: 'GET_CONFIG',
  25: 'SET_CONFIG',
  36: 'GET_MAX_MEM_SLOTS',
  37: 'ADD_MEM_REG',
  38: 'REM_MEM_REG',
};

/** VHOST_USER_REQUEST name for logs: 'SET_MEM_TABLE (5)', or 'request 99' when unknown. */
export function requestName(req: number): string {
  return NAMES[req] !== undefined ? `${NAMES[req]} (${req})` : `unknown request ${req}`;
}

/** Feature bit 30 of GET_FEATURES: the back-end speaks protocol features. */
export const VHOST_USER_F_PROTOCOL_FEATURES = 30;

/** Protocol feature bits (GET/SET_PROTOCOL_FEATURES). */
export const PROTOCOL_F_MQ = 0;
export const PROTOCOL_F_LOG_SHMFD = 1;
export const PROTOCOL_F_RARP = 2;
export const PROTOCOL_F_REPLY_ACK = 3;
export const PROTOCOL_F_MTU = 4;
export const PROTOCOL_F_BACKEND_REQ = 5;
export const PROTOCOL_F_CONFIG = 9;

/** SET_VRING_KICK/CALL/ERR payload: bits 0–7 the ring, bit 8 "no fd" (polling). */
export const VRING_IDX_MASK = 0xff;
export const VRING_NOFD_MASK = 1 << 8;

export interface Header {
  request: number;
  flags: number;
  size: number;
}

/** Decodes the 12-byte header at `buf[off]`. The caller has checked there are 12 bytes. */
export function readHeader(buf: Uint8Array, off = 0): Header {
  const dv = new DataView(buf.buffer, buf.byteOffset + off, HEADER_BYTES);
  return { request: dv.getUint32(0, true), flags: dv.getUint32(4, true), size: dv.getUint32(8, true) };
}

/** What is wrong with a header (version, reply bit, size), or null. */
export function checkHeader(h: Header): string | null {
  if ((h.flags & FLAG_VERSION_MASK) !== VERSION) return `${requestName(h.request)}: version ${h.flags & FLAG_VERSION_MASK} in flags 0x${h.flags.toString(16)}, expected ${VERSION}`;
  if ((h.flags & FLAG_REPLY) !== 0) return `${requestName(h.request)}: the REPLY flag is set on a request`;
  if (h.size > MAX_PAYLOAD) return `${requestName(h.request)}: payload size ${h.size} is above the ${MAX_PAYLOAD}-byte maximum`;
  return null;
}

/** A whole message: header, payload and the fds that came with it. */
export interface Message {
  request: number;
  flags: number;
  payload: Uint8Array;
  fds: number[];
}

export function needsReply(m: Message): boolean {
  return (m.flags & FLAG_NEED_REPLY) !== 0;
}

/** A reply to `request`: header with REPLY and version, then the payload. */
export function encodeReply(request: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, request, true);
  dv.setUint32(4, VERSION | FLAG_REPLY, true);
  dv.setUint32(8, payload.length, true);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** A request (what a front-end sends: the tests' client). */
export function encodeRequest(request: number, payload: Uint8Array, flags = VERSION): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, request, true);
  dv.setUint32(4, flags, true);
  dv.setUint32(8, payload.length, true);
  out.set(payload, HEADER_BYTES);
  return out;
}

// ── payloads ──────────────────────────────────────────────────────────────────

export function u64Payload(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

function dv(p: Uint8Array): DataView {
  return new DataView(p.buffer, p.byteOffset, p.byteLength);
}

/** The u64 payload, or null when the payload is not 8 bytes. */
export function readU64(p: Uint8Array): bigint | null {
  return p.length === 8 ? dv(p).getBigUint64(0, true) : null;
}

export interface VringState {
  index: number;
  num: number;
}
export function readVringState(p: Uint8Array): VringState | null {
  if (p.length !== 8) return null;
  const v = dv(p);
  return { index: v.getUint32(0, true), num: v.getUint32(4, true) };
}
export function vringStatePayload(s: VringState): Uint8Array {
  const b = new Uint8Array(8);
  const v = dv(b);
  v.setUint32(0, s.index, true);
  v.setUint32(4, s.num, true);
  return b;
}

/** SET_VRING_ADDR: front-end virtual addresses of the three areas (note the order: desc, used, avail). */
export interface VringAddr {
  index: number;
  flags: number;
  desc: bigint;
  used: bigint;
  avail: bigint;
  log: bigint;
}
export const VRING_ADDR_BYTES = 40;
export const VRING_F_LOG = 1;
export function readVringAddr(p: Uint8Array): VringAddr | null {
  if (p.length !== VRING_ADDR_BYTES) return null;
  const v = dv(p);
  return { index: v.getUint32(0, true), flags: v.getUint32(4, true), desc: v.getBigUint64(8, true), used: v.getBigUint64(16, true), avail: v.getBigUint64(24, true), log: v.getBigUint64(32, true) };
}
export function vringAddrPayload(a: VringAddr): Uint8Array {
  const b = new Uint8Array(VRING_ADDR_BYTES);
  const v = dv(b);
  v.setUint32(0, a.index, true);
  v.setUint32(4, a.flags, true);
  v.setBigUint64(8, a.desc, true);
  v.setBigUint64(16, a.used, true);
  v.setBigUint64(24, a.avail, true);
  v.setBigUint64(32, a.log, true);
  return b;
}

/** One SET_MEM_TABLE region: guest-physical address, size, the front-end's virtual address, offset in the fd. */
export interface Region {
  guestPhys: bigint;
  size: bigint;
  userAddr: bigint;
  mmapOffset: bigint;
}
/** The regions, or what is wrong with the payload's shape. */
export function readMemTable(p: Uint8Array): Region[] | string {
  if (p.length < 8) return `payload of ${p.length} bytes is shorter than the 8-byte table header`;
  const v = dv(p);
  const n = v.getUint32(0, true);
  if (n === 0) return 'the table has no regions';
  if (n > MAX_REGIONS) return `${n} regions, at most ${MAX_REGIONS}`;
  // QEMU sends the header and the regions in use; the whole fixed array is accepted too.
  if (p.length !== 8 + n * REGION_BYTES && p.length !== MEM_TABLE_MAX_BYTES) return `${n} regions need ${8 + n * REGION_BYTES} bytes, the payload has ${p.length}`;
  const out: Region[] = [];
  for (let i = 0; i < n; i++) {
    const o = 8 + i * REGION_BYTES;
    out.push({ guestPhys: v.getBigUint64(o, true), size: v.getBigUint64(o + 8, true), userAddr: v.getBigUint64(o + 16, true), mmapOffset: v.getBigUint64(o + 24, true) });
  }
  return out;
}
export function memTablePayload(regions: Region[]): Uint8Array {
  const b = new Uint8Array(8 + regions.length * REGION_BYTES);
  const v = dv(b);
  v.setUint32(0, regions.length, true);
  regions.forEach((r, i) => {
    const o = 8 + i * REGION_BYTES;
    v.setBigUint64(o, r.guestPhys, true);
    v.setBigUint64(o + 8, r.size, true);
    v.setBigUint64(o + 16, r.userAddr, true);
    v.setBigUint64(o + 24, r.mmapOffset, true);
  });
  return b;
}
