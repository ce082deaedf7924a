/**
 * The Switch, supervisor of the data plane's threads: creates the switch's shared memory,
 * starts min(queues, cpus) queue workers (worker w hosts queues w, w + W, …) and one device
 * thread per port, restarts a queue worker that dies (its rings live in shared memory, so
 * what was queued for it is still there) or that the watchdog (watchdog.ts) finds hung,
 * owns which chain runs on which queue (configurePrograms), and stops everything in order:
 *
 *   stop(): devices stop ingress → queues drain their rx rings → workers stop
 *           → devices drain their tx rings and close their ports (captures flushed)
 *           → accounting: every frame is free or queued, none lost or doubled
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { createLayout, CMD_MESSAGE, CMD_STOP, CTL_BUSY, CTL_COMMAND, CTL_INPUT, CTL_POS, CTL_WORDS, queueDoorbell, workerThread, type SharedLayout } from './layout.js';
import { availableParallelism } from 'node:os';
import { CounterBlock } from '../lib/counters.js';
import { POOL_COUNTERS } from '../queues/pool.js';
import { QUEUE_EXIT_COUNTERS } from './counters.js';
import { Doorbell, type DoorbellHandle } from '../queues/doorbell.js';
import { chainOf, type QueuePrograms, type SwitchConfig } from './config-types.js';
import { frameAccounting, ringFrames, type Accounting } from './accounting.js';
import type { PortConfig, PortType } from './ports/port.js';
import { importPortType, portModuleUrl } from './ports/index.js';
import { portOptionIssues } from './ports/options.js';
import { workerUrl } from '../lib/worker-url.js';
import { instantiate, loadProgram, ProgramError, type LoadedProgram, type ProgramRefInput } from '../programs/loader.js';
import type { PortInfo } from '../programs/program.js';
import type { DeviceRequest, DeviceWorkerData } from './device.js';
import type { QueueRequest, QueueSideData, QueueWorkerData } from './queue-worker.js';
import { Watchdog } from './watchdog.js';

export interface LogEvent {
  level: 'info' | 'warn' | 'error';
  message: string;
}


export interface StopSummary {
  durationMs: number;
  stats: SwitchStats;
  accounting: Accounting;
  /** Packets that entered the queues minus packets counted in an exit counter (must be 0). */
  unaccounted: number;
  /**
   * Ports whose ingress could not be stopped (the device thread had died or did not answer):
   * frames they took in while the queues drained may be missing from the accounting. Each is
   * logged as an error.
   */
  stopIngressFailures: number;
}

/** How long stop() waits for a device thread to confirm its ingress is stopped. */
const STOP_INGRESS_MS = 5000;

export interface SwitchStats {
  /** rx<q>_<name> for every queue counter. */
  queues: Record<string, number>;
  /** Per port: device counters, and the port's pool as rx_pp_<name>. */
  ports: Record<string, Record<string, number>>;
}

export interface StartOptions {
  /** Directory that relative program paths resolve against (default: the config's folder or cwd). */
  baseDir?: string;
  /** Watchdog: a breath holding packets this long without progress is a hung program. */
  hangMs?: number;
  /**
   * Steering per port name: a module exporting createSteerer(shared), and the shared state.
   * `rules: false` says the port's steering is plain RSS (no rule, nothing set): a port whose
   * queues its workers receive themselves may then do so. Absent means it has rules.
   */
  steering?: Map<string, { module: string; shared: unknown; rules?: boolean }>;
}

/** One queue worker thread; it runs queues w, w + W, … (layout.workers = W ≤ cpus). */
interface WorkerThread {
  worker: Worker;
  control: MessagePort;
  queues: number[];
  ready: Promise<void>;
  exited: Promise<void>;
  /** Set when the supervisor itself ends this worker (watchdog): no automatic restart. */
  retired: boolean;
  /** Running its loop (the watchdog leaves a worker alone while it starts). */
  isReady: boolean;
}

interface QueueThread {
  /** The worker running this queue now (replaced on restart). */
  host: WorkerThread;
  chain: LoadedProgram[];
  chainNames: string[];
  /** What the chain was loaded from (chainKey), to tell whether a new configuration changes it. */
  chainKey: string;
}

