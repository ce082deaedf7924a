// The writer side of the counter snapshot test: publishes (packets, exits) in the order a
// queue worker does — packets first, the exits after some work — until told to stop, with
// or without the sequence brackets. Runs the compiled block from dist/.
import { workerData } from 'node:worker_threads';
import { CounterBlock } from '../../dist/lib/counters.js';

const { shared, bracket, stop } = workerData;
const b = CounterBlock.fromShared(shared);
const halt = new Int32Array(stop);
let sink = 0;
// Pairs with the test's Atomics.store of 1 when it has read enough.
while (Atomics.load(halt, 0) === 0) {
  // A breath's work, then its publish (a tenth of the loop, as in a queue worker).
  for (let i = 0; i < 2000; i++) sink = (sink * 31 + i) | 0;
  const n = 1 + (sink & 63);
  if (bracket) b.beginWrite();
  b.values[0] += n;
  for (let i = 0; i < 200; i++) sink = (sink * 31 + i) | 0; // the stores between, widened
  b.values[1] += n;
  if (bracket) b.endWrite();
}
