/**
 * The watcher's helper thread (watcher.ts): blocks in poll(2) on the port's descriptors —
 * in its own thread, so no pool thread is held and no other port waits behind it — and
 * reports which are readable through shared words. After a report it waits for the
 * owner's acknowledgement before polling again (the owner reads the socket and the
 * eventfds; until then they would be reported readable at once).
 */
import { workerData } from 'node:worker_threads';
import { K, PollSet, eventfdRead } from '../../../lib/native/index.js';
import { W, WAIT_MS } from './watcher-words.js';

const { words: sab, slots } = workerData as { words: SharedArrayBuffer; slots: number };
const w = new Int32Array(sab);
const set = new PollSet(slots + 1);
const polled = new Int32Array(slots);

for (;;) {
  // Pairs with the owner's Atomics.store of the fd set before it writes the wake eventfd.
  if (Atomics.load(w, W.stop) !== 0) break;
  const n = Atomics.load(w, W.count);
  const wake = Atomics.load(w, W.wakeFd);
  set.set(0, wake, K.POLLIN);
  for (let i = 0; i < slots; i++) {
    polled[i] = i < n ? Atomics.load(w, W.fds + i) : -1;
    set.set(i + 1, polled[i], K.POLLIN);
  }
  const r = set.wait(WAIT_MS);
  if (Atomics.load(w, W.stop) !== 0) break;
  if (r <= 0) continue;
  if (set.revents(0) !== 0) eventfdRead(wake);
  let any = false;
  for (let i = 0; i < slots; i++) {
    // The fd as polled (the owner may change the set meanwhile), or −1.
    const ready = polled[i] >= 0 && set.revents(i + 1) !== 0;
    Atomics.store(w, W.ready + i, ready ? polled[i] : -1);
    if (ready) any = true;
  }
  if (!any) continue;
  // Pairs with the owner's Atomics.waitAsync on W.seq: the ready fds above are visible first.
  const seq = Atomics.add(w, W.seq, 1) + 1;
  Atomics.notify(w, W.seq);
  // Pairs with the owner's Atomics.store/notify of W.ack once it has read what was ready.
  while (Atomics.load(w, W.ack) !== seq && Atomics.load(w, W.stop) === 0) Atomics.wait(w, W.ack, Atomics.load(w, W.ack), WAIT_MS);
}
