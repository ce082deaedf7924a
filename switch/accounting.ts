/**
 * Frame accounting: where every frame of the switch is. Every frame is at every moment in
 * exactly one place — a pool's free stack, a recycle ring, a packet ring, or a thread's
 * hands — so after a stop, free = total and nothing is queued, in flight or doubled.
 * Reads shared memory only; meaningful when the threads are idle (stopped or settled).
 */
import { Ring } from '../queues/ring.js';
import { D_FRAME } from '../queues/frames.js';
import type { SharedLayout } from './layout.js';

export interface Accounting {
  total: number;
  free: number;
  queued: number;
  inFlight: number;
  /** Frames found in two places at once (must be 0). */
  doubled: number;
}

function* packetRings(L: SharedLayout): Generator<Ring> {
  for (const row of L.rx) for (const sab of row) yield new Ring(sab);
  for (const row of L.tx) for (const sab of row) yield new Ring(sab);
  for (const row of L.cpu) for (const sab of row) if (sab !== null) yield new Ring(sab);
}

/** Frames sitting in packet rings (rx, tx, cpu) now. */
export function ringFrames(L: SharedLayout): number {
  let n = 0;
  for (const r of packetRings(L)) n += r.count();
  return n;
}

/** Free (a pool's stack or recycle rings), queued (a packet ring), in flight (the rest), doubled. */
export function frameAccounting(L: SharedLayout): Accounting {
  const total = L.pools.length * (L.poolFrames + L.superFrames);
  const seen = new Uint8Array(L.smallSlots + L.pools.length * L.superFrames * L.superSpan);
  let doubled = 0;
  const mark = (f: number) => {
    if (f < 0 || f >= seen.length || seen[f]++ !== 0) doubled++;
  };
  let free = 0;
  let queued = 0;
  for (const pool of L.pools) {
    const stack = new Int32Array(pool.stack);
    const top = stack[0];
    for (let i = 1; i <= top; i++) mark(stack[i]);
    free += top;
    const large = new Int32Array(pool.largeStack);
    for (let i = 1; i <= large[0]; i++) mark(large[i]);
    free += large[0];
    for (const sab of pool.rings) {
      const r = new Ring(sab);
      r.forEachQueued((o) => mark(r.words[o]));
      free += r.count();
    }
  }
  for (const r of packetRings(L)) {
    r.forEachQueued((o) => mark(r.words[o + D_FRAME]));
    queued += r.count();
  }
  return { total, free, queued, inFlight: total - free - queued, doubled };
}
