/**
 * piscina worker for parallel offline runs: each task is one chunk of the capture. The
 * program is instantiated once per worker and run (a key names the run), with the same
 * shared maps as every other worker — as queues of the switch share them.
 */
import type { LoadedProgram } from '../loader.js';
import type { PortInfo } from '../program.js';
import type { SharedCapture } from './capture.js';
import { runChunk, type ChunkClock, type ChunkResult } from './chunk.js';
import { PacketSlot, instantiateOffline, type Instance } from './instance.js';

export interface ChunkTask {
  runId: string;
  program: LoadedProgram;
  capture: SharedCapture;
  start: number;
  end: number;
  ingressIfindex: number;
  queue: number;
  queues: number;
  ports: PortInfo[];
  frameSize: number;
}

interface Prepared {
  inst: Instance;
  slot: PacketSlot;
  clock: ChunkClock;
}

const prepared = new Map<string, Promise<Prepared>>();

async function prepare(t: ChunkTask): Promise<Prepared> {
  const clock: ChunkClock = { ns: 0 };
  const inst = await instantiateOffline(t.program, { queue: t.queue, queues: t.queues, ports: t.ports, now: () => clock.ns });
  return { inst, slot: new PacketSlot(t.ports.length, t.frameSize), clock };
}

export default async function chunkTask(t: ChunkTask): Promise<ChunkResult> {
  let p = prepared.get(t.runId);
  if (p === undefined) {
    prepared.clear(); // one run at a time per pool
    p = prepare(t);
    prepared.set(t.runId, p);
  }
  const { inst, slot, clock } = await p;
  return runChunk(inst, slot, clock, t.capture, t.start, t.end, t.ingressIfindex, t.queue);
}
