/**
 * Running an AF_XDP-style application in its own worker thread: startXskApp() in the
 * parent, runXskApp() as the body of the worker module (examples/xsk/*.ts).
 *
 * The app loop: receive a batch → handler → refill FILL → reclaim COMPLETION → flush TX;
 * when idle, sleep on the socket's app doorbell. The parent stops it through a shared
 * word (the worker never returns to its event loop while running) and reads the app's
 * counters from a shared Float64Array.
 */
import { MessageChannel, Worker, parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import type { DoorbellHandle } from '../../queues/doorbell.js';
import { XskSocket, type XskReceiver } from './xsk-socket.js';
import type { XskShared } from './xsk-shared.js';
import { workerUrl } from '../../lib/worker-url.js';

const kStop = 0;
/** 1: a doorbell handle waits on the `bells` port (the app loop has no event loop to get it). */
const kBell = 1;
const APP_COUNTER_SLOTS = 16;
/** Free frames the app gathers before it refills the FILL ring (its batch). */
const REFILL_BATCH = 64;

interface AppData {
  shared: XskShared;
  control: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  params: Record<string, unknown>;
  bells: MessagePort;
}

export interface XskApp {
  /** Counter names the app declared → values. */
  counters(): Record<string, number>;
  stop(): Promise<void>;
  /** Has the app's socket ring the queue worker's doorbell (the handle bindXsk returned). */
  attachSwitchBell(h: DoorbellHandle): void;
  readonly worker: Worker;
}

/** Starts `module` ('examples/xsk/rx-drop' or a file URL) on a worker with the socket. */
export async function startXskApp(module: string, shared: XskShared, params: Record<string, unknown> = {}): Promise<XskApp> {
  const control = new SharedArrayBuffer(8);
  const counters = new SharedArrayBuffer(APP_COUNTER_SLOTS * 8);
  const url = module.startsWith('file:') ? new URL(module) : workerUrl(module);
  const bells = new MessageChannel();
  const worker = new Worker(url, { workerData: { shared, control, counters, params, bells: bells.port2 } satisfies AppData, transferList: [bells.port2] });
  const names = await new Promise<string[]>((resolve, reject) => {
    worker.once('message', (m: { type: string; names?: string[]; message?: string }) => (m.type === 'ready' ? resolve(m.names!) : reject(new Error(m.message))));
    worker.once('error', reject);
  });
  const c = new Float64Array(counters);
  const ctl = new Int32Array(control);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const wake = new Int32Array(shared.wake);
  return {
    worker,
    counters: () => Object.fromEntries(names.map((n, i) => [n, c[i]])),
    attachSwitchBell(h: DoorbellHandle) {
      bells.port1.postMessage(h);
      // Pairs with the app loop's Atomics.load(kBell); the app bell wakes it from wait().
      Atomics.store(ctl, kBell, 1);
      Atomics.add(wake, 0, 1);
      Atomics.notify(wake, 0);
    },
    async stop() {
      // Pairs with the app loop's Atomics.load(kStop); the bell wakes it from wait().
      Atomics.store(ctl, kStop, 1);
      const wake = new Int32Array(shared.wake);
      Atomics.add(wake, 0, 1);
      Atomics.notify(wake, 0);
      const t = setTimeout(() => void worker.terminate(), 5000);
      await exited;
      clearTimeout(t);
      bells.port1.close();
    },
  };
}

export interface XskAppBody {
  counters: readonly string[];
  /** Called with the socket and the counters once; returns the per-packet receiver. */
  setup(sock: XskSocket, c: Float64Array, params: Record<string, unknown>): XskReceiver;
}

/** The body of an app worker module. */
export function runXskApp(body: XskAppBody): void {
  const data = workerData as AppData;
  const sock = XskSocket.attach(data.shared);
  const c = new Float64Array(data.counters);
  const ctl = new Int32Array(data.control);
  const onPacket = body.setup(sock, c, data.params);
  sock.refill();
  parentPort!.postMessage({ type: 'ready', names: body.counters });
  let idle = 0;
  // Pairs with Atomics.store(kStop) in stop().
  while (Atomics.load(ctl, kStop) === 0) {
    // Pairs with Atomics.store(kBell) in attachSwitchBell(); cleared only once the message is in.
    if (Atomics.load(ctl, kBell) !== 0) {
      const m = receiveMessageOnPort(data.bells);
      if (m !== undefined) {
        Atomics.store(ctl, kBell, 0);
        sock.attachSwitchBell(m.message as DoorbellHandle);
      }
    }
    const n = sock.receive(64, onPacket);
    sock.reclaim();
    // FILL in batches (xdpsock refills by its batch size): a refill per small receive is a
    // producer-index store the switch's worker reads from another core, per packet or two
    // when the app keeps up with it.
    if (sock.freeFrames >= REFILL_BATCH || n === 0) sock.refill();
    sock.flushTx();
    if (n !== 0) idle = 0;
    else if (++idle > 128) sock.wait(10);
  }
}
