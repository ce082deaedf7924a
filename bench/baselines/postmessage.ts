/**
 * Reference: the design a Node developer reaches for first — one postMessage per packet,
 * carrying its bytes, to a worker that runs the drop program's work (read the EtherType).
 * At most `window` packets are in flight (the worker acknowledges in chunks), so the figure
 * is the sustained rate, not the speed of filling a queue.
 */
import { Worker } from 'node:worker_threads';
import { workerUrl } from '../../lib/worker-url.js';
import { buildFrame } from '../../switch/ports/gen.js';

export async function postMessageRate(seconds: number): Promise<number> {
  const worker = new Worker(workerUrl('bench/baselines/postmessage-worker'));
  const frame = buildFrame(
    { flows: 1, sizes: [64], count: 0, rate: 0, proto: 'udp', ipv6: false, src: [10, 0, 0, 1], dst: [10, 1, 0, 1], srcMac: [2, 0, 0, 0, 0, 1], dstMac: [2, 0, 0, 0, 0, 2], dstPort: 9 },
    0,
    64,
  );
  let done = 0;
  worker.on('message', (n: number) => (done = n));
  const window = 4096;
  let sent = 0;
  const end = Date.now() + (seconds + 0.5) * 1000;
  let t0 = 0n;
  let d0 = 0;
  const warm = Date.now() + 500;
  while (Date.now() < end) {
    while (sent - done < window) {
      worker.postMessage(frame); // structured clone: a copy of the bytes per packet
      sent++;
    }
    await new Promise((r) => setImmediate(r));
    if (t0 === 0n && Date.now() >= warm) {
      t0 = process.hrtime.bigint();
      d0 = done;
    }
  }
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  const rate = (done - d0) / dt;
  await worker.terminate();
  return rate;
}
