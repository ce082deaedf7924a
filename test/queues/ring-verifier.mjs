// Consumer side of the ring self-test: regenerates the producer's seeded sequence and
// checks every entry, in order. Runs the compiled ring from dist/.
import { parentPort, workerData } from 'node:worker_threads';
import { Ring } from '../../dist/queues/ring.js';
import { Doorbell } from '../../dist/queues/doorbell.js';

const { ring: sab, bell: bellSab, total, seed } = workerData;
const ring = new Ring(sab);
const bell = new Doorbell(new Int32Array(bellSab), 0);
let x = seed | 0 || 1;
const next = () => {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x | 0;
};
let got = 0;
let error;
while (got < total && !error) {
  const n = ring.peek(64);
  if (n === 0) {
    const seen = bell.read();
    ring.setNeedsWakeup();
    if (ring.peek(1) === 0) bell.sleep(seen, 50);
    ring.clearNeedsWakeup();
    continue;
  }
  for (let k = 0; k < n; k++) {
    const o = ring.entryOf(k);
    const v = next();
    const w = ring.words;
    if (w[o] !== v || w[o + 1] !== ~v || w[o + 2] !== got + k || w[o + 3] !== 7) {
      error = `entry ${got + k}: got ${w[o]},${w[o + 1]},${w[o + 2]},${w[o + 3]} expected ${v}`;
      break;
    }
  }
  ring.release(n);
  got += n;
}
parentPort.postMessage({ ok: !error && got === total, got, error });
