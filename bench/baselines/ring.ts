/**
 * Reference: the bare ring — descriptors moved between two threads in batches of 64 with no
 * program, no pool and no frame bytes touched. The ceiling of the data path's design.
 */
import { Worker } from 'node:worker_threads';
import { Ring } from '../../queues/ring.js';
import { DESC_WORDS } from '../../queues/frames.js';
import { workerUrl } from '../../lib/worker-url.js';

export async function ringCeiling(seconds: number): Promise<number> {
  const ring = Ring.create(1024, DESC_WORDS);
  const counter = new Float64Array(new SharedArrayBuffer(8));
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const url = workerUrl('bench/baselines/ring-worker');
  const consumer = new Worker(url, { workerData: { role: 'consumer', ring: ring.sab, counter: counter.buffer, stop: stop.buffer } });
  const producer = new Worker(url, { workerData: { role: 'producer', ring: ring.sab, counter: counter.buffer, stop: stop.buffer } });
  await new Promise((r) => setTimeout(r, 500));
  const t0 = process.hrtime.bigint();
  const c0 = counter[0];
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const rate = (counter[0] - c0) / (Number(process.hrtime.bigint() - t0) / 1e9);
  Atomics.store(stop, 0, 1); // pairs with the workers' Atomics.load(stop) between batches
  await Promise.all([consumer.terminate(), producer.terminate()]);
  return rate;
}
