/** eventfd: a kernel counter two parties (a VM's kick and call) signal each other through. */
import { c } from './libc.js';
import { check, lastError } from './errors.js';
import { EAGAIN, EFD_CLOEXEC, EFD_NONBLOCK } from './constants.js';
import { addressOf } from './memory.js';

// One 8-byte counter buffer per thread, in shared memory (stable address for the kernel).
const counter = new BigUint64Array(new SharedArrayBuffer(8));
const counterBytes = new Uint8Array(counter.buffer);
let counterAddress = -1;

function addr(): number {
  if (counterAddress < 0) counterAddress = addressOf(counterBytes);
  return counterAddress;
}

export function eventfdCreate(initial = 0, flags = EFD_NONBLOCK): number {
  return check(c().eventfd(initial, flags | EFD_CLOEXEC), 'eventfd');
}

/** Reads and resets the counter (one unit with EFD_SEMAPHORE): the value, or 0 when it is zero (non-blocking). */
export function eventfdRead(fd: number): bigint {
  const l = c();
  const n = l.read_at(fd, addr(), 8) as number;
  if (n < 0) {
    if (l.errno() === EAGAIN) return 0n;
    throw lastError('read', `eventfd ${fd}`);
  }
  return counter[0]!;
}

/** Adds `value` to the counter (wakes a reader). */
export function eventfdWrite(fd: number, value: bigint | number = 1): void {
  counter[0] = BigInt(value);
  const l = c();
  if ((l.write_at(fd, addr(), 8) as number) < 0) throw lastError('write', `eventfd ${fd}`);
}
