/**
 * Reference: a piscina pool (one thread) running the drop program's work over batches of 64
 * packets, each task carrying its batch's bytes. One task in flight: measured here, piscina
 * 5 with one thread gets slower the more tasks wait in its queue (32 in flight ran at a
 * tenth of the rate of one), so one is its best case and the fair reference.
 */
import { Piscina } from 'piscina';
import { workerUrl } from '../../lib/worker-url.js';
import { buildFrame } from '../../switch/ports/gen.js';

export async function piscinaRate(seconds: number): Promise<number> {
  const pool = new Piscina({ filename: workerUrl('bench/baselines/piscina-task').href, minThreads: 1, maxThreads: 1 });
  const frame = buildFrame(
    { flows: 1, sizes: [64], count: 0, rate: 0, proto: 'udp', ipv6: false, src: [10, 0, 0, 1], dst: [10, 1, 0, 1], srcMac: [2, 0, 0, 0, 0, 1], dstMac: [2, 0, 0, 0, 0, 2], dstPort: 9 },
    0,
    64,
  );
  const batch = new Uint8Array(64 * 64);
  for (let i = 0; i < 64; i++) batch.set(frame, i * 64);
  let packets = 0;
  let running = true;
  const loop = async () => {
    while (running) packets += (await pool.run({ batch, size: 64 })) as number;
  };
  const loops = [loop()];
  await new Promise((r) => setTimeout(r, 500));
  const t0 = process.hrtime.bigint();
  const p0 = packets;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const rate = (packets - p0) / (Number(process.hrtime.bigint() - t0) / 1e9);
  running = false;
  await Promise.all(loops);
  await pool.destroy();
  return rate;
}
