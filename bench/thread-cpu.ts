/**
 * CPU time per thread of this process, from /proc/self/task/<tid>/stat (utime + stime, in
 * clock ticks of 10 ms): what each thread itself ran, whatever else shared the cores. Over
 * a measuring window of a few seconds it says what a packet costs each thread of a path,
 * a figure a loaded, shared machine changes far less than a rate: the busiest thread's
 * cost bounds the rate the path could reach with a core per thread.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_NS = 1e7; // USER_HZ = 100 on Linux

/** tid → CPU nanoseconds so far. */
export function threadCpu(): Map<number, number> {
  const m = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const s = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces, inside parentheses).
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      m.set(Number(tid), (Number(f[11]) + Number(f[12])) * TICK_NS);
    } catch {
      // the thread ended meanwhile
    }
  }
  return m;
}

/** CPU nanoseconds each thread ran between two snapshots, busiest first (threads that ran at all). */
export function threadCpuSince(before: Map<number, number>, after = threadCpu()): number[] {
  const d: number[] = [];
  for (const [tid, ns] of after) {
    const v = ns - (before.get(tid) ?? 0);
    if (v > 0) d.push(v);
  }
  return d.sort((a, b) => b - a);
}
