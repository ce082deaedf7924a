/**
 * The live per-queue view `xswitch run` prints: on a terminal, one block redrawn in place
 * every interval; otherwise (a pipe, a log file) the same block appended each interval,
 * stamped with the elapsed time, so logs read as a time series.
 *
 *   Switch (2 queues) examples/demo.yaml      elapsed 5.0s
 *   Summary                 4,123,456 rx/s     4,123,456 drop/s           0 tx/s  …
 *     queue 0               2,061,728 rx/s     2,061,728 drop/s           0 tx/s  …
 *
 * It reads counters through `sample`, which is cheap (a copy of shared-memory words): the
 * view never touches the data path.
 */
import type { Writable } from 'node:stream';
import { rates, type Counters, type QueueRates } from './rates.js';
import { row } from './format.js';

export interface LiveViewOptions {
  out: Writable;
  /** Redraw in place (a terminal) or append lines. */
  tty: boolean;
  intervalMs: number;
  title: string;
}

export function rateRow(label: string, r: QueueRates): string {
  return row(label, [
    [r.rx, 'rx/s'],
    [r.drop, 'drop/s'],
    [r.tx, 'tx/s'],
    [r.redirect, 'redir/s'],
    [r.pass, 'pass/s'],
    [r.error, 'err/s'],
  ]);
}

/** The block for one interval. */
export function renderRates(prev: Counters, cur: Counters, seconds: number): string[] {
  const r = rates(prev, cur, seconds);
  return [rateRow('Summary', r.total), ...r.queues.map((q) => rateRow(`  queue ${q.queue}`, q))];
}

export class LiveView {
  private timer: NodeJS.Timeout | null = null;
  private prev: Counters;
  private prevAt: number;
  private readonly startedAt: number;
  private drawn = 0;

  constructor(
    private readonly sample: () => Counters,
    private readonly opts: LiveViewOptions,
  ) {
    this.prev = sample();
    this.prevAt = this.startedAt = performance.now();
  }

  start(): void {
    if (this.opts.tty) this.opts.out.write('\x1b[?25l'); // hide the cursor while redrawing
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.opts.tty) this.opts.out.write('\x1b[?25h');
  }

  private tick(): void {
    const now = performance.now();
    const cur = this.sample();
    const lines = renderRates(this.prev, cur, (now - this.prevAt) / 1000);
    this.prev = cur;
    this.prevAt = now;
    const elapsed = ((now - this.startedAt) / 1000).toFixed(1);
    if (this.opts.tty) {
      // Move up over the previous block and clear to the end of the screen, then redraw.
      const up = this.drawn > 0 ? `\x1b[${this.drawn}A\x1b[J` : '';
      const block = [`${this.opts.title}   elapsed ${elapsed}s`, ...lines];
      this.opts.out.write(up + block.join('\n') + '\n');
      this.drawn = block.length;
    } else {
      this.opts.out.write(`[${elapsed}s]\n` + lines.join('\n') + '\n');
    }
  }
}
