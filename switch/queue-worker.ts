/**
 * Queue worker thread: runs its RX queues' engines in a loop that never returns to the
 * event loop while there is traffic. There are never more workers than `cpus` allows: with
 * more queues than that, worker w runs queues w, w + W, w + 2W, … (W workers), as a CPU
 * runs the NAPI poll of several NIC queues. Every producer of those queues rings worker w's
 * doorbell word, so one wait covers them all.
 *
 *   loop:
 *     n = Σ engine.breathe()   (each breath first polls the queue's share of polled media)
 *     command word set?  → handle it between two breaths (program swap, endpoints, stop)
 *     n == 0 → busy-poll a little (SPIN_MS), then sleep on the doorbell with NEEDS_WAKEUP set
 *              (in NAP_MS naps while there was traffic in the last NAP_WINDOW_MS)
 *
 * Requests from the supervisor arrive on a dedicated MessagePort that the loop reads with
 * receiveMessageOnPort() only when the command word says one is waiting, so the hot loop
 * costs one Atomics.load per breath for control.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { QueueEngine, type PacketTap } from './queue-engine.js';
import { CMD_MESSAGE, CMD_NONE, CMD_STOP, CTL_BUSY, CTL_COMMAND, CTL_HEARTBEAT, CTL_PROGRAM, CTL_WORDS, queueDoorbell, workerThread, type SharedLayout } from './layout.js';
import { Doorbell } from '../queues/doorbell.js';
import { Q } from './counters.js';
import { instantiate, type LoadedProgram } from '../programs/loader.js';
import { makeChain } from '../programs/chain.js';
import type { PortInfo, XdpProgram } from '../programs/program.js';
import type { QueueEndpoint } from './endpoints/endpoint.js';
import type { PortConfig, PortType, QueuePort } from './ports/port.js';
import { FdSleeper } from './queue-sleep.js';
import { refreshClocks } from '../programs/parse/ktime.js';

export interface QueueWorkerData {
  layout: SharedLayout;
  /** This worker's index (0 … workers−1). */
  worker: number;
  /** The queues this worker runs, each with its chain (queue q runs on worker q mod workers). */
  queues: { queue: number; chain: LoadedProgram[] }[];
  ports: PortInfo[];
  control: MessagePort;
  /** Set after a watchdog restart: [queue, input ring, position] of the packet the program hung on. */
  hungAt: [number, number, number] | null;
  restarted: boolean;
  /** The switch has started ingress (a restarted worker polls its media at once). */
  ingress: boolean;
  /** Run to completion: the ports whose queue side this worker drives (RX polled here, TX written here). */
  sides: QueueSideData[];
  /** SwitchConfig.busyPoll, in µs (0: poll SPIN_MS after each breath only). */
  busyPoll: number;
}

export interface QueueSideData {
  port: number;
  /** URL of the port type's module. */
  module: string;
  config: PortConfig;
  rx: boolean;
  tx: boolean;
  /** The port type's shared state (PortType.sharedState), or null. */
  shared: SharedArrayBuffer | null;
  /** The last requests its device sent the queue sides (replayed to a restarted worker), in order. */
  requests: unknown[];
}

/** Messages the supervisor sends (see Switch). */
export type QueueRequest = { queue: number } & (
  | { type: 'chain'; id: number; chain: LoadedProgram[] }
  | { type: 'endpoint'; id: number; slot: number; module: string; shared: unknown }
  | { type: 'pass-endpoint'; id: number; module: string; shared: unknown }
  | { type: 'tap'; id: number; module: string | null; shared: unknown; stage: 'entry' | 'exit' }
  /** Polled media start producing only once every port is up (as the device threads' start-ingress). */
  | { type: 'start-ingress'; id: number }
  /** For port p's queue side here (what its device thread's control result sent them: Port.control). */
  | { type: 'side'; id: number; port: number; msg: unknown }
);

