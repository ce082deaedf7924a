/**
 * poll(2) over a fixed set of descriptors. wait(0) is a non-blocking check; wait(ms) blocks
 * the calling thread (queue workers may); waitAsync(ms) blocks one of koffi's own threads and
 * resolves on this thread's event loop, so a thread with an event loop (the main thread, a
 * device thread) never blocks.
 */
import { c } from './libc.js';
import { lastError } from './errors.js';
import { addressOf } from './memory.js';
import { EINTR } from './constants.js';

const POLLFD = 8; // { int fd; short events; short revents; }

export class PollSet {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly address: number;
  private pending = false;

  constructor(readonly size: number) {
    // Shared memory: its address is stable while a koffi thread polls it.
    this.bytes = new Uint8Array(new SharedArrayBuffer(size * POLLFD));
    this.view = new DataView(this.bytes.buffer);
    this.address = addressOf(this.bytes);
    for (let i = 0; i < size; i++) this.set(i, -1, 0);
  }

  /** Watches `fd` for `events` (POLLIN…) in slot i; fd −1 leaves the slot unused. */
  set(i: number, fd: number, events: number): void {
    this.view.setInt32(i * POLLFD, fd, true);
    this.view.setInt16(i * POLLFD + 4, events, true);
    this.view.setInt16(i * POLLFD + 6, 0, true);
  }

  /** What happened on slot i in the last wait (POLLIN, POLLERR, POLLHUP…). */
  revents(i: number): number {
    return this.view.getUint16(i * POLLFD + 6, true);
  }

  /** Blocks this thread up to timeoutMs (0: just look; −1: forever). Ready slots, 0 on timeout or EINTR. */
  wait(timeoutMs: number): number {
    const l = c();
    const r = l.poll_at(this.address, this.size, timeoutMs) as number;
    if (r >= 0) return r;
    if (l.errno() === EINTR) return 0;
    throw lastError('poll');
  }

  /** Like wait(), on a koffi thread; resolves on this thread's event loop. One at a time per set. */
  waitAsync(timeoutMs: number): Promise<number> {
    if (this.pending) return Promise.reject(new Error('PollSet.waitAsync: a wait on this set is already in flight'));
    this.pending = true;
    const l = c();
    return new Promise((resolve, reject) => {
      l.poll_at.async(this.address, this.size, timeoutMs, (err: Error | null, r: number) => {
        this.pending = false;
        if (err !== null) return reject(err);
        if (r >= 0) return resolve(r);
        // koffi carries the async call's errno back to this thread.
        if (l.errno() === EINTR) return resolve(0);
        reject(lastError('poll'));
      });
    });
  }

  /** Whether an async wait is in flight (close its fds only after it settles). */
  get waiting(): boolean {
    return this.pending;
  }
}
