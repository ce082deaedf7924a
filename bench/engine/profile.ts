/**
 * Runs one engine case in this thread for a profiler:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/engine/profile.js drop [seconds]
 */
import { engineRig, ENGINE_CASES, type EngineCase } from './rig.js';

const kase = process.argv[2] as EngineCase;
if (!ENGINE_CASES.includes(kase)) throw new Error(`case must be one of ${ENGINE_CASES.join(', ')}`);
const seconds = Number(process.argv[3] ?? 3);
const rig = await engineRig(kase);
const end = Date.now() + seconds * 1000;
let packets = 0;
while (Date.now() < end) packets += rig.spin(1 << 20);
console.log(`${kase}: ${packets} packets`);
