/**
 * Addresses and mappings. A mapping is a plain ArrayBuffer over memory the kernel (a packet
 * ring) or another process (a memfd, guest RAM) shares: every thread that needs one maps the
 * fd itself (fds are process-wide; views are per thread). Read such memory with Atomics
 * where another party writes it concurrently, never with plain reads a loop may hoist.
 */
import { c } from './libc.js';
import { check, lastError } from './errors.js';
import { MAP_SHARED, MFD_CLOEXEC, PROT_READ, PROT_WRITE } from './constants.js';

const TWO32 = 2 ** 32;

/**
 * The address of byte 0 of `bytes` (a view over a SharedArrayBuffer or a large
 * ArrayBuffer: their memory never moves). Call once per buffer, off the hot path.
 */
export function addressOf(bytes: ArrayBufferView): number {
  return Number(c().koffi.address(bytes));
}

/** Writes a 64-bit address into a struct at `offset` (little-endian), without a BigInt. */
export function putAddress(view: DataView, offset: number, address: number): void {
  view.setUint32(offset, address % TWO32, true);
  view.setUint32(offset + 4, Math.floor(address / TWO32), true);
}

export interface Mapping {
  /** The mapped bytes, usable in this thread only (map again in another thread). */
  readonly buffer: ArrayBuffer;
  readonly address: number;
  readonly length: number;
}

/** Maps `length` bytes of `fd` at `offset`, shared, readable and writable (extra: MAP_* flags). */
export function mmap(fd: number, length: number, offset = 0, extraFlags = 0): Mapping {
  const l = c();
  const ptr = l.mmap(null, length, PROT_READ | PROT_WRITE, MAP_SHARED | extraFlags, fd, offset);
  const address = ptr === null ? -1 : Number(l.koffi.address(ptr));
  if (address === -1 || address === 2 ** 64 - 1) throw lastError('mmap', `fd ${fd}, ${length} bytes at ${offset}`);
  return { buffer: l.koffi.view(ptr, length), address, length };
}

/** Unmaps a mapping; its buffer must not be touched afterwards (the pages are gone). */
export function munmap(m: Mapping): void {
  const l = c();
  check(l.munmap_at(m.address, m.length), 'munmap', `${m.length} bytes`);
}

/** An anonymous file in memory (shared with another process by passing its fd). */
export function memfdCreate(name: string, size: number, flags = MFD_CLOEXEC): number {
  const l = c();
  const fd = check(l.memfd_create(name, flags), 'memfd_create', name);
  if (l.ftruncate(fd, size) < 0) {
    const e = lastError('ftruncate', `memfd ${name} to ${size} bytes`);
    l.close(fd);
    throw e;
  }
  return fd;
}
