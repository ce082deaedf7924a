/**
 * The watchdog: finds a queue worker stuck on one packet (a program in an endless loop).
 *
 * A worker sets CTL_BUSY while it holds packets in a breath and bumps CTL_HEARTBEAT after
 * each breath (queue-worker.ts). Busy with the same heartbeat for `hangMs` is a hang; the
 * Switch is told which queue and which chain slot (CTL_PROGRAM) and restarts the worker
 * hosting that queue (with every other queue it runs). A queue whose worker is still starting
 * (isReady false: a replacement, or one being replaced) is skipped, its clock reset: a worker
 * killed inside a breath leaves its busy flags set until the Switch clears them on respawn.
 * The watchdog only reads: it never touches a worker's control words.
 */
import { CTL_BUSY, CTL_HEARTBEAT, CTL_PROGRAM, CTL_WORDS, workerThread, type SharedLayout } from './layout.js';

/** Called for a hung queue: the chain slot it is in and how long it has been stuck. */
export type OnHang = (queue: number, slot: number, stuckMs: number) => void;

/** Whether the worker hosting this queue is running its loop (not starting, not being replaced). */
export type IsReady = (queue: number) => boolean;

export class Watchdog {
  private readonly ctl: Int32Array;
  private readonly lastBeat: number[] = [];
  private readonly stuckSince: number[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly layout: SharedLayout,
    private readonly queues: number,
    private readonly hangMs: number,
    private readonly isReady: IsReady,
    private readonly onHang: OnHang,
  ) {
    this.ctl = new Int32Array(layout.control);
  }

  /** Checks every hangMs / 4 (at least every 50 ms); the timer does not keep Node alive. */
  start(): void {
    this.timer = setInterval(() => this.check(), Math.max(50, this.hangMs / 4));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private check(): void {
    const now = Date.now();
    for (let q = 0; q < this.queues; q++) {
      const base = workerThread(this.layout, q) * CTL_WORDS;
      if (!this.isReady(q)) {
        this.stuckSince[q] = now;
        continue;
      }
      // The worker stores these plainly (no barrier on its hot path), so these loads pair
      // with nothing: Atomics.load only makes each check read shared memory afresh. Seeing
      // progress one check late is harmless.
      const beat = Atomics.load(this.ctl, base + CTL_HEARTBEAT);
      const busy = Atomics.load(this.ctl, base + CTL_BUSY) === 1;
      if (!busy || beat !== this.lastBeat[q]) {
        this.lastBeat[q] = beat;
        this.stuckSince[q] = now;
        continue;
      }
      if (now - this.stuckSince[q] >= this.hangMs) {
        const stuck = now - this.stuckSince[q];
        this.stuckSince[q] = now;
        this.onHang(q, Atomics.load(this.ctl, base + CTL_PROGRAM), stuck);
      }
    }
  }
}
