/**
 * Errors from syscalls: an Error whose `code` is the errno's name (EPERM, ENODEV…), with the
 * call that failed and what it was asked to do, as Node's own system errors read.
 */
import { getSystemErrorName } from 'node:util';
import { c } from './libc.js';

export class NativeError extends Error {
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly code: string,
    what: string,
  ) {
    super(`${syscall}${what === '' ? '' : ` (${what})`}: ${code} ${c().strerror(errno)}`);
    this.name = 'NativeError';
  }
}

export function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

/** The error for the errno of the call that just failed. */
export function lastError(syscall: string, what = ''): NativeError {
  const errno = c().errno();
  return new NativeError(syscall, errno, errnoName(errno), what);
}

/** Returns r when it is ≥ 0; throws the errno's error when it is negative (the libc convention). */
export function check(r: number, syscall: string, what = ''): number {
  if (r < 0) throw lastError(syscall, what);
  return r;
}