interface DeviceThread {
  worker: Worker;
  type: PortType;
  config: PortConfig;
  finished: boolean;
  closed: Promise<void>;
  /** The thread has exited: requests to it would never be answered. */
  exited: boolean;
  /** Run to completion: the queue workers poll this port's RX queues (the device thread does not). */
  rxOnQueues: boolean;
  /** Queues whose RX side of this port has finished producing. */
  finishedQueues: Set<number>;
}

export class Switch extends EventEmitter {
  readonly layout: SharedLayout;
  readonly config: SwitchConfig;
  readonly portInfo: PortInfo[];
  private readonly ctl: Int32Array;
  private readonly queueThreads: QueueThread[] = [];
  private readonly workerThreads: WorkerThread[] = [];
  private readonly deviceThreads: DeviceThread[] = [];
  private readonly queueBlocks: CounterBlock[];
  private readonly portBlocks: CounterBlock[];
  private readonly portQueueBlocks: CounterBlock[][];
  /** Per port: the directions its queue workers drive themselves (run to completion). */
  private readonly sides: { rx: boolean; tx: boolean }[];
  private readonly poolBlocks: CounterBlock[];
  /** Per port: its type's state shared by the device thread and the queue sides (PortType.sharedState). */
  private readonly sideShared: (SharedArrayBuffer | null)[];
  /** Per port: what its device sent its queue sides lately (Port.control's queueSides), for restarted workers. */
  private readonly sideRequests: unknown[][];
  private nextId = 1;
  private readonly pendingReplies = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private stopping = false;
  /** Every port is up and producing (polled media on the queue workers too). */
  private ingressStarted = false;
  private watchdog: Watchdog | null = null;
  private readonly startedAt = Date.now();
  private readonly baseDir: string;
  private readonly hangMs: number;
  private readonly steering: Map<string, { module: string; shared: unknown; rules?: boolean }>;
  /** Restarts per queue (for tests and the status view). */
  readonly restarts: number[];

  private constructor(config: SwitchConfig, types: PortType[], opts: StartOptions) {
    super();
    this.config = config;
    this.layout = createLayout(config, types.map((t) => t.counters ?? []));
    this.ctl = new Int32Array(this.layout.control);
    this.portInfo = config.ports.map((p, i) => ({ name: p.name, ifindex: i + 1 }));
    this.queueBlocks = this.layout.queueCounters.map((s) => CounterBlock.fromShared(s));
    this.portBlocks = this.layout.portCounters.map((s) => CounterBlock.fromShared(s));
    this.portQueueBlocks = this.layout.portQueueCounters.map((row) => row.map((s) => CounterBlock.fromShared(s)));
    this.steering = opts.steering ?? new Map();
    // A port with flow-steering rules keeps ingress on its device thread: queue sides spread
    // flows over their queues themselves (a generator's flows, a replay's share, the kernel's
    // fanout hash), as RSS would, and only the device thread steers by rules.
    this.sides = config.ports.map((p, i) => {
      const s = types[i].queueSides?.(p) ?? { rx: false, tx: false };
      const ruled = this.steering.has(p.name) && this.steering.get(p.name)!.rules !== false;
      return { rx: s.rx && types[i].openQueue !== undefined && !ruled, tx: s.tx && types[i].openQueue !== undefined };
    });
    this.sideShared = config.ports.map((p, i) => (this.sides[i].rx || this.sides[i].tx ? (types[i].sharedState?.(p, config.queues) ?? null) : null));
    this.sideRequests = config.ports.map(() => []);
    this.poolBlocks = this.layout.pools.map((p) => CounterBlock.fromShared(p.counters));
    this.baseDir = opts.baseDir ?? (config.source ? path.dirname(config.source) : process.cwd());
    this.hangMs = opts.hangMs ?? 2000;
    this.restarts = new Array(config.queues).fill(0);
  }

