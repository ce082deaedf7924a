/**
 * The thread behind FdWatch (fd-watch.ts): blocks in poll() on one descriptor while the
 * port has nothing to do, and rings the port's device doorbell when it becomes readable.
 * It does nothing else, so blocking it costs nothing; the device thread keeps its event loop.
 *
 *   armed word: 0 idle (the port is busy or was just woken) · 1 watch · 2 stop
 */
import { workerData } from 'node:worker_threads';
import * as native from '../../../lib/native/index.js';
import { K } from '../../../lib/native/index.js';

interface Data {
  fd: number;
  stopFd: number;
  armed: SharedArrayBuffer;
  /** The device thread's doorbell, or null: the port waits on the armed word itself. */
  doorbell: SharedArrayBuffer | null;
  doorbellIndex: number;
}

/**
 * The longest one poll() blocks: the most a terminate of this thread waits (a stop() ends a
 * poll at once through the eventfd; only a terminate of the device thread, a failed start,
 * waits this long). Each timed wake-up of an idle port costs CPU, so it is long.
 */
const POLL_MS = 1000;

const d = workerData as Data;
const armed = new Int32Array(d.armed);
const bell = d.doorbell === null ? null : new Int32Array(d.doorbell);
const set = new native.PollSet(2);
set.set(0, d.fd, K.POLLIN);
set.set(1, d.stopFd, K.POLLIN);

for (;;) {
  // Pairs with the Atomics.store + notify in FdWatch.arm() and FdWatch.stop().
  while (Atomics.load(armed, 0) === 0) Atomics.wait(armed, 0, 0);
  if (Atomics.load(armed, 0) === 2) break;
  // Never an endless poll(): a thread blocked in a syscall cannot be terminated, and
  // terminating the device thread (a failed start) waits for this one to end.
  let ready = 0;
  while (ready === 0 && Atomics.load(armed, 0) === 1) ready = set.wait(POLL_MS);
  if ((set.revents(1) & K.POLLIN) !== 0 || Atomics.load(armed, 0) === 2) break;
  // Disarm before ringing: the port re-arms only after it has drained the descriptor again.
  // Pairs with the port's Atomics.waitAsync on the armed word (FdWatch with onReady).
  Atomics.store(armed, 0, 0);
  Atomics.notify(armed, 0);
  if (bell !== null) {
    // Pairs with Atomics.waitAsync in Doorbell.sleepAsync on the device thread.
    Atomics.add(bell, d.doorbellIndex, 1);
    Atomics.notify(bell, d.doorbellIndex, 1);
  }
}
