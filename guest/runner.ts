/**
 * Starts a VM: guest memory (one SharedArrayBuffer), a transport, and a worker thread
 * running a guest program over the virtio-net driver (guest/vm-worker.ts).
 *
 *   const vm = await startVm({ program: 'examples/vm/responder', params: { ip: '10.0.0.1' },
 *                              attach: (msg) => sw.portControl('vm0', msg) });
 *   vm.counters()  …  await vm.stop()
 *
 * `attach` hands memory and transport to the switch's virtio port; the worker starts only
 * once the port answered, so the port's reply (its device thread's doorbell) reaches the
 * driver. Runs on any thread with an event loop.
 */
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { workerUrl } from '../lib/worker-url.js';
import { createTransport, kCommand, kCommandSeq, kGuestBell, type VirtioAttach } from '../queues/virtio-transport.js';
import { CMD_PAUSE_RX, CMD_RESET, CMD_RESUME_RX, CMD_STOP, GUEST_COUNTER_SLOTS } from './program.js';
import type { DriverOptions } from './virtio-net-driver.js';
import type { VmWorkerData } from './vm-worker.js';

export interface VmOptions {
  /** A guest program: a project path without extension ('examples/vm/responder', run from dist/) or a file URL. */
  program: string | URL;
  params?: Record<string, unknown>;
  /** Guest memory size in bytes (default 16 MiB). */
  memoryBytes?: number;
  driver?: Omit<DriverOptions, 'deviceBell'>;
  autoReset?: boolean;
  attach(msg: VirtioAttach): Promise<unknown> | unknown;
  detach?(): Promise<unknown> | unknown;
  /** Milliseconds to wait for the guest to come up (default 15000). */
  startTimeoutMs?: number;
}

export class Vm {
  names: string[] = [];
  mac = '';
  pairs = 0;
  features: [number, number] = [0, 0];
  private readonly t: Int32Array;
  private readonly c: Float64Array;
  private acks = new Map<number, () => void>();
  private exited: Promise<number>;

  constructor(
    readonly worker: Worker,
    readonly memory: SharedArrayBuffer,
    readonly transport: SharedArrayBuffer,
    counters: SharedArrayBuffer,
    private readonly opts: VmOptions,
  ) {
    this.t = new Int32Array(transport);
    this.c = new Float64Array(counters);
    this.exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.on('message', (m: { type: string; seq?: number }) => {
      if (m.type === 'ack' && m.seq !== undefined) this.acks.get(m.seq)?.();
    });
  }

  /** The guest's counters by name (read from shared memory; at most one loop old). */
  counters(): Record<string, number> {
    const out: Record<string, number> = {};
    this.names.forEach((n, i) => (out[n] = this.c[i]));
    return out;
  }

  counter(name: string): number {
    const i = this.names.indexOf(name);
    if (i < 0) throw new Error(`VM has no counter '${name}'`);
    return this.c[i];
  }

  /** Resets the virtio device from inside the guest and brings it up again. */
  reset(): Promise<void> {
    return this.command(CMD_RESET);
  }
  /** The guest stops reposting receive buffers (the switch runs out of them and drops). */
  pauseRx(): Promise<void> {
    return this.command(CMD_PAUSE_RX);
  }
  resumeRx(): Promise<void> {
    return this.command(CMD_RESUME_RX);
  }

  /** Stops the guest (it resets its device first) and detaches it from the switch. */
  async stop(): Promise<void> {
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    this.post(CMD_STOP);
    await this.exited;
    clearTimeout(timer);
    await this.opts.detach?.();
  }

  private command(cmd: number): Promise<void> {
    const seq = this.post(cmd);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`guest did not answer command ${cmd}`)), 10_000);
      this.acks.set(seq, () => {
        clearTimeout(timer);
        this.acks.delete(seq);
        resolve();
      });
    });
  }

  private post(cmd: number): number {
    // Read by the guest after it sees the new kCommandSeq below (pairs with its Atomics.load(kCommand)).
    Atomics.store(this.t, kCommand, cmd);
    // Pairs with the guest loop's Atomics.load(kCommandSeq); the bell wakes it from Atomics.wait.
    const seq = (Atomics.add(this.t, kCommandSeq, 1) + 1) | 0;
    Atomics.add(this.t, kGuestBell, 1);
    Atomics.notify(this.t, kGuestBell);
    return seq;
  }
}

export function programUrl(program: string | URL): string {
  if (program instanceof URL) return program.href;
  if (program.startsWith('file:')) return program;
  if (path.isAbsolute(program)) return pathToFileURL(program).href;
  return workerUrl(program).href;
}

export async function startVm(opts: VmOptions): Promise<Vm> {
  const memory = new SharedArrayBuffer(opts.memoryBytes ?? 16 << 20);
  const transport = createTransport();
  const counters = new SharedArrayBuffer(GUEST_COUNTER_SLOTS * 8);
  const reply = (await opts.attach({ op: 'attach', memory, transport })) as { deviceBell?: DriverOptions['deviceBell']; queueBells?: DriverOptions['queueBells'] } | undefined;
  const data: VmWorkerData = {
    memory,
    transport,
    counters,
    program: programUrl(opts.program),
    params: opts.params ?? {},
    driver: { ...(opts.driver ?? {}), deviceBell: reply?.deviceBell ?? null, queueBells: reply?.queueBells ?? [] },
    autoReset: opts.autoReset ?? true,
  };
  const worker = new Worker(workerUrl('guest/vm-worker'), { workerData: data });
  const vm = new Vm(worker, memory, transport, counters, opts);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error('guest did not come up (is the virtio port polling?)'));
    }, opts.startTimeoutMs ?? 15_000);
    const onMsg = (m: { type: string; names?: string[]; mac?: string; pairs?: number; features?: [number, number]; message?: string }) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        worker.off('message', onMsg);
        vm.names = m.names!;
        vm.mac = m.mac!;
        vm.pairs = m.pairs!;
        vm.features = m.features!;
        resolve();
      } else if (m.type === 'fatal') {
        clearTimeout(timer);
        reject(new Error(`guest failed: ${m.message}`));
      }
    };
    worker.on('message', onMsg);
    worker.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  return vm;
}