  /** Validates what only the switch can check, creates shared memory, starts every thread. */
  static async start(config: SwitchConfig, opts: StartOptions = {}): Promise<Switch> {
    if (config.ports.length === 0) throw new Error('a switch needs at least one port');
    if (config.ports.length > 255) throw new Error('a switch has at most 255 ports');
    if (config.queues < 1 || config.queues > 64) throw new Error(`queues must be 1 … 64, got ${config.queues}`);
    const types: PortType[] = [];
    for (const p of config.ports) {
      const t = await importPortType(p.type);
      const errors = portOptionIssues(t, p);
      if (errors.length) throw new Error(`port ${p.name} (${p.type}): ${errors.join('; ')}`);
      types.push(t);
    }
    const sw = new Switch(config, types, opts);
    try {
      await sw.startThreads(types);
    } catch (e) {
      await sw.kill();
      throw e;
    }
    return sw;
  }

  private readonly loadedCache = new Map<string, LoadedProgram>();

  /** Loads a chain; the same program with the same parameters shares its maps across queues. */
  async loadChain(refs: ProgramRefInput[]): Promise<{ chain: LoadedProgram[]; names: string[] }> {
    const chain: LoadedProgram[] = [];
    for (const ref of refs) {
      const key = JSON.stringify([ref.name, ref.params ?? {}, ref.continueOn ?? null]);
      let lp = this.loadedCache.get(key);
      if (lp === undefined) {
        lp = await loadProgram(ref, { baseDir: this.baseDir, queues: this.config.queues, ports: this.portInfo });
        // Build it once here too: a program whose create() throws fails now, with its message.
        await instantiate(lp, { queue: -1, queues: this.config.queues, ports: this.portInfo, log: () => {} });
        this.loadedCache.set(key, lp);
      }
      chain.push(lp);
    }
    return { chain, names: chain.map((p) => p.name) };
  }

  /** Every program loaded so far, with its maps (for `map list/dump`). */
  loadedPrograms(): LoadedProgram[] {
    return [...this.loadedCache.values()];
  }

  private async startThreads(types: PortType[]): Promise<void> {
    for (let q = 0; q < this.config.queues; q++) {
      const refs = chainOf(this.config.programs, q);
      const { chain, names } = await this.loadChain(refs);
      this.queueThreads[q] = { host: null as unknown as WorkerThread, chain, chainNames: names, chainKey: chainKey(refs) };
    }
    for (let w = 0; w < this.layout.workers; w++) this.spawnWorker(w, false, null);
    await Promise.all(this.workerThreads.map((t) => t.ready));
    const polling = this.config.ports.filter((p, i) => !this.sides[i].rx && pollsOnDevice(p)).map((p) => p.name);
    if (this.layout.workers + polling.length > (this.config.cpus ?? availableParallelism())) {
      // Information, not a fault: the configuration asked for it (a replay next to the queues).
      this.log(
        'info',
        `${this.layout.workers} queue worker(s) and ${polling.length} polling device thread(s) (${polling.join(', ')}) spin on ${this.config.cpus ?? availableParallelism()} cpus: they will time-slice`,
      );
    }
    const devReady: Promise<void>[] = [];
    this.config.ports.forEach((config, p) => devReady.push(this.spawnDevice(p, config, types[p])));
    await Promise.all(devReady);
    this.ingressStarted = true;
    await Promise.all(this.deviceThreads.map((_, p) => this.deviceRequest(p, { type: 'start-ingress', id: this.nextId++ })));
    // The queue workers' polled media last: their replies come on the channel their logs
    // come on, so start() resolves before the first report of what they then receive.
    await Promise.all(this.queueThreads.map((_, q) => this.request(q, { type: 'start-ingress', id: this.nextId++ })));
    this.watchdog = new Watchdog(
      this.layout,
      this.config.queues,
      this.hangMs,
      (q) => this.queueThreads[q].host.isReady,
      (q, slot, ms) => this.onHang(q, slot, ms),
    );
    this.watchdog.start();
  }

  private log(level: LogEvent['level'], message: string): void {
    if (this.listenerCount('log') > 0) this.emit('log', { level, message } satisfies LogEvent);
    else if (level !== 'info') process.stderr.write(`xswitch: ${level}: ${message}\n`);
  }

