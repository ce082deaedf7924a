/**
 * Waits on the port's descriptors without blocking its thread: the listening socket, the
 * connection, the rings' kick eventfds, and a wake eventfd of our own. poll(2) blocks on one
 * of koffi's threads (PollSet.waitAsync); when it returns, `onReady` runs on this thread's
 * event loop with what is readable, and the wait is armed again over the descriptors as
 * they are then. Changing the set (a new kick fd) writes the wake eventfd so the wait in
 * flight returns and the next one sees it.
 *
 * This is the "helper that turns kicks into wake-ups": a guest kick (only sent when the
 * ring asked for one) makes the device thread's doorbell ring instead of waiting out its
 * idle sleep. No syscall on the packet path.
 */
import { K, PollSet, close, eventfdCreate, eventfdRead, eventfdWrite } from '../../../lib/native/index.js';

/** Re-arm at least this often (a closed fd in the set is dropped by then at the latest). */
const WAIT_MS = 250;

export interface Readiness {
  /** Readable (or hung up / in error) descriptors, among those last passed to setFds. */
  fds: number[];
}

export class Watcher {
  private readonly set: PollSet;
  private readonly wakeFd: number;
  private fds: number[] = [];
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    readonly slots: number,
    private readonly onReady: (ready: Readiness) => void,
    private readonly onError: (e: Error) => void,
  ) {
    this.set = new PollSet(slots + 1);
    this.wakeFd = eventfdCreate();
  }

  /** The descriptors to watch for input from the next wait on (at most `slots`). */
  setFds(fds: number[]): void {
    if (fds.length > this.slots) throw new RangeError(`watcher: ${fds.length} descriptors, at most ${this.slots}`);
    const same = fds.length === this.fds.length && fds.every((f, i) => f === this.fds[i]);
    if (same) return;
    this.fds = [...fds];
    if (this.set.waiting) eventfdWrite(this.wakeFd, 1);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Ends the wait loop (after the wait in flight returns) and closes the wake eventfd. */
  async stop(): Promise<void> {
    this.stopped = true;
    eventfdWrite(this.wakeFd, 1);
    await this.loop;
    close(this.wakeFd);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const fds = this.fds;
      this.set.set(0, this.wakeFd, K.POLLIN);
      for (let i = 0; i < this.slots; i++) this.set.set(i + 1, i < fds.length ? fds[i] : -1, K.POLLIN);
      let n: number;
      try {
        n = await this.set.waitAsync(WAIT_MS);
      } catch (e) {
        this.onError(e as Error);
        await new Promise((r) => setTimeout(r, WAIT_MS));
        continue;
      }
      if (this.stopped) break;
      if (n === 0) continue;
      if (this.set.revents(0) !== 0) eventfdRead(this.wakeFd);
      const ready: number[] = [];
      for (let i = 0; i < fds.length; i++) if (this.set.revents(i + 1) !== 0) ready.push(fds[i]);
      // Only fds still in the set count (one closed meanwhile may have been reused).
      const current = ready.filter((f) => this.fds.includes(f));
      if (current.length > 0) {
        try {
          this.onReady({ fds: current });
        } catch (e) {
          this.onError(e as Error);
        }
      }
    }
  }
}
