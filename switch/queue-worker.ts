/**
 * Queue worker thread: runs one RX queue's engine in a loop that never returns to the
 * event loop while there is traffic.
 *
 *   loop:
 *     n = engine.breathe()
 *     command word set?  → handle it between two breaths (program swap, endpoints, stop)
 *     n == 0 → spin a little, then sleep on the doorbell with NEEDS_WAKEUP set
 *
 * Requests from the supervisor arrive on a dedicated MessagePort that the loop reads with
 * receiveMessageOnPort() only when the command word says one is waiting, so the hot loop
 * costs one Atomics.load per breath for control.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { QueueEngine, type PacketTap } from './queue-engine.js';
import { CMD_MESSAGE, CMD_NONE, CMD_STOP, CTL_BUSY, CTL_COMMAND, CTL_HEARTBEAT, CTL_PROGRAM, CTL_WORDS, type SharedLayout } from './layout.js';
import { Q } from './counters.js';
import { instantiate, type LoadedProgram } from '../programs/loader.js';
import { makeChain } from '../programs/chain.js';
import type { PortInfo, XdpProgram } from '../programs/program.js';
import type { QueueEndpoint } from './endpoints/endpoint.js';
import type { PortConfig, PortType } from './ports/port.js';

export interface QueueWorkerData {
  layout: SharedLayout;
  queue: number;
  chain: LoadedProgram[];
  ports: PortInfo[];
  control: MessagePort;
  /** Set after a watchdog restart: [input ring, position] of the packet the program hung on. */
  hungAt: [number, number] | null;
  restarted: boolean;
  /** Run to completion: the ports whose queue side this worker drives (RX polled here, TX written here). */
  sides: QueueSideData[];
}

export interface QueueSideData {
  port: number;
  /** URL of the port type's module. */
  module: string;
  config: PortConfig;
  rx: boolean;
  tx: boolean;
}

/** Messages the supervisor sends (see Switch). */
export type QueueRequest =
  | { type: 'chain'; id: number; chain: LoadedProgram[] }
  | { type: 'endpoint'; id: number; slot: number; module: string; shared: unknown }
  | { type: 'pass-endpoint'; id: number; module: string; shared: unknown }
  | { type: 'tap'; id: number; module: string | null; shared: unknown; stage: 'entry' | 'exit' };

// Spin this long after the last packet before sleeping: a wake-up costs the producer an
// Atomics.notify (a futex syscall) and us a reschedule, more than a short spin at idle.
const SPIN_MS = 0.2;
const SLEEP_MS = 100;
// A polled medium that had nothing this time (a paced generator ahead of its schedule).
const POLL_SLEEP_MS = 1;

const data = workerData as QueueWorkerData;
const ctl = new Int32Array(data.layout.control);
const base = data.layout.ports * CTL_WORDS + data.queue * CTL_WORDS;
const log = (level: string, message: string) => parentPort!.postMessage({ type: 'log', level, message: `queue ${data.queue}: ${message}` });

async function buildChain(chain: LoadedProgram[]): Promise<XdpProgram> {
  const env = { queue: data.queue, queues: data.layout.queues, ports: data.ports, log: (m: string) => log('info', m) };
  const progs = await Promise.all(chain.map((p) => instantiate(p, env)));
  return makeChain(
    progs,
    chain.map((p) => p.continueMask),
    // Records the running slot so the watchdog can name a program that hangs.
    (slot) => {
      ctl[base + CTL_PROGRAM] = slot;
    },
  );
}

async function loadEndpoint(module: string, shared: unknown): Promise<QueueEndpoint> {
  const mod = (await import(module)) as { openEndpoint(shared: unknown): QueueEndpoint };
  return mod.openEndpoint(shared);
}

async function handle(engine: QueueEngine, req: QueueRequest): Promise<void> {
  switch (req.type) {
    case 'chain':
      engine.program = await buildChain(req.chain);
      data.chain = req.chain;
      break;
    case 'endpoint':
      while (engine.endpoints.length <= req.slot) engine.endpoints.push(null);
      engine.endpoints[req.slot] = req.module === '' ? null : await loadEndpoint(req.module, req.shared);
      break;
    case 'pass-endpoint':
      engine.passEndpoint = req.module === '' ? null : await loadEndpoint(req.module, req.shared);
      break;
    case 'tap': {
      const tap = req.module === null ? null : ((await import(req.module)) as { openTap(s: unknown): PacketTap }).openTap(req.shared);
      if (req.stage === 'entry') engine.tapEntry = tap;
      else engine.tap = tap;
      break;
    }
  }
}

