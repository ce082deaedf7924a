/**
 * Running an AF_XDP-style application in its own worker thread: startXskApp() in the
 * parent, runXskApp() as the body of the worker module (examples/xsk/*.ts).
 *
 * The app loop: receive a batch → handler → refill FILL → reclaim COMPLETION → flush TX;
 * when idle, sleep on the socket's app doorbell. The parent stops it through a shared
 * word (the worker never returns to its event loop while running) and reads the app's
 * counters from a shared Float64Array.
 */
import { Worker, parentPort, workerData } from 'node:worker_threads';
import { XskSocket, type XskReceiver } from './xsk-socket.js';
import type { XskShared } from './xsk-shared.js';
import { workerUrl } from '../../lib/worker-url.js';

const kStop = 0;
const APP_COUNTER_SLOTS = 16;

interface AppData {
  shared: XskShared;
  control: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  params: Record<string, unknown>;
}

export interface XskApp {
  /** Counter names the app declared → values. */
  counters(): Record<string, number>;
  stop(): Promise<void>;
  readonly worker: Worker;
}

/** Starts `module` ('examples/xsk/rx-drop' or a file URL) on a worker with the socket. */
export async function startXskApp(module: string, shared: XskShared, params: Record<string, unknown> = {}): Promise<XskApp> {
  const control = new SharedArrayBuffer(8);
  const counters = new SharedArrayBuffer(APP_COUNTER_SLOTS * 8);
  const url = module.startsWith('file:') ? new URL(module) : workerUrl(module);
  const worker = new Worker(url, { workerData: { shared, control, counters, params } satisfies AppData });
  const names = await new Promise<string[]>((resolve, reject) => {
    worker.once('message', (m: { type: string; names?: string[]; message?: string }) => (m.type === 'ready' ? resolve(m.names!) : reject(new Error(m.message))));
    worker.once('error', reject);
  });
  const c = new Float64Array(counters);
  const ctl = new Int32Array(control);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    worker,
    counters: () => Object.fromEntries(names.map((n, i) => [n, c[i]])),
    async stop() {
      // Pairs with the app loop's Atomics.load(kStop); the bell wakes it from wait().
      Atomics.store(ctl, kStop, 1);
      const wake = new Int32Array(shared.wake);
      Atomics.add(wake, 0, 1);
      Atomics.notify(wake, 0);
      const t = setTimeout(() => void worker.terminate(), 5000);
      await exited;
      clearTimeout(t);
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
    const n = sock.receive(64, onPacket);
    sock.reclaim();
    sock.refill();
    sock.flushTx();
    if (n !== 0) idle = 0;
    else if (++idle > 128) sock.wait(10);
  }
}
