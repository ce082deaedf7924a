/**
 * A reserved span of address space with files mapped at fixed places inside it: how a
 * vhost-user back-end lays a guest's RAM regions out at their guest-physical addresses, so
 * that one ArrayBuffer covers them all and a guest-physical address is an offset in it.
 * The gaps stay PROT_NONE (never touched: the caller checks every address against the
 * regions). Syscalls only: mmap with MAP_FIXED inside a PROT_NONE reservation, munmap.
 */
import { c, type Libc } from './libc.js';
import { lastError } from './errors.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from './constants.js';

const PROT_NONE = 0;
const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_NORESERVE = 0x4000;
const MAP_FAILED = 2 ** 64 - 1;

type Fn = (...args: any[]) => any;
interface SpanFns {
  libc: Libc;
  /** mmap with a numeric address (MAP_FIXED): libc.ts declares addr as a pointer. */
  mmapAt: Fn;
}
let fns: SpanFns | null = null;
function f(): SpanFns {
  if (fns !== null) return fns;
  const libc = c();
  const lib = libc.koffi.load('libc.so.6');
  fns = { libc, mmapAt: lib.func('void *mmap(uintptr_t addr, size_t length, int prot, int flags, int fd, int64_t offset)') as Fn };
  return fns;
}

export interface Span {
  /** The whole span, usable in this thread only. */
  readonly buffer: ArrayBuffer;
  readonly address: number;
  readonly length: number;
}

/** Reserves `length` bytes of address space (no memory behind it yet). */
export function reserveSpan(length: number): Span {
  const { libc, mmapAt } = f();
  const ptr = mmapAt(0, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  const address = ptr === null ? MAP_FAILED : Number(libc.koffi.address(ptr));
  if (address === MAP_FAILED) throw lastError('mmap', `reserve ${length} bytes`);
  return { buffer: libc.koffi.view(ptr, length), address, length };
}

/** Maps `length` bytes of `fd` from `fdOffset`, shared and read-write, at `at` bytes into the span. */
export function mapIntoSpan(span: Span, at: number, fd: number, length: number, fdOffset: number): void {
  if (at < 0 || length <= 0 || at + length > span.length) throw new RangeError(`mapping [${at}, ${at + length}) is not inside the ${span.length}-byte span`);
  const { libc, mmapAt } = f();
  const ptr = mmapAt(span.address + at, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, fdOffset);
  const address = ptr === null ? MAP_FAILED : Number(libc.koffi.address(ptr));
  if (address !== span.address + at) throw lastError('mmap', `fd ${fd}, ${length} bytes at offset ${fdOffset} into the span at ${at}`);
}

/** Unmaps the whole span and everything mapped into it; its buffer must not be touched afterwards. */
export function releaseSpan(span: Span): void {
  const { libc } = f();
  if ((libc.munmap_at(span.address, span.length) as number) < 0) throw lastError('munmap', `span of ${span.length} bytes`);
}
