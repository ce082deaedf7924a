/**
 * Replay pacing: how many packets a poll() may send now, and passes through the capture.
 *
 *   speed 'max'       as fast as the switch takes them (the capture's times are ignored)
 *   speed k (> 0)     the capture's own timing, k times faster ('original' is k = 1)
 *   rate r            r packets per second, evenly spaced, whatever the capture's times
 *   loop N            N passes through the capture (0 = until stopped)
 *   backpressure      send no more than the switch has room for (io.room()), so nothing is
 *                     dropped at ingress: a lossless replay, as tcpreplay blocked on its
 *                     socket. Without it the switch drops what it cannot take and counts it.
 *
 * Timing uses performance.now() (monotonic, sub-microsecond). A paced replay sends at most
 * once per PACE_MS (unless a whole budget is due): what fell due meanwhile leaves together,
 * as tcpreplay's small bursts do, and the thread polling it (a queue worker, or the device
 * thread) sleeps between sends instead of spinning on a packet or two every few
 * microseconds (which kept a core busy at any rate; see gen's PACE_MS).
 */
const PACE_MS = 1;
import type { ReplayIO, ReplaySource } from './replay-source.js';

export interface ReplayOptions {
  /** 0 = max; otherwise a multiplier of the capture's timing. */
  speed: number;
  /** Packets per second; 0 = not rate-limited. */
  rate: number;
  /** Passes; 0 = forever. */
  loop: number;
  /** Wait for room in the switch (io.room()) instead of letting it drop. */
  backpressure: boolean;
}

export class Replayer {
  /** Packets taken from the capture (sent, or dropped and counted by the device). */
  sent = 0;
  /** Completed passes. */
  passes = 0;
  done = false;
  private startMs = -1;
  private passStartMs = 0;
  private sentThisPass = 0;
  /** When a paced replay last sent (PACE_MS). */
  private lastSendMs = -Infinity;

  constructor(
    private readonly src: ReplaySource,
    private readonly o: ReplayOptions,
  ) {}

  /**
   * Continues where a replay of the same source stopped (a queue worker restarted over
   * the same shared counters): `passes` completed, `at` packets into the next.
   */
  resume(passes: number, at: number, sent: number): void {
    this.passes = passes;
    this.sentThisPass = at;
    this.sent = sent;
    if (this.o.loop !== 0 && passes >= this.o.loop) this.done = true;
  }

  /** Sends up to `budget` packets; the Port.poll contract (count, 0 idle, -1 finished). */
  poll(io: ReplayIO, budget: number): number {
    if (this.done) return -1;
    const o = this.o;
    const paced = o.rate !== 0 || o.speed !== 0;
    const now = paced ? performance.now() : 0;
    if (this.startMs < 0) {
      this.startMs = now;
      this.passStartMs = now;
    }
    let n = budget;
    // A paced replay sends once per PACE_MS, or sooner when a whole budget is due.
    const tick = now - this.lastSendMs >= PACE_MS;
    if (o.rate !== 0) {
      const allowed = Math.floor(((now - this.startMs) * o.rate) / 1000) + 1 - this.sent;
      if (allowed <= 0 || (!tick && allowed < n)) return 0;
      if (allowed < n) n = allowed;
    } else if (paced && !tick) return 0;
    if (o.backpressure && io.room !== undefined) {
      const room = io.room();
      // No room: the queues are behind by a ring's worth, which they drain in microseconds.
      // Report work (1) so the device polls again at once instead of sleeping.
      if (room <= 0) return 1;
      if (room < n) n = room;
    }
    let taken = 0;
    for (;;) {
      const limitNs = o.speed === 0 ? Infinity : (now - this.passStartMs) * 1e6 * o.speed;
      const k = this.src.sendUpTo(io, n - taken, limitNs);
      taken += k;
      this.sentThisPass += k;
      if (!this.src.atEnd || taken >= n) break;
      // End of a pass. An empty capture ends the replay whatever `loop` says.
      this.passes++;
      if ((o.loop !== 0 && this.passes >= o.loop) || this.sentThisPass === 0) {
        this.done = true;
        break;
      }
      this.src.rewind();
      this.sentThisPass = 0;
      this.passStartMs = now;
    }
    this.sent += taken;
    if (paced && taken !== 0) this.lastSendMs = now;
    if (taken === 0) return this.done ? -1 : 0;
    return taken;
  }

  close(): void {
    this.src.close();
  }
}
