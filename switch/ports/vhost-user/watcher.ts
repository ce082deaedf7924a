/**
 * Waits on the port's descriptors without blocking its thread: the listening socket, the
 * connection, the rings' kick eventfds. A helper thread (poll-thread.ts) blocks in poll(2)
 * on them and reports what is readable through shared words; `onReady` runs on this
 * thread's event loop (Atomics.waitAsync) with the readable fds, and only then may the
 * helper poll again. Changing the set writes a wake eventfd so the poll in flight returns
 * and the next one sees the new set.
 *
 * This is the helper that turns kicks into wake-ups: a guest kick (sent only when the ring
 * asked for one) makes the port ring its thread's doorbell instead of waiting out an idle
 * sleep. One thread per port, its own: no pool thread is held, so no port, file or DNS
 * request waits behind another port's poll.
 */
import { Worker } from 'node:worker_threads';
import { close, eventfdCreate, eventfdWrite } from '../../../lib/native/index.js';
import { workerUrl } from '../../../lib/worker-url.js';
import { MAX_SLOTS, W } from './watcher-words.js';

export interface Readiness {
  /** Readable (or hung up / in error) descriptors, among those last passed to setFds. */
  fds: number[];
}

export class Watcher {
  private readonly w: Int32Array;
  private readonly wakeFd: number;
  private fds: number[] = [];
  private worker: Worker | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    readonly slots: number,
    private readonly onReady: (ready: Readiness) => void,
    private readonly onError: (e: Error) => void,
  ) {
    if (slots > MAX_SLOTS) throw new RangeError(`watcher: ${slots} slots, at most ${MAX_SLOTS}`);
    this.w = new Int32Array(new SharedArrayBuffer(W.words * 4));
    this.wakeFd = eventfdCreate();
    this.w[W.wakeFd] = this.wakeFd;
  }

  /** The descriptors to watch for input from the next poll on (at most `slots`). */
  setFds(fds: number[]): void {
    if (fds.length > this.slots) throw new RangeError(`watcher: ${fds.length} descriptors, at most ${this.slots}`);
    if (fds.length === this.fds.length && fds.every((f, i) => f === this.fds[i])) return;
    this.fds = [...fds];
    // The helper reads count and fds with Atomics.load at the top of each poll.
    for (let i = 0; i < fds.length; i++) Atomics.store(this.w, W.fds + i, fds[i]);
    Atomics.store(this.w, W.count, fds.length);
    if (this.worker !== null) eventfdWrite(this.wakeFd, 1);
  }

  start(): void {
    if (this.worker !== null) return;
    this.worker = new Worker(workerUrl('switch/ports/vhost-user/poll-thread'), { workerData: { words: this.w.buffer, slots: this.slots }, name: 'xswitch-vhost-poll' });
    this.worker.on('error', (e) => this.onError(e));
    this.loop = this.run();
  }

  /** Ends the helper thread and the wait loop, and closes the wake eventfd. */
  async stop(): Promise<void> {
    this.stopped = true;
    // Pairs with the helper's Atomics.load(W.stop) after its poll returns.
    Atomics.store(this.w, W.stop, 1);
    Atomics.notify(this.w, W.ack);
    Atomics.add(this.w, W.seq, 1);
    Atomics.notify(this.w, W.seq);
    eventfdWrite(this.wakeFd, 1);
    if (this.worker !== null) {
      const exited = new Promise((r) => this.worker!.once('exit', r));
      await exited;
    }
    await this.loop;
    close(this.wakeFd);
  }

  private async run(): Promise<void> {
    let seen = 0;
    while (!this.stopped) {
      // Pairs with the helper's Atomics.add/notify of W.seq after it stored the ready flags.
      const r = Atomics.waitAsync(this.w, W.seq, seen);
      if (r.async) await r.value;
      if (this.stopped) break;
      seen = Atomics.load(this.w, W.seq);
      const ready: number[] = [];
      for (let i = 0; i < this.slots; i++) {
        const fd = Atomics.load(this.w, W.ready + i);
        if (fd >= 0) ready.push(fd);
      }
      // Only fds still in the set count (one closed meanwhile may have been reused).
      const current = ready.filter((f) => this.fds.includes(f));
      if (current.length > 0) {
        try {
          this.onReady({ fds: current });
        } catch (e) {
          this.onError(e as Error);
        }
      }
      // Pairs with the helper's Atomics.wait on W.ack: it polls again now.
      Atomics.store(this.w, W.ack, seen);
      Atomics.notify(this.w, W.ack);
    }
  }
}