  // ── queue workers ─────────────────────────────────────────────────────────

  private spawnWorker(w: number, restarted: boolean, hungAt: [number, number, number] | null): void {
    const { port1, port2 } = new MessageChannel();
    const queues: number[] = [];
    for (let q = w; q < this.config.queues; q += this.layout.workers) queues.push(q);
    const sides: QueueSideData[] = [];
    this.config.ports.forEach((config, p) => {
      const s = this.sides[p];
      if (s.rx || s.tx) sides.push({ port: p, module: portModuleUrl(config.type), config, rx: s.rx, tx: s.tx, shared: this.sideShared[p], requests: this.sideRequests[p] });
    });
    const data: QueueWorkerData = {
      layout: this.layout,
      worker: w,
      queues: queues.map((q) => ({ queue: q, chain: this.queueThreads[q].chain })),
      ports: this.portInfo,
      control: port2,
      hungAt,
      restarted,
      ingress: this.ingressStarted && !this.stopping,
      sides,
      busyPoll: this.config.busyPoll ?? 0,
    };
    const worker = new Worker(workerUrl('switch/queue-worker'), { workerData: data, transferList: [port2], name: `xswitch-w${w}` });
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    let isReady = false;
    const t: WorkerThread = { worker, control: port1, queues, ready, exited: new Promise((res) => worker.once('exit', () => res())), retired: false, isReady: false };
    // A worker killed inside a breath leaves its busy flags set: the watchdog must not take
    // the replacement's start-up for a hang.
    for (const q of queues) Atomics.store(this.ctl, workerThread(this.layout, q) * CTL_WORDS + CTL_BUSY, 0);
    const name = `queue${queues.length > 1 ? 's' : ''} ${queues.join(', ')}`;
    port1.unref();
    worker.on('message', (m: { type: string; level?: LogEvent['level']; message?: string; queue?: number; ports?: string[]; id?: number; ok?: boolean; error?: string }) => {
      if (m.type === 'reply') this.settle(m.id!, m.ok!, undefined, m.error);
      else if (m.type === 'ready') {
        isReady = true;
        t.isReady = true;
        readyResolve();
      } else if (m.type === 'log') this.log(m.level ?? 'info', m.message ?? '');
      else if (m.type === 'finished') for (const port of m.ports ?? []) this.queueFinished(port, m.queue!);
      // Why it is about to exit (a port's queue side that could not open): the start's error.
      else if (m.type === 'failed') failure = m.message ?? null;
    });
    worker.on('error', (e) => this.log('error', `${name}: worker error: ${e.message}`));
    let failure: string | null = null;
    worker.on('exit', (code) => {
      port1.close();
      if (!isReady) readyReject(new Error(failure ?? `${name}: worker exited during start-up (code ${code})`));
      if (this.stopping || t.retired) return;
      if (!isReady && !restarted) return;
      this.log('warn', `${name}: worker exited (code ${code}); restarting it`);
      this.restartWorker(w);
    });
    this.workerThreads[w] = t;
    for (const q of queues) this.queueThreads[q].host = t;
  }

  private restartWorker(w: number): void {
    for (const q of this.workerThreads[w].queues) this.restarts[q]++;
    this.spawnWorker(w, true, null);
    this.workerThreads[w].ready.catch((e: Error) => this.log('error', e.message));
  }

  /** Terminates queue q's worker as a crash would (tests, and the watchdog). */
  async killQueueWorker(q: number): Promise<void> {
    await this.queueThreads[q].host.worker.terminate();
  }

  /** Waits until queue q's current worker is running (after a restart). */
  async queueReady(q: number): Promise<void> {
    await this.queueThreads[q].host.ready;
  }

  /** The watchdog found queue q stuck in chain slot `slot` for `stuckMs`. */
  private onHang(q: number, slot: number, stuckMs: number): void {
    if (this.stopping) return;
    const names = this.queueThreads[q].chainNames;
    const prog = names[Math.min(slot, names.length - 1)] ?? '?';
    this.log('error', `queue ${q}: program '${prog}' has run for ${stuckMs} ms on one packet; restarting the worker and dropping that packet`);
    this.spawnAfterKill(q);
  }

