/**
 * One engine case in a fresh thread (see rig.ts): warms up, then measures `rounds` stretches
 * of `packets` packets and posts the best ns/pkt and the median.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { engineRig, type EngineCase } from './rig.js';

const { kase, packets, rounds } = workerData as { kase: EngineCase; packets: number; rounds: number };
const rig = await engineRig(kase);
rig.run(packets); // warm-up: compile and optimise the breath
const per: number[] = [];
for (let r = 0; r < rounds; r++) {
  const m = rig.run(packets);
  per.push(m.ns / m.packets);
}
per.sort((a, b) => a - b);
const c = rig.engine.counters.values;
parentPort!.postMessage({ best: per[0], median: per[per.length >> 1], counters: Array.from(c) });