/** Opens this worker's side of every port it drives (run to completion). */
async function openSides(engine: QueueEngine): Promise<void> {
  for (const s of data.sides) {
    const type = ((await import(s.module)) as { default: PortType }).default;
    const name = s.config.name;
    const io = engine.attachQueueSide(s.port, name, s.rx, s.tx, (level, message) => log(level, `port ${name}: ${message}`));
    io.side = type.openQueue!(s.config, io);
  }
}

async function main(): Promise<void> {
  const engine = new QueueEngine(data.layout, data.queue, await buildChain(data.chain));
  await openSides(engine);
  if (data.restarted) engine.bump(Q.restarts);
  if (data.hungAt !== null && engine.recoverFromHang(data.hungAt[0], data.hungAt[1])) {
    log('warn', 'dropped the packet the hung program was processing (counted xdp_aborted)');
  }
  parentPort!.postMessage({ type: 'ready' });
  let idle = 0;
  let idleSince = 0;
  let lastReport = 0;
  let lastReportAt = 0;
  let finishedReported = 0;
  for (;;) {
    // CTL_BUSY brackets the breath for the watchdog: busy with an unchanged heartbeat = stuck.
    ctl[base + CTL_BUSY] = 1;
    const n = engine.breathe();
    ctl[base + CTL_BUSY] = 0;
    ctl[base + CTL_HEARTBEAT]++;
    // Program errors are reported at most once a second: a program throwing on every packet
    // must not turn into a message per breath.
    if (engine.lastError !== null && Date.now() - lastReportAt >= 1000) {
      log('warn', `program errors on ${engine.errorCount - lastReport} packet(s) since the last report; first: ${engine.lastError}`);
      lastReport = engine.errorCount;
      lastReportAt = Date.now();
      engine.lastError = null;
    }
    if (engine.finishedSides !== finishedReported) {
      finishedReported = engine.finishedSides;
      parentPort!.postMessage({ type: 'finished', ports: engine.finishedPorts() });
    }
    // Pairs with the supervisor's Atomics.store(CTL_COMMAND) + doorbell ring.
    const cmd = Atomics.load(ctl, base + CTL_COMMAND);
    if (cmd !== CMD_NONE) {
      if (cmd === CMD_STOP) {
        // Stop taking from the media this worker polls; drain what is queued, then exit.
        engine.ingressOpen = false;
        if (engine.pending() === 0) break;
      }
      if (cmd === CMD_MESSAGE) {
        Atomics.store(ctl, base + CTL_COMMAND, CMD_NONE);
        for (let m = receiveMessageOnPort(data.control); m !== undefined; m = receiveMessageOnPort(data.control)) {
          const req = m.message as QueueRequest;
          try {
            await handle(engine, req);
            data.control.postMessage({ id: req.id, ok: true });
          } catch (e) {
            data.control.postMessage({ id: req.id, ok: false, error: (e as Error).message });
          }
        }
      }
    }
    if (n !== 0) {
      idle = 0;
      continue;
    }
    // performance.now() returns a double (no allocation); read it every 64 empty breaths.
    if (idle === 0) idleSince = performance.now();
    if ((++idle & 63) !== 0 || performance.now() - idleSince < SPIN_MS) continue;
    // Read the doorbell before the final emptiness check: a submit after the check bumps it
    // and the wait below returns at once (pairs with Doorbell.ring in Ring.submit).
    const seen = engine.doorbell.read();
    if (engine.prepareSleep() && Atomics.load(ctl, base + CTL_COMMAND) === CMD_NONE) {
      engine.bump(Q.sleeps);
      // An application rings its socket's own doorbell word, not ours, so with endpoints
      // bound the worker looks again every millisecond.
      // A polled medium that produces (a paced generator) is looked at again every millisecond.
      const timeout = engine.producing() ? POLL_SLEEP_MS : engine.endpoints.length > 0 || engine.passEndpoint !== null ? 1 : SLEEP_MS;
      engine.doorbell.sleep(seen, timeout);
    }
    engine.endSleep();
    idle = 0;
  }
  parentPort!.postMessage({ type: 'stopped' });
}

main().catch((e: Error) => {
  log('error', `worker failed: ${e.stack ?? e.message}`);
  process.exit(1);
});