  /** Ends a hung worker, then starts a new one that drops the packet it hung on. */
  private spawnAfterKill(q: number): void {
    const old = this.queueThreads[q].host;
    const w = q % this.layout.workers;
    for (const hosted of old.queues) this.restarts[hosted]++;
    old.retired = true;
    // Not running any more: the watchdog leaves its queues alone until the replacement is up.
    old.isReady = false;
    // The old worker must be gone before the new one consumes: rings have one consumer.
    void old.worker.terminate().then(() => {
      const base = workerThread(this.layout, q) * CTL_WORDS;
      // The worker is gone: its last stores are visible (terminate joined the thread).
      const hungAt: [number, number, number] = [q, this.ctl[base + CTL_INPUT], this.ctl[base + CTL_POS]];
      Atomics.store(this.ctl, base + CTL_BUSY, 0);
      if (this.stopping) return;
      this.spawnWorker(w, true, hungAt);
      this.workerThreads[w].ready.catch((e: Error) => this.log('error', e.message));
    });
  }

  /** A queue worker's RX side of a port finished producing; the port has finished when every queue's has. */
  private queueFinished(name: string, q: number): void {
    const d = this.deviceThreads[this.portIndex(name)];
    d.finishedQueues.add(q);
    if (!d.finished && d.finishedQueues.size === this.config.queues) {
      d.finished = true;
      this.emit('finished', name);
    }
  }

  private request<T>(q: number, req: DistributiveOmit<QueueRequest, 'queue'>): Promise<T> {
    const t = this.queueThreads[q].host;
    const p = new Promise<T>((resolve, reject) => this.pendingReplies.set(req.id, { resolve: resolve as (v: unknown) => void, reject }));
    t.control.postMessage({ ...req, queue: q });
    const base = workerThread(this.layout, q) * CTL_WORDS;
    // The message is on the port before the flag is set; pairs with the worker's
    // Atomics.load(CTL_COMMAND) after each breath. Ringing the doorbell wakes it if asleep.
    Atomics.store(this.ctl, base + CTL_COMMAND, CMD_MESSAGE);
    new Doorbell(this.ctl, queueDoorbell(this.layout, q)).ring();
    return p;
  }

  private settle(id: number, ok: boolean, value: unknown, error?: string): void {
    const p = this.pendingReplies.get(id);
    if (!p) return;
    this.pendingReplies.delete(id);
    if (ok) p.resolve(value);
    else p.reject(new Error(error ?? 'request failed'));
  }

  /** Replaces the program chain on `queues` between two breaths; no packet is lost. */
  async replacePrograms(queues: number[], refs: ProgramRefInput[]): Promise<void> {
    for (const q of queues) if (!(q >= 0 && q < this.config.queues)) throw new ProgramError(`queue ${q} does not exist (0 … ${this.config.queues - 1})`);
    await this.swapChain(queues, await this.loadChain(refs), chainKey(refs));
  }

  /**
   * Makes every queue run what `perQueue` (the configuration's `programs:` list) gives it,
   * DEFAULT_CHAIN where it names none, as Snabb's engine.configure does: first the actions
   * (queues whose chain differs from the one running, grouped by chain), then every chain of
   * them is loaded and built before any queue swaps (all or nothing), then the swaps, each
   * between two breaths. A queue whose chain is unchanged is not touched.
   */
  async configurePrograms(perQueue: readonly QueuePrograms[]): Promise<void> {
    const actions = new Map<string, { queues: number[]; refs: ProgramRefInput[] }>();
    for (let q = 0; q < this.config.queues; q++) {
      const refs = chainOf(perQueue, q);
      const key = chainKey(refs);
      if (key === this.queueThreads[q].chainKey) continue;
      const a = actions.get(key) ?? { queues: [], refs };
      a.queues.push(q);
      actions.set(key, a);
    }
    const loaded = [];
    for (const [key, a] of actions) loaded.push({ key, queues: a.queues, chain: await this.loadChain(a.refs) });
    for (const l of loaded) await this.swapChain(l.queues, l.chain, l.key);
  }

