/**
 * The helper behind FdSleeper (queue-sleep.ts): turns a ring of a queue worker's doorbell
 * word into an eventfd write while the worker sleeps in poll(), so producers that only know
 * the word still wake it. It blocks in Atomics.wait on the word and does nothing else.
 */
import { workerData } from 'node:worker_threads';
import * as native from '../lib/native/index.js';
import type { SleepThreadData } from './queue-sleep.js';

const d = workerData as SleepThreadData;
const bell = new Int32Array(d.doorbell);
const words = new Int32Array(d.words);

// The last doorbell value handled: a ring is a change from it (from the sleeper's making on).
let last = d.start;
for (;;) {
  // Pairs with the Atomics.store of the stop word in FdSleeper.close().
  if (Atomics.load(words, 1) !== 0) break;
  // Pairs with Atomics.add in Doorbell.ring (and FdSleeper.close).
  const v = Atomics.load(bell, d.index);
  if (v === last) {
    // Pairs with Atomics.notify in Doorbell.ring: returns at once if the word moved since the load.
    Atomics.wait(bell, d.index, v);
    continue;
  }
  last = v;
  // Pairs with the worker's Atomics.store(1) before its last look at the doorbell: a ring
  // it missed happened after that store, so this load sees 1.
  if (Atomics.load(words, 0) === 1) native.eventfdWrite(d.eventFd, 1);
}
