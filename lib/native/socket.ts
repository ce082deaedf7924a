/**
 * Sockets: create, bind, options, ioctl, interface indexes. Setup calls; each throws a
 * NativeError naming the errno (EPERM without CAP_NET_RAW, ENODEV for a missing interface…).
 */
import { c } from './libc.js';
import { check, lastError } from './errors.js';
import { SOCK_CLOEXEC } from './constants.js';

export function socket(domain: number, type: number, protocol = 0): number {
  return check(c().socket(domain, type | SOCK_CLOEXEC, protocol), 'socket', `domain ${domain}, type ${type}, protocol ${protocol}`);
}

/** A connected pair (AF_UNIX for file-descriptor passing). */
export function socketpair(domain: number, type: number, protocol = 0): [number, number] {
  const sv = new Int32Array(2);
  check(c().socketpair(domain, type | SOCK_CLOEXEC, protocol, sv), 'socketpair');
  return [sv[0]!, sv[1]!];
}

export function bind(fd: number, addr: Uint8Array, what = ''): void {
  check(c().bind(fd, addr, addr.length), 'bind', what);
}

export function connect(fd: number, addr: Uint8Array, what = ''): void {
  check(c().connect(fd, addr, addr.length), 'connect', what);
}

export function listen(fd: number, backlog = 16): void {
  check(c().listen(fd, backlog), 'listen');
}

/** Sets an option from raw bytes. */
export function setsockopt(fd: number, level: number, name: number, value: Uint8Array, what = ''): void {
  check(c().setsockopt(fd, level, name, value, value.length), 'setsockopt', what || `level ${level}, option ${name}`);
}

export function setsockoptInt(fd: number, level: number, name: number, value: number, what = ''): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, true);
  setsockopt(fd, level, name, b, what);
}

/** Reads an option into `value`; returns the length the kernel wrote. */
export function getsockopt(fd: number, level: number, name: number, value: Uint8Array, what = ''): number {
  const len = new Uint32Array([value.length]);
  check(c().getsockopt(fd, level, name, value, len), 'getsockopt', what || `level ${level}, option ${name}`);
  return len[0]!;
}

export function getsockoptInt(fd: number, level: number, name: number, what = ''): number {
  const b = new Uint8Array(4);
  getsockopt(fd, level, name, b, what);
  return new DataView(b.buffer).getInt32(0, true);
}

/** ioctl with a struct argument (read and written in place). */
export function ioctl(fd: number, request: number, arg: Uint8Array, what = ''): number {
  return check(c().ioctl(fd, request, arg), 'ioctl', what || `request 0x${request.toString(16)}`);
}

/** An interface's index; throws ENODEV naming the interface when it does not exist. */
export function ifNameToIndex(name: string): number {
  const i = c().if_nametoindex(name) as number;
  if (i === 0) throw lastError('if_nametoindex', `interface '${name}'`);
  return i;
}

/** Sends raw bytes: bytes sent, or -errno (non-throwing: for kicking a TX ring). */
export function send(fd: number, buf: Uint8Array | null, length: number, flags: number): number {
  const l = c();
  const n = l.send(fd, buf, length, flags) as number;
  return n >= 0 ? n : -l.errno();
}

/** The address a socket is bound to (struct sockaddr bytes, up to addr.length); returns its length. */
export function getsockname(fd: number, addr: Uint8Array): number {
  const len = new Uint32Array([addr.length]);
  check(c().getsockname(fd, addr, len), 'getsockname', `fd ${fd}`);
  return len[0]!;
}
