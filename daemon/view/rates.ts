/**
 * Per-queue rates from two counter snapshots (ethtool -S names), as xdp-bench reports
 * them: what each queue received, and where it went.
 */
export interface QueueRates {
  queue: number;
  rx: number;
  drop: number;
  tx: number;
  redirect: number;
  pass: number;
  /** aborted + invalid verdicts + tx ring full + redirect errors. */
  error: number;
}

export type Counters = Record<string, number>;

/** Queue numbers present in a snapshot (from its rx<q>_packets names), ascending. */
export function queuesOf(c: Counters): number[] {
  const qs: number[] = [];
  for (const k of Object.keys(c)) {
    const m = /^rx(\d+)_packets$/.exec(k);
    if (m) qs.push(Number(m[1]));
  }
  return qs.sort((a, b) => a - b);
}

/** The totals of one queue in a snapshot (also used for the exit summary). */
export function queueTotals(c: Counters, q: number): QueueRates {
  const g = (n: string) => c[`rx${q}_${n}`] ?? 0;
  return {
    queue: q,
    rx: g('packets'),
    drop: g('xdp_drop'),
    tx: g('xdp_tx_xmit'),
    redirect: g('xdp_redirect'),
    pass: g('xdp_pass'),
    error: g('xdp_aborted') + g('xdp_invalid') + g('xdp_tx_full') + g('xdp_redirect_err'),
  };
}

export function sum(rows: QueueRates[]): QueueRates {
  const t: QueueRates = { queue: -1, rx: 0, drop: 0, tx: 0, redirect: 0, pass: 0, error: 0 };
  for (const r of rows) {
    t.rx += r.rx;
    t.drop += r.drop;
    t.tx += r.tx;
    t.redirect += r.redirect;
    t.pass += r.pass;
    t.error += r.error;
  }
  return t;
}

/** Rates per second between `prev` and `cur`, `seconds` apart. Counters never go back;
 * a restarted counter (a worker's block re-created) reads as 0 rather than negative. */
export function rates(prev: Counters, cur: Counters, seconds: number): { queues: QueueRates[]; total: QueueRates } {
  const rows = queuesOf(cur).map((q) => {
    const a = queueTotals(prev, q);
    const b = queueTotals(cur, q);
    const r = (x: number, y: number) => Math.max(0, y - x) / seconds;
    return { queue: q, rx: r(a.rx, b.rx), drop: r(a.drop, b.drop), tx: r(a.tx, b.tx), redirect: r(a.redirect, b.redirect), pass: r(a.pass, b.pass), error: r(a.error, b.error) };
  });
  return { queues: rows, total: sum(rows) };
}