// Spin this long after the last packet before sleeping: a wake-up costs the producer an
// Atomics.notify (a futex syscall) and us a reschedule, more than a short spin at idle.
const SPIN_MS = 0.2;
// Idle, the worker sleeps until rung (every producer and the supervisor ring its doorbell)
// or a descriptor wakes it: the timeout is only a safety net against a lost ring, and what
// an idle afpacket side refreshes off the data path (rx_missed, the link's flags) is at most
// this stale. Each timed wake-up of an idle worker costs CPU (idle-cpu in the wake bench).
const SLEEP_MS = 1000;
// A polled medium that had nothing this time (a paced generator ahead of its schedule).
const POLL_SLEEP_MS = 1;
// Between the busy-poll and the long sleep, a worker that had traffic in the last
// NAP_WINDOW_MS naps NAP_MS at a time (a timed wait, no spinning; a packet, a descriptor or
// a ring still wakes it at once). Measured on this project's 2-core VM (docs/architecture.md
// §3): a wake-up after a nap comes sooner than one after a long sleep, which took a ping
// through an idle switch from 0.91–1.07× the Node relay's RTT to 0.67–0.70× (VXLAN), and
// from 0.5–1.4 ms to 0.3–0.4 ms median (veth). It costs a timed wake-up a millisecond while
// traffic is sparse, nothing once the switch has been idle for NAP_WINDOW_MS.
const NAP_MS = 1;
const NAP_WINDOW_MS = 50;

const data = workerData as QueueWorkerData;
const ctl = new Int32Array(data.layout.control);
const baseOf = (queue: number) => workerThread(data.layout, queue) * CTL_WORDS;
const log = (queue: number, level: string, message: string) => parentPort!.postMessage({ type: 'log', level, message: `queue ${queue}: ${message}` });

