/**
 * Errors reported at most once per interval, every one counted: a fault that repeats on
 * every packet must not become a log line per packet (the queue workers report program
 * errors the same way, switch/queue-worker.ts). The first message of each interval is
 * kept; the report says how many happened since the last one.
 *
 * Off the hot path: add() runs only where something went wrong; flush() is one comparison
 * when nothing did.
 */
export class ErrorReport {
  /** Every error added, reported or not. */
  count = 0;
  private first: string | null = null;
  private reported = 0;
  private lastAt = -Infinity;

  constructor(
    private readonly emit: (message: string) => void,
    private readonly intervalMs = 1000,
  ) {}

  add(message: string): void {
    this.count++;
    if (this.first === null) this.first = message;
    this.flush();
  }

  /** Reports what is pending once the interval since the last report has passed. */
  flush(now = Date.now()): void {
    if (this.first === null || now - this.lastAt < this.intervalMs) return;
    const n = this.count - this.reported;
    this.emit(n === 1 ? this.first : `${this.first} (${n} errors since the last report)`);
    this.reported = this.count;
    this.lastAt = now;
    this.first = null;
  }
}
