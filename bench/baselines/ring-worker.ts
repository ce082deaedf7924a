/** Both ends of the bare-ring reference: a producer of descriptors and a consumer that counts them. */
import { workerData } from 'node:worker_threads';
import { Ring } from '../../queues/ring.js';

const { role, ring: sab, counter: csab, stop: ssab } = workerData as { role: string; ring: SharedArrayBuffer; counter: SharedArrayBuffer; stop: SharedArrayBuffer };
const ring = new Ring(sab);
const counter = new Float64Array(csab);
const stop = new Int32Array(ssab);
const BATCH = 64;

if (role === 'producer') {
  let frame = 0;
  // Pairs with Atomics.store(stop) in ringCeiling().
  while (Atomics.load(stop, 0) === 0) {
    for (let i = 0; i < 1024; i++) {
      const n = ring.reserve(BATCH);
      const w = ring.words;
      for (let k = 0; k < n; k++) {
        const o = ring.slotOf(k);
        w[o] = frame++ & 0xffff;
        w[o + 1] = 256 | (64 << 16);
      }
      ring.submit(n);
    }
  }
} else {
  let local = 0;
  let sink = 0;
  while (Atomics.load(stop, 0) === 0) {
    for (let i = 0; i < 1024; i++) {
      const n = ring.peek(BATCH);
      const w = ring.words;
      for (let k = 0; k < n; k++) sink ^= w[ring.entryOf(k)];
      ring.release(n);
      local += n;
    }
    counter[0] = local + (sink & 0);
  }
}
