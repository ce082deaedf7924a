// Device-thread stand-in for the live-update test: steers one frame in batches of 64,
// refreshing between batches, until the stop word is set; reports which queue each
// published generation sent the frame to, and stores the generation it last steered with
// in word 1 of the stop buffer (the test paces its changes by it). Runs the compiled
// steerer from dist/.
import { parentPort, workerData } from 'node:worker_threads';

const { FlowSteerer } = await import(new URL('../../dist/flows/steerer.js', import.meta.url).href);
const { shared, bytes, stop } = workerData;
const s = new FlowSteerer(shared);
const stopWord = new Int32Array(stop);
const frame = new Uint8Array(bytes);
const seen = new Map(); // generation → Set of queues
let packets = 0;
parentPort.postMessage('ready');
let errors = 0;
// Pairs with the Atomics.store of the stop word by the test.
while (Atomics.load(stopWord, 0) === 0) {
  s.refresh();
  const g = s.generation;
  let set = seen.get(g);
  if (!set) seen.set(g, (set = new Set()));
  for (let i = 0; i < 64; i++) {
    const q = s.steer(frame, 0, frame.length);
    if (q < -1 || q > 3) errors++;
    set.add(q);
  }
  packets += 64;
  // Pairs with the test's Atomics.load of word 1: this generation has been steered with.
  Atomics.store(stopWord, 1, g);
}
s.refresh(); // publish the last counts
parentPort.postMessage({ packets, errors, seen: [...seen].map(([g, qs]) => [g, [...qs]]) });