  private async swapChain(queues: number[], { chain, names }: { chain: LoadedProgram[]; names: string[] }, key: string): Promise<void> {
    await Promise.all(queues.map((q) => this.request(q, { type: 'chain', id: this.nextId++, chain })));
    for (const q of queues) {
      this.queueThreads[q].chain = chain;
      this.queueThreads[q].chainNames = names;
      this.queueThreads[q].chainKey = key;
    }
  }

  /** Program names running on each queue. */
  programs(): string[][] {
    return this.queueThreads.map((t) => t.chainNames);
  }

  /** Binds a socket endpoint (module exporting openEndpoint(shared)) to queue q in slot `slot`. */
  async bindEndpoint(q: number, slot: number, module: string, shared: unknown): Promise<void> {
    await this.request(q, { type: 'endpoint', id: this.nextId++, slot, module, shared });
  }

  /** Routes XDP_PASS on every queue to a local-stack endpoint per queue (module exporting openEndpoint). */
  async setPassEndpoints(module: string, sharedPerQueue: unknown[]): Promise<void> {
    await Promise.all(sharedPerQueue.map((shared, q) => this.request(q, { type: 'pass-endpoint', id: this.nextId++, module, shared })));
  }

  /**
   * Arms (module exporting openTap(shared)) or disarms (null) a packet tap on queue q, after
   * the program (with its verdict) or at entry (before it runs).
   */
  async setTap(q: number, module: string | null, shared: unknown, stage: 'entry' | 'exit' = 'exit'): Promise<void> {
    await this.request(q, { type: 'tap', id: this.nextId++, module, shared, stage });
  }

  // ── device threads ────────────────────────────────────────────────────────

