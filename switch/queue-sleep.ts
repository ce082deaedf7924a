/**
 * How a queue worker that hosts sides with wake descriptors (QueuePort.wakeFds: an
 * AF_PACKET socket, a kick eventfd) sleeps: the NAPI model — busy-poll for a budget, then
 * wait for an interrupt. Here the interrupt is the descriptor becoming readable, so the
 * worker blocks in poll() on its descriptors plus an eventfd, and returns the moment the
 * kernel hands a packet over: one wake-up between the wire and the worker.
 *
 * Producers that only know the worker's doorbell word (device threads, other workers'
 * cpumap rings, socket applications, the supervisor) keep ringing it as before
 * (Atomics.add + notify): a helper thread (queue-sleep-thread.ts) waits on that word and,
 * when it moves while the worker is in poll(), writes the eventfd. A doorbell wake-up thus
 * costs one hop more than a descriptor's; the media the worker polls itself need none.
 *
 *   sleeping word: 0 awake · 1 in poll() (or about to be) — written by the worker only
 *
 * Lost wake-ups: the worker stores 1 (seq-cst) and then re-reads the doorbell; a producer
 * that rings after that re-read bumps the word, and the helper reads `sleeping` after it
 * saw the bump, so it sees 1 and writes the eventfd. A descriptor has no race: poll() is
 * level-triggered.
 */
import { Worker } from 'node:worker_threads';
import * as native from '../lib/native/index.js';
import { K } from '../lib/native/index.js';
import { workerUrl } from '../lib/worker-url.js';

export interface SleepThreadData {
  doorbell: SharedArrayBuffer;
  index: number;
  /** [0] sleeping (0/1), [1] stop (0/1). */
  words: SharedArrayBuffer;
  eventFd: number;
  /** The doorbell's value when the sleeper was made: a ring before the helper runs is not missed. */
  start: number;
}

export class FdSleeper {
  private readonly words = new Int32Array(new SharedArrayBuffer(8));
  private readonly set: native.PollSet;
  private readonly eventFd: number;
  private readonly fds: readonly number[];
  private readonly helper: Worker;
  /** Slots poll() watches: the descriptors only while the worker takes from its media. */
  private watching = false;

  constructor(
    private readonly doorbell: Int32Array,
    private readonly index: number,
    fds: readonly number[],
    log: (message: string) => void,
  ) {
    this.fds = fds;
    this.eventFd = native.eventfdCreate(0);
    this.set = new native.PollSet(fds.length + 1);
    this.set.set(0, this.eventFd, K.POLLIN);
    this.watch(true);
    // Pairs with Atomics.add in Doorbell.ring: the helper treats any later value as a ring.
    const start = Atomics.load(doorbell, index);
    const data: SleepThreadData = { doorbell: doorbell.buffer as SharedArrayBuffer, index, words: this.words.buffer as SharedArrayBuffer, eventFd: this.eventFd, start };
    this.helper = new Worker(workerUrl('switch/queue-sleep-thread'), { workerData: data, name: 'xswitch-queue-sleep' });
    this.helper.on('error', (e) => log(`doorbell helper thread: ${e.message}`));
  }

  /**
   * Whether poll() watches the descriptors: not before start-ingress or after stop, when
   * the worker does not take from its media and a readable descriptor would only spin it.
   */
  watch(on: boolean): void {
    if (on === this.watching) return;
    this.watching = on;
    for (let i = 0; i < this.fds.length; i++) this.set.set(i + 1, on ? this.fds[i] : -1, K.POLLIN);
  }

  /** Blocks until a descriptor is readable, the doorbell moves from `seen`, or timeoutMs passes. */
  sleep(seen: number, timeoutMs: number): void {
    const w = this.words;
    // Pairs with the helper's Atomics.load of the sleeping word after it saw the doorbell move.
    Atomics.store(w, 0, 1);
    // Pairs with Atomics.add in Doorbell.ring: rung since `seen` (before our store), so no poll.
    const rung = Atomics.load(this.doorbell, this.index) !== seen;
    if (!rung) this.set.wait(timeoutMs);
    // Pairs with the helper's load: no eventfd write for a worker that is awake (one that
    // raced this store is read at the next sleep: a spurious breath at worst).
    Atomics.store(w, 0, 0);
    if (rung) return;
    if ((this.set.revents(0) & K.POLLIN) !== 0) native.eventfdRead(this.eventFd);
    for (let i = 0; i < this.fds.length; i++) {
      // A socket's pending error (a link that went down) keeps poll() returning POLLERR: read
      // and clear it here; the side sees the link's state on its own.
      if ((this.set.revents(i + 1) & K.POLLERR) !== 0) {
        try {
          native.takeSocketError(this.fds[i]);
        } catch {
          // not a socket: nothing to clear
        }
      }
    }
  }

  /** Ends the helper thread, then closes the eventfd (it must not write a reused number). */
  async close(): Promise<void> {
    const exited = new Promise((r) => this.helper.once('exit', r));
    // Pairs with the helper's Atomics.load of the stop word after its wait returns.
    Atomics.store(this.words, 1, 1);
    // Wakes the helper's Atomics.wait on the doorbell (pairs with it, as Doorbell.ring does).
    Atomics.add(this.doorbell, this.index, 1);
    Atomics.notify(this.doorbell, this.index);
    await exited;
    native.close(this.eventFd);
  }
}
