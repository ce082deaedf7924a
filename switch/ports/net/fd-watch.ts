/**
 * Wakes a polled port's device thread as soon as its descriptor is readable, instead of at
 * the device loop's next idle tick (1 ms): a thread of its own blocks in poll() on the
 * descriptor and rings the device's doorbell. The port arms it whenever poll() found
 * nothing; the thread disarms itself when it rings, so a busy port costs it nothing.
 *
 * A port driven by events rather than poll() passes `onReady` instead: arm() then waits
 * (Atomics.waitAsync, one promise per wake-up, none per packet) for the thread to disarm,
 * and calls it. Without either, arm() does nothing and the port is only polled.
 */
import { Worker } from 'node:worker_threads';
import * as native from '../../../lib/native/index.js';
import { workerUrl } from '../../../lib/worker-url.js';
import type { PortIO } from '../port.js';

/** How long an event-driven port waits for a wake-up before it looks at its descriptor anyway. */
const RECHECK_MS = 1000;

export class FdWatch {
  private readonly armed = new Int32Array(new SharedArrayBuffer(4));
  private readonly worker: Worker | null;
  private readonly stopFd: number;

  private readonly onReady: (() => void) | null;
  /** Resolves once the watch thread runs (a wake-up before then is late, never lost: it polls when it starts). */
  readonly online: Promise<void>;

  constructor(io: PortIO, fd: number, onReady?: () => void) {
    const bell = io.doorbell;
    this.onReady = onReady ?? null;
    if (bell === undefined && onReady === undefined) {
      this.worker = null;
      this.stopFd = -1;
      this.online = Promise.resolve();
      return;
    }
    this.stopFd = native.eventfdCreate(0);
    this.worker = new Worker(workerUrl('switch/ports/net/fd-watch-thread'), {
      workerData: { fd, stopFd: this.stopFd, armed: this.armed.buffer, doorbell: onReady === undefined ? bell!.words.buffer : null, doorbellIndex: bell?.index ?? 0 },
    });
    this.worker.on('error', (e) => io.log('error', `descriptor watch thread: ${e.message}`));
    this.worker.unref();
    this.online = new Promise((r) => this.worker!.once('online', () => r()));
  }

  /** The port found nothing: watch the descriptor until it is readable. Cheap when already armed. */
  arm(): void {
    if (this.worker === null) return;
    if (Atomics.load(this.armed, 0) === 0) {
      // Pairs with the Atomics.wait/load in the watch thread.
      Atomics.store(this.armed, 0, 1);
      Atomics.notify(this.armed, 0, 1);
    }
    if (this.onReady !== null && !this.waiting) this.waitReady();
  }

  /** One wait at a time (the flag), so a re-check never doubles the wake-ups. */
  private waiting = false;

  private waitReady(): void {
    this.waiting = true;
    // Pairs with the thread's Atomics.store(0) + notify when the descriptor is readable.
    const w = Atomics.waitAsync(this.armed, 0, 1, RECHECK_MS);
    if (w.async) void w.value.then(this.ready);
    else queueMicrotask(this.readyNow);
  }

  private readonly readyNow = (): void => this.ready('not-equal');

  /**
   * Readable (the thread disarmed), or RECHECK_MS without a wake-up: the port looks anyway
   * (one empty receive a second when idle), so a wake-up that went missing costs a second,
   * never a port that stops receiving. Its onReady re-arms.
   *
   * Woken while the word still says 1 (watch), the port waits again. That wake-up is the
   * thread's notify for an earlier round, come late: the thread stored 0, the port saw it
   * (`not-equal`), drained, re-armed (1) and waited, and only then did the thread's notify
   * run. Dropping it left no wait pending, no recheck either, and the thread's next disarm
   * notified nobody: the port stopped receiving with its socket full (a TCP stream through
   * the vxlan bench stalled one run in ten).
   */
  private readonly ready = (r: string): void => {
    this.waiting = false;
    const a = Atomics.load(this.armed, 0);
    if (a === 0 || (a === 1 && r === 'timed-out')) this.onReady!();
    else if (a === 1) this.waitReady();
  };

  /** Ends the thread (before the descriptor is closed: it must not poll a reused number). */
  async stop(): Promise<void> {
    if (this.worker === null) return;
    const exited = new Promise((r) => this.worker!.once('exit', r));
    // Pairs with the watch thread's loads of the armed word; the eventfd ends a poll in progress.
    Atomics.store(this.armed, 0, 2);
    Atomics.notify(this.armed, 0, 1);
    native.eventfdWrite(this.stopFd, 1);
    await exited;
    native.close(this.stopFd);
  }
}
