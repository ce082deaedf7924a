/**
 * CPU time of the calling thread (clock_gettime(CLOCK_THREAD_CPUTIME_ID)): what a thread
 * itself spent, excluding the time another process or thread ran on its core meanwhile —
 * for benchmarks on a shared machine, where wall-clock time around a call that wakes
 * another process (an eventfd write to QEMU) includes that process's run.
 */
import { c } from './libc.js';
import { lastError } from './errors.js';
import { addressOf } from './memory.js';

const CLOCK_THREAD_CPUTIME_ID = 3;
type Fn = (...args: any[]) => any;
let gettime: Fn | null = null;
// A struct timespec { i64 tv_sec; i64 tv_nsec } per thread, in shared memory so its
// address is stable and koffi passes it without copying.
const ts = new Uint8Array(new SharedArrayBuffer(16));
const tv = new DataView(ts.buffer);
let at = 0;

/** This thread's CPU time in nanoseconds. */
export function threadCpuNs(): number {
  if (gettime === null) {
    gettime = c().koffi.load('libc.so.6').func('int clock_gettime(int clk, uintptr_t ts)') as Fn;
    at = addressOf(ts);
  }
  if ((gettime(CLOCK_THREAD_CPUTIME_ID, at) as number) !== 0) throw lastError('clock_gettime', 'CLOCK_THREAD_CPUTIME_ID');
  return tv.getUint32(0, true) * 1e9 + tv.getUint32(4, true) * 2 ** 32 * 1e9 + tv.getUint32(8, true);
}