async function buildChain(queue: number, chain: LoadedProgram[]): Promise<XdpProgram> {
  const base = baseOf(queue);
  const env = { queue, queues: data.layout.queues, ports: data.ports, log: (m: string) => log(queue, 'info', m) };
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

/** A chain takes super-frames whole only when every program in it does (ProgramModule.frags). */
function takesFrags(chain: LoadedProgram[]): boolean {
  return chain.length > 0 && chain.every((p) => p.frags === true);
}

async function loadEndpoint(module: string, shared: unknown): Promise<QueueEndpoint> {
  const mod = (await import(module)) as { openEndpoint(shared: unknown): QueueEndpoint };
  return mod.openEndpoint(shared);
}

async function handle(engine: QueueEngine, req: QueueRequest): Promise<void> {
  switch (req.type) {
    case 'chain':
      engine.setProgram(await buildChain(engine.queue, req.chain), takesFrags(req.chain));
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
    case 'start-ingress':
      engine.ingressOpen = true;
      break;
    case 'side': {
      const side = engine.sideOf(req.port)?.side;
      if (side?.control === undefined) throw new Error(`port ${req.port} has no queue side taking requests on queue ${engine.queue}`);
      side.control(req.msg);
      break;
    }
  }
}

/** Every side this worker opened (closed when it stops), and the descriptors that wake it. */
const opened: QueuePort[] = [];
const wakeFds: number[] = [];

/** Opens this engine's side of every port it drives (run to completion). */
async function openSides(engine: QueueEngine): Promise<void> {
  for (const s of data.sides) {
    const type = ((await import(s.module)) as { default: PortType }).default;
    const name = s.config.name;
    const io = engine.attachQueueSide(s.port, name, s.rx, s.tx, (level, message) => log(engine.queue, level, `port ${name}: ${message}`), s.shared);
    const side = type.openQueue!(s.config, io);
    io.side = side;
    opened.push(side);
    for (const msg of s.requests) side.control?.(msg);
    const fds = side.wakeFds?.() ?? [];
    // A side with descriptors wakes the worker itself: no 1 ms looks for it (engine.producing).
    io.wakes = fds.length > 0 || side.wakesWorker === true;
    for (const fd of fds) wakeFds.push(fd);
  }
  engine.sidesOpened();
}

/** Closes every side this worker opened (sockets, mappings), reporting what fails. */
function closeSides(): void {
  for (const side of opened) {
    try {
      side.close?.();
    } catch (e) {
      log(data.queues[0].queue, 'warn', `closing a port's queue side: ${(e as Error).message}`);
    }
  }
}

/** What the loop keeps per engine: its control words and its error-report state. */
interface Hosted {
  engine: QueueEngine;
  base: number;
  finishedReported: number;
  lastReport: number;
  lastReportAt: number;
  stopped: boolean;
}

/** Reads every request waiting on the control port and applies each to its queue's engine. */
async function handleMessages(byQueue: Map<number, Hosted>): Promise<void> {
  for (let m = receiveMessageOnPort(data.control); m !== undefined; m = receiveMessageOnPort(data.control)) {
    const req = m.message as QueueRequest;
    try {
      const h = byQueue.get(req.queue);
      if (h === undefined) throw new Error(`queue ${req.queue} does not run on worker ${data.worker}`);
      await handle(h.engine, req);
      // Replies go on the same channel as logs, so they arrive in the order they were sent.
      parentPort!.postMessage({ type: 'reply', id: req.id, ok: true });
    } catch (e) {
      parentPort!.postMessage({ type: 'reply', id: req.id, ok: false, error: (e as Error).message });
    }
  }
}

/**
 * Between two breaths: report errors and finished media, apply a stop. Returns true when a
 * request waits on the control port (the caller awaits handleMessages: no promise per breath).
 */
function between(h: Hosted): boolean {
  const engine = h.engine;
  // Program errors are reported at most once a second: a program throwing on every packet
  // must not turn into a message per breath.
  if (engine.lastError !== null && Date.now() - h.lastReportAt >= 1000) {
    log(engine.queue, 'warn', `program errors on ${engine.errorCount - h.lastReport} packet(s) since the last report; first: ${engine.lastError}`);
    h.lastReport = engine.errorCount;
    h.lastReportAt = Date.now();
    engine.lastError = null;
  }
  if (engine.finishedSides !== h.finishedReported) {
    h.finishedReported = engine.finishedSides;
    parentPort!.postMessage({ type: 'finished', queue: engine.queue, ports: engine.finishedPorts() });
  }
  // Pairs with the supervisor's Atomics.store(CTL_COMMAND) + doorbell ring.
  const cmd = Atomics.load(ctl, h.base + CTL_COMMAND);
  if (cmd === CMD_NONE) return false;
  if (cmd === CMD_STOP) {
    // Stop taking from the media this queue polls; drain what is queued, then stop.
    engine.ingressOpen = false;
    if (engine.pending() === 0) h.stopped = true;
    return false;
  }
  Atomics.store(ctl, h.base + CTL_COMMAND, CMD_NONE);
  return cmd === CMD_MESSAGE;
}

async function main(): Promise<void> {
  const hosted: Hosted[] = [];
  for (const { queue, chain } of data.queues) {
    const engine = new QueueEngine(data.layout, queue, await buildChain(queue, chain));
    engine.setProgram(engine.program, takesFrags(chain));
    engine.ingressOpen = data.ingress;
    await openSides(engine);
    if (data.restarted) engine.bump(Q.restarts);
    const hung = data.hungAt;
    if (hung !== null && hung[0] === queue && engine.recoverFromHang(hung[1], hung[2])) {
      log(queue, 'warn', 'dropped the packet the hung program was processing (counted xdp_aborted)');
    }
    hosted.push({ engine, base: baseOf(queue), finishedReported: 0, lastReport: 0, lastReportAt: 0, stopped: false });
  }
  const byQueue = new Map(hosted.map((h) => [h.engine.queue, h]));
  // Every producer of these queues rings this word (layout.queueDoorbell).
  const doorbell = new Doorbell(ctl, queueDoorbell(data.layout, data.queues[0].queue));
  // Sides with descriptors (an AF_PACKET socket): sleep in poll() on them and the doorbell.
  const fdSleeper = wakeFds.length === 0 ? null : new FdSleeper(ctl, doorbell.index, wakeFds, (m) => log(data.queues[0].queue, 'error', m));
  parentPort!.postMessage({ type: 'ready' });
  let idle = 0;
  let idleSince = 0;
  // When the last breath with packets ended (ms), whether packets came since the last idle
  // pass (no clock read per busy breath), and whether the wait now ending was a nap.
  let lastBusy = -Infinity;
  let busy = false;
  let napping = false;
  const busyPollMs = data.busyPoll / 1000;
  for (;;) {
    let n = 0;
    let running = 0;
    // The programs' clock word (l2switch ageing, ddos refills): current before each pass,
    // also the first after a sleep; nothing when no program here reads a clock.
    refreshClocks();
    for (let i = 0; i < hosted.length; i++) {
      const h = hosted[i];
      if (h.stopped) continue;
      running++;
      const base = h.base;
      // CTL_BUSY brackets the breath for the watchdog: busy with an unchanged heartbeat = stuck.
      ctl[base + CTL_BUSY] = 1;
      n += h.engine.breathe();
      ctl[base + CTL_BUSY] = 0;
      ctl[base + CTL_HEARTBEAT]++;
      if (between(h)) await handleMessages(byQueue);
    }
    if (running === 0) break;
    if (n !== 0) {
      idle = 0;
      busy = true;
      napping = false;
      continue;
    }
    // NAPI-style back-off: busy-poll for SPIN_MS after the last packet, then nap or sleep.
    // performance.now() returns a double (no allocation); read it every 64 empty breaths.
    if (idle === 0) {
      idleSince = performance.now();
      // Only packets open the nap window: a wake-up that found nothing does not.
      if (busy) lastBusy = idleSince;
      busy = false;
    }
    // A nap that found nothing goes straight back to its wait: no spin per nap.
    if (!napping && ((++idle & 63) !== 0 || performance.now() - idleSince < SPIN_MS)) continue;
    // busyPoll: keep polling until that long after the last packet (not after a wake-up that
    // found nothing: an idle switch's timed wake-ups must not each buy a window).
    if (busyPollMs > 0 && (idle & 63) === 0 && performance.now() - lastBusy < busyPollMs) continue;
    // Read the doorbell before the final emptiness check: a submit after the check bumps it
    // and the wait below returns at once (pairs with Doorbell.ring in Ring.submit).
    const seen = doorbell.read();
    let empty = true;
    let producing = false;
    let endpoints = false;
    let ingress = false;
    for (const h of hosted) {
      if (h.engine.ingressOpen) ingress = true;
      if (!h.engine.prepareSleep()) empty = false;
      if (Atomics.load(ctl, h.base + CTL_COMMAND) !== CMD_NONE) empty = false;
      if (h.engine.producing()) producing = true;
      // An application that rings our doorbell (XskSocket.attachSwitchBell) wakes us; one
      // that rings only its socket's own word does not, so then we look every millisecond.
      if (!h.engine.endpointsWakeMe()) endpoints = true;
    }
    if (empty) {
      for (const h of hosted) {
        h.engine.bump(Q.sleeps);
        // Upkeep off the packet path (a side's stats): a descriptor that turns readable
        // meanwhile still wakes the poll below at once (level-triggered), as does a ring.
        h.engine.idle();
      }
      // A polled medium that produces (a paced generator) is looked at again every
      // millisecond; so are socket endpoints whose application rings only its own word.
      const timed = producing || endpoints;
      napping = !timed && idleSince - lastBusy < NAP_WINDOW_MS;
      const ms = timed ? POLL_SLEEP_MS : napping ? NAP_MS : SLEEP_MS;
      if (fdSleeper === null) doorbell.sleep(seen, ms);
      else {
        // The media's descriptors only while the worker takes from them.
        fdSleeper.watch(ingress);
        fdSleeper.sleep(seen, ms);
      }
    }
    for (const h of hosted) h.engine.endSleep();
    idle = 0;
  }
  closeSides();
  await fdSleeper?.close();
  parentPort!.postMessage({ type: 'stopped' });
}

main().catch((e: Error) => {
  log(data.queues[0]?.queue ?? -1, 'error', `worker failed: ${e.stack ?? e.message}`);
  parentPort!.postMessage({ type: 'failed', message: e.message });
  closeSides(); // what opened before the failure (another port's socket) must not outlive the worker
  process.exit(1);
});
