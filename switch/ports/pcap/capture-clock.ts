/**
 * Timestamps for the records of a capture being written: the wall clock at start plus the
 * monotonic time since (performance.now()), so a clock step does not reorder the file. The
 * clock is read once per burst (burst() makes the next packet read it) or per STAMP_EVERY
 * packets: for short frames a clock read costs more than the rest of the write.
 */

/** Packets between two clock reads when no burst() comes. */
const STAMP_EVERY = 64;

export class CaptureClock {
  /** The timestamp of the packet in hand (after tick()). */
  sec = 0;
  nsec = 0;
  private readonly wallSec: number;
  private readonly wallNsec: number;
  private readonly mono0: number;
  private left = 0;

  constructor() {
    const now = Date.now();
    this.mono0 = performance.now();
    this.wallSec = Math.floor(now / 1000);
    this.wallNsec = (now % 1000) * 1e6;
  }

  /** Before each packet: reads the clock when a read is due. Allocates nothing. */
  tick(): void {
    if (this.left === 0) this.read();
    this.left--;
  }

  /** A burst ended: the next packet reads the clock. */
  burst(): void {
    this.left = 0;
  }

  private read(): void {
    const ns = this.wallNsec + Math.floor((performance.now() - this.mono0) * 1e6);
    const carry = Math.floor(ns / 1e9);
    this.sec = this.wallSec + carry;
    this.nsec = ns - carry * 1e9;
    this.left = STAMP_EVERY;
  }
}
