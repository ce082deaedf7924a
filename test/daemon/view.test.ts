/**
 * The live view and the exit summary: xdp-bench's column layout, rates from two counter
 * snapshots, in-place redraw on a terminal and appended blocks otherwise.
 */
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { LiveView, renderRates } from '../../daemon/view/live.js';
import { rates, queuesOf } from '../../daemon/view/rates.js';
import { exitSummary } from '../../daemon/view/summary.js';
import { column, row, thousands } from '../../daemon/view/format.js';
import { prometheusText } from '../../daemon/metrics.js';

const snap = (q0: number, q1: number, extra: Record<string, number> = {}) => ({
  rx0_packets: q0,
  rx0_xdp_drop: q0,
  rx1_packets: q1,
  rx1_xdp_redirect: q1 - 10,
  rx1_xdp_tx_full: 10,
  rx_packets: q0 + q1,
  'gen0.rx_ring_full': 7,
  ...extra,
});

describe('format', () => {
  it('thousands separators and xdp-bench column widths', () => {
    expect(thousands(0)).toBe('0');
    expect(thousands(1234567.6)).toBe('1,234,568');
    expect(column(12345678, 'rx/s')).toBe('12,345,678 rx/s        ');
    expect(column(12345678, 'rx/s')).toHaveLength(23);
    const r = row('Summary', [[1000, 'rx/s'], [5, 'err/s']]);
    expect(r).toBe('Summary                     1,000 rx/s                 5 err/s');
    expect(r.indexOf('1,000')).toBe(23 + 10 - 5);
  });
});

describe('rates', () => {
  it('per queue from two snapshots, with totals; queues from the rx<q>_packets names', () => {
    expect(queuesOf(snap(0, 0))).toEqual([0, 1]);
    const r = rates(snap(100, 50), snap(300, 250), 2);
    expect(r.queues).toEqual([
      { queue: 0, rx: 100, drop: 100, tx: 0, redirect: 0, pass: 0, error: 0 },
      { queue: 1, rx: 100, drop: 0, tx: 0, redirect: 100, pass: 0, error: 0 },
    ]);
    expect(r.total).toMatchObject({ rx: 200, drop: 100, redirect: 100 });
  });

  it('a counter that went back (a re-created block) reads as 0, never negative', () => {
    expect(rates(snap(500, 0), snap(100, 0), 1).queues[0].rx).toBe(0);
  });

  it('renders a Summary line and one line per queue', () => {
    const lines = renderRates(snap(0, 0), snap(2_000_000, 1_000_000), 1);
    expect(lines).toEqual([
      'Summary                 3,000,000 rx/s         2,000,000 drop/s               0 tx/s         1,000,000 redir/s              0 pass/s               0 err/s',
      '  queue 0               2,000,000 rx/s         2,000,000 drop/s               0 tx/s                 0 redir/s              0 pass/s               0 err/s',
      '  queue 1               1,000,000 rx/s                 0 drop/s               0 tx/s         1,000,000 redir/s              0 pass/s               0 err/s',
    ]);
  });
});

function sink(): { out: Writable; text: () => string; isTTY?: boolean } {
  let s = '';
  const out = new Writable({ write: (c, _e, cb) => ((s += c.toString()), cb()) });
  return { out, text: () => s };
}

describe('LiveView', () => {
  it('on a terminal redraws in place: cursor up over the last block, clear, redraw', async () => {
    let n = 0;
    const k = sink();
    const v = new LiveView(() => snap(n * 1000, n * 500), { out: k.out, tty: true, intervalMs: 30, title: 'T' });
    v.start();
    for (let i = 0; i < 3; i++) {
      n++;
      await new Promise((r) => setTimeout(r, 40));
    }
    v.stop();
    const t = k.text();
    expect(t.startsWith('\x1b[?25l')).toBe(true); // cursor hidden while redrawing
    expect(t.endsWith('\x1b[?25h')).toBe(true); // and shown again
    expect(t).toContain('\x1b[4A\x1b[J'); // up 4 lines (title + Summary + 2 queues), clear
    expect(t.split('T   elapsed').length - 1).toBeGreaterThanOrEqual(2);
  });

  it('elsewhere appends a stamped block per interval, no escape codes', async () => {
    const k = sink();
    let n = 0;
    const v = new LiveView(() => snap((n += 100), n), { out: k.out, tty: false, intervalMs: 30, title: 'T' });
    v.start();
    await new Promise((r) => setTimeout(r, 100));
    v.stop();
    const t = k.text();
    expect(t).not.toContain('\x1b');
    expect(t).toMatch(/^\[0\.\ds\]\nSummary {17}/);
  });
});

describe('exit summary', () => {
  it('packet figures from the counters, accounting lines from the supervisor', () => {
    const s = exitSummary(snap(3000, 1000), 2, { 'Frames in flight': 0, 'Unaccounted packets': 0 });
    expect(s.split('\n')).toEqual([
      '  Duration           : 2.0s',
      '  Packets received   : 4,000',
      '  Average packets/s  : 2,000',
      '  Dropped            : 3,000',
      '  Transmitted (TX)   : 0',
      '  Redirected         : 990',
      '  Passed             : 0',
      '  Errors             : 10',
      '  Device no buffer   : 0',
      '  Device ring full   : 7',
      '  Frames in flight   : 0',
      '  Unaccounted packets: 0',
    ]);
  });
});

describe('Prometheus text', () => {
  it('queue counters as a labelled family, port counters by port, totals plain', () => {
    const t = prometheusText({ rx0_packets: 5, rx1_packets: 6, 'gen0.rx_packets': 11, rx_packets: 11 });
    expect(t).toBe(
      [
        '# TYPE xswitch_queue_packets_total counter',
        'xswitch_queue_packets_total{queue="0"} 5',
        'xswitch_queue_packets_total{queue="1"} 6',
        '# TYPE xswitch_port_rx_packets_total counter',
        'xswitch_port_rx_packets_total{port="gen0"} 11',
        '# TYPE xswitch_rx_packets_total counter',
        'xswitch_rx_packets_total 11',
        '',
      ].join('\n'),
    );
  });
});
