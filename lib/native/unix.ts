/**
 * AF_UNIX stream sockets that carry file descriptors (SCM_RIGHTS): a listener, accept,
 * connect, and recvmsg/sendmsg returning or taking the bytes and the fds together — how
 * vhost-user hands over guest memory and eventfds.
 */
import { c } from './libc.js';
import { check, lastError } from './errors.js';
import { addressOf, putAddress } from './memory.js';
import { AF_UNIX, EAGAIN, MSG_CTRUNC, SCM_RIGHTS, SOCK_NONBLOCK, SOCK_STREAM, SOL_SOCKET, SOCK_CLOEXEC } from './constants.js';
import { bind, connect, listen, socket } from './socket.js';

const MSG_CMSG_CLOEXEC = 0x40000000;
const MSGHDR = 56;
const CMSG_HDR = 16;
/** The most descriptors one message carries (vhost-user sends at most 8 regions). */
export const MAX_FDS = 16;

function sockaddrUn(path: string): Uint8Array {
  const p = Buffer.from(path);
  if (p.length >= 108) throw new Error(`unix socket path too long (${p.length} bytes, at most 107): ${path}`);
  const a = new Uint8Array(2 + p.length + 1);
  a[0] = AF_UNIX; // sa_family (little-endian u16)
  a.set(p, 2);
  return a;
}

/** Binds and listens on `path` (the file must not exist). */
export function listenUnix(path: string, backlog = 16, nonBlocking = true): number {
  const fd = socket(AF_UNIX, SOCK_STREAM | (nonBlocking ? SOCK_NONBLOCK : 0));
  try {
    bind(fd, sockaddrUn(path), path);
    listen(fd, backlog);
  } catch (e) {
    c().close(fd);
    throw e;
  }
  return fd;
}

/** Accepts one connection: its fd, or -1 when none is waiting (a non-blocking listener). */
export function accept(fd: number, nonBlocking = true): number {
  const l = c();
  const r = l.accept4(fd, null, null, SOCK_CLOEXEC | (nonBlocking ? SOCK_NONBLOCK : 0)) as number;
  if (r >= 0) return r;
  if (l.errno() === EAGAIN) return -1;
  throw lastError('accept4', `listener fd ${fd}`);
}

export function connectUnix(path: string, nonBlocking = false): number {
  const fd = socket(AF_UNIX, SOCK_STREAM | (nonBlocking ? SOCK_NONBLOCK : 0));
  try {
    connect(fd, sockaddrUn(path), path);
  } catch (e) {
    c().close(fd);
    throw e;
  }
  return fd;
}

export interface Received {
  /** Bytes read into the buffer; 0 when the peer closed; -1 when nothing waits (EAGAIN). */
  bytes: number;
  /** Descriptors that came with the bytes (now open in this process; the caller closes them). */
  fds: number[];
}

// One message header and one control buffer per thread, in shared memory so their
// addresses are stable while the kernel writes them.
const scratch = new Uint8Array(new SharedArrayBuffer(MSGHDR + 16 + CMSG_HDR + MAX_FDS * 4));
const sv = new DataView(scratch.buffer);
const IOV = MSGHDR;
const CTRL = MSGHDR + 16;
const CTRL_SPACE = CMSG_HDR + MAX_FDS * 4;

function header(data: ArrayBufferView, length: number, controlLength: number): number {
  scratch.fill(0);
  const base = addressOf(scratch);
  putAddress(sv, 16, base + IOV); // msg_iov
  sv.setUint32(24, 1, true); // msg_iovlen
  if (controlLength > 0) {
    putAddress(sv, 32, base + CTRL); // msg_control
    sv.setUint32(40, controlLength, true); // msg_controllen
  }
  putAddress(sv, IOV, addressOf(data)); // iov_base
  sv.setUint32(IOV + 8, length, true); // iov_len
  return base;
}

/** Reads up to buf.length bytes and any SCM_RIGHTS descriptors with them. */
export function recvWithFds(fd: number, buf: Uint8Array, flags = 0): Received {
  // The kernel writes into buf through its address: buf must not move (a SharedArrayBuffer
  // or a large ArrayBuffer); copy from a private SAB when the caller's buffer is small.
  const staging = buf.buffer instanceof SharedArrayBuffer ? buf : new Uint8Array(new SharedArrayBuffer(Math.max(buf.length, 1)));
  const l = c();
  const base = header(staging, buf.length, CTRL_SPACE);
  const n = l.recvmsg_at(fd, base, flags | MSG_CMSG_CLOEXEC) as number;
  if (n < 0) {
    if (l.errno() === EAGAIN) return { bytes: -1, fds: [] };
    throw lastError('recvmsg', `fd ${fd}`);
  }
  if (staging !== buf) buf.set(staging.subarray(0, n));
  const fds: number[] = [];
  const controlLength = sv.getUint32(40, true);
  let off = 0;
  while (off + CMSG_HDR <= controlLength) {
    const len = sv.getUint32(CTRL + off, true);
    if (len < CMSG_HDR) break;
    if (sv.getInt32(CTRL + off + 8, true) === SOL_SOCKET && sv.getInt32(CTRL + off + 12, true) === SCM_RIGHTS) {
      for (let p = CMSG_HDR; p + 4 <= len; p += 4) fds.push(sv.getInt32(CTRL + off + p, true));
    }
    off += (len + 7) & ~7;
  }
  if ((sv.getInt32(48, true) & MSG_CTRUNC) !== 0) {
    for (const f of fds) l.close(f);
    throw new Error(`recvmsg (fd ${fd}): more than ${MAX_FDS} descriptors in one message (control data truncated)`);
  }
  return { bytes: n, fds };
}

/** Sends `data` with `fds` attached (SCM_RIGHTS); returns the bytes sent. */
export function sendWithFds(fd: number, data: Uint8Array, fds: readonly number[] = [], flags = 0): number {
  if (fds.length > MAX_FDS) throw new Error(`sendmsg: ${fds.length} descriptors, at most ${MAX_FDS} per message`);
  const staging = new Uint8Array(new SharedArrayBuffer(Math.max(data.length, 1)));
  staging.set(data);
  const base = header(staging, data.length, fds.length > 0 ? CMSG_HDR + fds.length * 4 : 0);
  if (fds.length > 0) {
    sv.setUint32(CTRL, CMSG_HDR + fds.length * 4, true); // cmsg_len
    sv.setInt32(CTRL + 8, SOL_SOCKET, true);
    sv.setInt32(CTRL + 12, SCM_RIGHTS, true);
    fds.forEach((f, i) => sv.setInt32(CTRL + CMSG_HDR + i * 4, f, true));
    sv.setUint32(40, (CMSG_HDR + fds.length * 4 + 7) & ~7, true);
  }
  return check(c().sendmsg_at(fd, base, flags) as number, 'sendmsg', `fd ${fd}`);
}
