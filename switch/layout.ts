/**
 * The shared-memory plan of a running switch: every SharedArrayBuffer the threads share,
 * created once by the supervisor and handed to each thread in its workerData.
 *
 *   threads:  device 0 … device P−1 (one per port), worker 0 … worker Q−1 (one per queue)
 *   thread id t: devices are 0 … P−1, workers P … P+Q−1
 *
 *   frame area: P+Q pools of poolFrames frames each; pool t belongs to thread t
 *               (a device allocates for ingress, a worker for copies: broadcast,
 *               socket-endpoint transmit). owner of frame f = floor(f / poolFrames).
 *               Then, when superFrames > 0, P+Q runs of superFrames super-frames of
 *               superSpan slots each (64 KB + headroom: GSO/GRO), run t pool t's:
 *               owner of slot f ≥ smallSlots = floor((f − smallSlots) / (superFrames·superSpan)).
 *   rx[p][q]    device p → worker q      packet descriptors; for a port whose RX queues the
 *               workers poll (run to completion), worker q is both producer and consumer
 *   tx[q][p]    worker q → device p      packet descriptors (unused when worker q transmits
 *               on port p's queue side itself)
 *   cpu[q][r]   worker q → worker r      descriptors re-steered by a cpumap (q ≠ r)
 *   recycle[t][o] thread t → owner of pool o   frame indices (inside each pool)
 *   control     per thread: doorbell, command word, heartbeat, current program slot
 *
 * Every ring has exactly one producer thread and one consumer thread.
 */
import { Ring } from '../queues/ring.js';
import { FrameArea, DESC_WORDS, superFrameSpan } from '../queues/frames.js';
import { createPool, type SharedPool } from '../queues/pool.js';
import { CounterBlock, type SharedCounters } from '../lib/counters.js';
import { PORT_COUNTERS, QUEUE_COUNTERS } from './counters.js';
import type { SwitchConfig } from './config-types.js';
import { BreathJournal } from './breath-journal.js';
import { availableParallelism } from 'node:os';

/** Int32 words per thread in the control block. */
export const CTL_WORDS = 16;
export const CTL_DOORBELL = 0; // bumped by producers that found NEEDS_WAKEUP set
export const CTL_COMMAND = 1; // non-zero: the supervisor has a request (see CMD_*)
export const CTL_HEARTBEAT = 2; // a worker bumps it every breath (watchdog)
export const CTL_PROGRAM = 3; // chain slot the worker is running now (watchdog report)
export const CTL_BUSY = 4; // 1 while a worker is inside a breath with packets in hand
export const CTL_INPUT = 5; // input ring the worker is processing now
export const CTL_POS = 6; // position in that ring's peeked batch of the packet in hand

export const CMD_NONE = 0;
export const CMD_MESSAGE = 1; // a message waits on the thread's control port
export const CMD_STOP = 2; // finish the current breath, flush, exit

export interface SharedLayout {
  ports: number;
  queues: number;
  /**
   * Queue worker threads: min(queues, cpus). Queue q runs on worker q mod workers, whose
   * doorbell is the control word of its first queue (queueDoorbell).
   */
  workers: number;
  frameSize: number;
  poolFrames: number;
  /** Super-frames per pool (0: none, no GRO), each superSpan frame slots; smallSlots = pools × poolFrames. */
  superFrames: number;
  superSpan: number;
  smallSlots: number;
  ringSize: number;
  budget: number;
  area: SharedArrayBuffer;
  /** pools[t]: the pool thread t owns. */
  pools: SharedPool[];
  rx: SharedArrayBuffer[][];
  tx: SharedArrayBuffer[][];
  cpu: (SharedArrayBuffer | null)[][];
  control: SharedArrayBuffer;
  /**
   * Int32 per port: what it takes (OFFLOAD_*), stored by its device, loaded by the workers;
   * then one word, the generation (offloadsGeneration), bumped after any port's changes.
   */
  offloads: SharedArrayBuffer;
  /**
   * Int32 per queue: 1 while every program of the queue's chain takes super-frames whole
   * (ProgramModule.frags, as BPF_F_XDP_HAS_FRAGS); stored by its worker, loaded by devices.
   */
  frags: SharedArrayBuffer;
  queueCounters: SharedCounters[];
  /** journals[q]: queue q's breath journal (switch/breath-journal.ts), sized by journalWords. */
  journals: SharedArrayBuffer[];
  portCounters: SharedCounters[];
  /**
   * portQueueCounters[p][q]: port p's counters as written by queue worker q (run to
   * completion: the worker polls and transmits for the port itself). Same names as
   * portCounters[p], one writer each; a port's figures are the sum of its blocks.
   */
  portQueueCounters: SharedCounters[][];
}