  private spawnDevice(p: number, config: PortConfig, type: PortType): Promise<void> {
    const data: DeviceWorkerData = {
      layout: this.layout,
      port: p,
      config,
      module: portModuleUrl(config.type),
      steering: this.steering.get(config.name) ?? null,
      rxOnQueues: this.sides[p].rx,
      shared: this.sideShared[p],
    };
    const worker = new Worker(workerUrl('switch/device'), { workerData: data, name: `xswitch-${config.name}` });
    let closedResolve!: () => void;
    const d: DeviceThread = {
      worker,
      type,
      config,
      finished: false,
      closed: new Promise((res) => (closedResolve = res)),
      exited: false,
      rxOnQueues: this.sides[p].rx,
      finishedQueues: new Set(),
    };
    this.deviceThreads[p] = d;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: { type: string; id?: number; ok?: boolean; value?: unknown; error?: string; level?: LogEvent['level']; message?: string }) => {
        switch (m.type) {
          case 'ready':
            return resolve();
          case 'log':
            return this.log(m.level ?? 'info', m.message ?? '');
          case 'reply':
            return this.settle(m.id!, m.ok!, m.value, m.error);
          case 'finished':
            d.finished = true;
            this.emit('finished', config.name);
            return;
          case 'closed':
            closedResolve();
            return;
          case 'fatal':
            this.log('error', m.message ?? 'device failed');
            reject(new Error(m.message));
            return;
        }
      });
      worker.on('error', (e) => {
        this.log('error', `port ${config.name}: ${e.message}`);
        reject(e);
      });
      worker.on('exit', () => {
        d.exited = true;
        closedResolve();
        reject(new Error(`port ${config.name}: device thread exited during start-up`));
      });
    });
  }

  private deviceRequest<T>(p: number, req: DeviceRequest): Promise<T> {
    const d = this.deviceThreads[p];
    if (d.exited) return Promise.reject(new Error(`port ${d.config.name}: its device thread has exited`));
    const promise = new Promise<T>((resolve, reject) => this.pendingReplies.set(req.id, { resolve: resolve as (v: unknown) => void, reject }));
    this.deviceThreads[p].worker.postMessage(req);
    return promise;
  }

  private portIndex(name: string): number {
    const i = this.config.ports.findIndex((p) => p.name === name);
    if (i < 0) throw new Error(`no port named '${name}' (ports: ${this.config.ports.map((p) => p.name).join(', ')})`);
    return i;
  }

  /** The doorbell of the worker hosting queue q: what an application rings to wake it (XskSocket.attachSwitchBell). */
  queueDoorbell(q: number): DoorbellHandle {
    if (!(Number.isInteger(q) && q >= 0 && q < this.config.queues)) throw new Error(`queue ${q} does not exist (0 … ${this.config.queues - 1})`);
    // Run to completion: q shares the doorbell of the worker hosting it (layout.queueDoorbell).
    return { sab: this.ctl.buffer as SharedArrayBuffer, index: queueDoorbell(this.layout, q) };
  }

  /** Sends a control request to a port (attach a VM, …) and returns its answer. */
  async portControl(name: string, msg: unknown): Promise<unknown> {
    const p = this.portIndex(name);
    const value = await this.deviceRequest(p, { type: 'control', id: this.nextId++, msg });
    if (value === null || typeof value !== 'object' || !('queueSides' in value)) return value;
    // Port.control: the device sends its queue sides something (a VM's memory) through us.
    const { queueSides, ...rest } = value as { queueSides: unknown };
    if (this.sides[p].rx || this.sides[p].tx) {
      // A restarted worker gets the latest only: each request replaces what came before.
      this.sideRequests[p] = [queueSides];
      await Promise.all(this.queueThreads.map((_, q) => this.request(q, { type: 'side', id: this.nextId++, port: p, msg: queueSides })));
    }
    return rest;
  }

  /** Whether port `name`'s RX queues are received by the queue workers themselves (run to completion). */
  receivesOnQueues(name: string): boolean {
    return this.sides[this.portIndex(name)].rx;
  }

  /** Installs a new steerer on a port (flows/ publishes live rule changes itself). */
  setSteering(name: string, module: string, shared: unknown): Promise<void> {
    return this.deviceRequest(this.portIndex(name), { type: 'steering', id: this.nextId++, module, shared });
  }

  portStatus(name: string): Promise<Record<string, unknown>> {
    return this.deviceRequest(this.portIndex(name), { type: 'status', id: this.nextId++ });
  }

  /** Resolves when a producing port (gen with a count, a replay) has produced everything. */
  waitFinished(name: string): Promise<void> {
    const d = this.deviceThreads[this.portIndex(name)];
    if (d.finished) return Promise.resolve();
    return new Promise((resolve) => {
      const on = (n: string) => {
        if (n === name) {
          this.off('finished', on);
          resolve();
        }
      };
      this.on('finished', on);
    });
  }

  /** Resolves when every packet that entered has left the queues and tx rings (traffic stopped). */
  async settled(timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.ringFrames() !== 0) {
      if (Date.now() > end) throw new Error(`switch did not settle in ${timeoutMs} ms (${this.ringFrames()} frames still queued)`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  // ── counters ──────────────────────────────────────────────────────────────

  stats(): SwitchStats {
    const queues: Record<string, number> = {};
    this.queueBlocks.forEach((b, q) => Object.assign(queues, b.snapshot(`rx${q}_`)));
    const ports: Record<string, Record<string, number>> = {};
    this.portBlocks.forEach((b, p) => {
      const c = b.snapshot();
      // Run to completion: what the queue workers did on this port's queue sides adds in.
      for (const qb of this.portQueueBlocks[p]) for (let i = 0; i < qb.names.length; i++) c[qb.names[i]] += qb.values[i];
      ports[this.config.ports[p].name] = { ...c, ...this.poolBlocks[p].snapshot('rx_pp_') };
    });
    return { queues, ports };
  }

  /** `ethtool -S`-style flat list: queue counters, totals, then <port>.<counter>. */
  flatStats(): Record<string, number> {
    const s = this.stats();
    const out: Record<string, number> = { ...s.queues };
    for (const name of ['packets', 'bytes', ...QUEUE_EXIT_COUNTERS]) {
      let sum = 0;
      for (let q = 0; q < this.config.queues; q++) sum += s.queues[`rx${q}_${name}`];
      out[`rx_${name}`] = sum;
    }
    for (const [port, c] of Object.entries(s.ports)) for (const [k, v] of Object.entries(c)) out[`${port}.${k}`] = v;
    return out;
  }

  /** Queue-side invariant: packets − Σ exit counters, over all queues (0 in every read: each breath publishes both at once). */
  unaccounted(): number {
    let d = 0;
    for (const b of this.queueBlocks) {
      const c = b.snapshot(); // one whole publish: its packets with their exits
      d += c.packets;
      for (const n of QUEUE_EXIT_COUNTERS) d -= c[n];
    }
    return d;
  }

  // ── accounting ────────────────────────────────────────────────────────────

  /** Frames sitting in packet rings now. */
  ringFrames(): number {
    return ringFrames(this.layout);
  }

  /** Where every frame is (switch/accounting.ts); meaningful when threads are idle. */
  accounting(): Accounting {
    return frameAccounting(this.layout);
  }

  // ── stop ──────────────────────────────────────────────────────────────────

  async stop(): Promise<StopSummary> {
    if (this.stopping) throw new Error('switch is already stopping');
    this.stopping = true;
    this.watchdog?.stop();
    const stopIngressFailures = await this.stopIngress();
    // Queues drain their rx and cpu rings, then exit.
    for (let q = 0; q < this.queueThreads.length; q++) {
      const base = workerThread(this.layout, q) * CTL_WORDS;
      Atomics.store(this.ctl, base + CTL_COMMAND, CMD_STOP); // pairs with the worker's load after each breath
      new Doorbell(this.ctl, queueDoorbell(this.layout, q)).ring();
    }
    await withTimeout(Promise.all(this.workerThreads.map((t) => t.exited)), 10_000, 'queue workers did not stop');
    // Devices drain what the queues sent them, close their ports, and exit.
    for (const d of this.deviceThreads) d.worker.postMessage({ type: 'close', id: this.nextId++ } satisfies DeviceRequest);
    await withTimeout(Promise.all(this.deviceThreads.map((d) => d.closed)), 10_000, 'ports did not close');
    await Promise.all(this.deviceThreads.map((d) => d.worker.terminate()));
    return { durationMs: Date.now() - this.startedAt, stats: this.stats(), accounting: this.accounting(), unaccounted: this.unaccounted(), stopIngressFailures };
  }

  /**
   * Asks every device thread to stop taking frames in; returns how many could not. A failure
   * does not stop the shutdown (the queues drain and stop regardless) but is counted and
   * logged: that port's late frames may be missing from the accounting.
   */
  private async stopIngress(): Promise<number> {
    const results = await Promise.allSettled(
      this.deviceThreads.map((d, p) => withTimeout(this.deviceRequest(p, { type: 'stop-ingress', id: this.nextId++ }), STOP_INGRESS_MS, `port ${d.config.name}: no answer to stop-ingress`)),
    );
    let failures = 0;
    results.forEach((r, p) => {
      if (r.status === 'fulfilled') return;
      failures++;
      const why = (r.reason as Error)?.message ?? String(r.reason);
      this.log('error', `stop: could not stop ingress of port ${this.config.ports[p].name} (${why}); frames it took in while the queues drained may be missing from the accounting`);
    });
    return failures;
  }

  /** Ends every thread at once (start-up failures). */
  private async kill(): Promise<void> {
    this.stopping = true;
    this.watchdog?.stop();
    await Promise.all([...this.workerThreads, ...this.deviceThreads].filter(Boolean).map((t) => t.worker.terminate()));
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A port the device thread polls continuously (a replay, a generator on its device thread): it spins. */
function pollsOnDevice(p: PortConfig): boolean {
  return p.type === 'pcap' ? p.read !== undefined : p.type === 'gen' || p.type === 'virtio';
}

/** What identifies a chain: each program's name, parameters and continueOn, in order. */
function chainKey(refs: readonly ProgramRefInput[]): string {
  return JSON.stringify(refs.map((r) => [r.name, r.params ?? {}, r.continueOn ?? null]));
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`${what} within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

export { POOL_COUNTERS };
export type { Accounting };
