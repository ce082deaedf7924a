/**
 * File descriptors: open, close, non-blocking mode, and read/write for the data path. The
 * data-path calls return a negative errno instead of throwing (an empty tap is -EAGAIN, and
 * costs no allocation); setup calls throw a NativeError.
 */
import { c } from './libc.js';
import { check } from './errors.js';
import { F_GETFL, F_SETFL, O_CLOEXEC, O_NONBLOCK } from './constants.js';

export function open(path: string, flags: number): number {
  return check(c().open(path, flags | O_CLOEXEC, 0), 'open', path);
}

export function close(fd: number): void {
  check(c().close(fd), 'close', `fd ${fd}`);
}

export function setNonBlocking(fd: number, on = true): void {
  const l = c();
  const flags = check(l.fcntl(fd, F_GETFL, 0), 'fcntl(F_GETFL)', `fd ${fd}`);
  check(l.fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK), 'fcntl(F_SETFL)', `fd ${fd}`);
}

/** Reads up to `length` bytes into memory at `address` (see addressOf): bytes read, or -errno. */
export function readAt(fd: number, address: number, length: number): number {
  const l = c();
  const n = l.read_at(fd, address, length) as number;
  return n >= 0 ? n : -l.errno();
}

/** Writes `length` bytes from memory at `address`: bytes written, or -errno. */
export function writeAt(fd: number, address: number, length: number): number {
  const l = c();
  const n = l.write_at(fd, address, length) as number;
  return n >= 0 ? n : -l.errno();
}

/** Reads into `buf` (any Uint8Array): bytes read, or -errno. */
export function read(fd: number, buf: Uint8Array): number {
  const l = c();
  const n = l.read(fd, buf, buf.length) as number;
  return n >= 0 ? n : -l.errno();
}

/** Writes all of `buf`: bytes written, or -errno. */
export function write(fd: number, buf: Uint8Array): number {
  const l = c();
  const n = l.write(fd, buf, buf.length) as number;
  return n >= 0 ? n : -l.errno();
}