export function deviceThread(port: number): number {
  return port;
}
export function workerThread(layout: { ports: number }, queue: number): number {
  return layout.ports + queue;
}

/** The control word producers ring for queue q: the doorbell of the worker that runs q. */
export function queueDoorbell(layout: { ports: number; workers: number }, queue: number): number {
  return (layout.ports + (queue % layout.workers)) * CTL_WORDS + CTL_DOORBELL;
}

/** Queue workers for `queues` queues when `cpus` threads may spin (never more workers than that). */
export function workerCount(queues: number, cpus: number): number {
  return Math.max(1, Math.min(queues, cpus));
}

export function createLayout(config: SwitchConfig, extraPortCounters: (readonly string[])[]): SharedLayout {
  const P = config.ports.length;
  const Q = config.queues;
  const T = P + Q;
  const superFrames = config.superFrames ?? 0;
  const span = superFrameSpan(config.frameSize);
  const small = T * config.poolFrames;
  const area = FrameArea.create(small + T * superFrames * span, config.frameSize);
  const pools: SharedPool[] = [];
  // Every thread returns frames to every pool through its own ring (T returners each).
  for (let t = 0; t < T; t++) pools.push(createPool(t * config.poolFrames, config.poolFrames, T, superFrames, span, small + t * superFrames * span));
  const ring = () => Ring.create(config.ringSize, DESC_WORDS).sab;
  const rx = Array.from({ length: P }, () => Array.from({ length: Q }, ring));
  const tx = Array.from({ length: Q }, () => Array.from({ length: P }, ring));
  const cpu = Array.from({ length: Q }, (_, q) => Array.from({ length: Q }, (_, r) => (q === r ? null : ring())));
  return {
    ports: P,
    queues: Q,
    workers: workerCount(Q, config.cpus ?? availableParallelism()),
    frameSize: config.frameSize,
    poolFrames: config.poolFrames,
    superFrames,
    superSpan: span,
    smallSlots: small,
    ringSize: config.ringSize,
    budget: config.budget,
    area: area.sab,
    pools,
    rx,
    tx,
    cpu,
    control: new SharedArrayBuffer(T * CTL_WORDS * 4),
    // One word per port, and after them a generation bumped whenever one changes (offloadsGeneration).
    offloads: new SharedArrayBuffer((P + 1) * 4),
    frags: new SharedArrayBuffer(Q * 4),
    queueCounters: Array.from({ length: Q }, () => new CounterBlock(QUEUE_COUNTERS).toShared()),
    journals: Array.from({ length: Q }, () => new SharedArrayBuffer(BreathJournal.bytes(journalWords(P, Q), QUEUE_COUNTERS.length))),
    portCounters: Array.from({ length: P }, (_, p) => new CounterBlock([...PORT_COUNTERS, ...(extraPortCounters[p] ?? [])]).toShared()),
    portQueueCounters: Array.from({ length: P }, (_, p) =>
      Array.from({ length: Q }, () => new CounterBlock([...PORT_COUNTERS, ...(extraPortCounters[p] ?? [])]).toShared()),
    ),
  };
}

/**
 * Words a queue's breath publishes at most: its inputs' consumer indices (ports + cpu rings),
 * its tx and cpu rings' producer indices, a recycle ring per other pool, its pool's two depths.
 */
export function journalWords(ports: number, queues: number): number {
  return 3 * ports + 3 * queues + 2;
}

/** The thread whose pool frame (or super-frame) f belongs to. */
export function frameOwner(L: { poolFrames: number; smallSlots: number; superFrames: number; superSpan: number }, f: number): number {
  return f < L.smallSlots ? (f / L.poolFrames) | 0 : ((f - L.smallSlots) / (L.superFrames * L.superSpan)) | 0;
}

/** The word of layout.offloads a device bumps after it changed its port's: a worker loads one word a breath, not one per port. */
export function offloadsGeneration(layout: SharedLayout): number {
  return layout.ports;
}
