/**
 * The exit summary `xswitch run` prints when it stops, xdp-bench style:
 *
 *   Packets received    : 12,345,678
 *   Average packets/s   : 2,469,135
 *   ...
 *   Unaccounted         : 0
 *
 * Packet figures come from the final counters; the accounting lines (frames in pools,
 * rings, in flight; packets not in exactly one exit counter) from the Switch's stop summary.
 */
import type { StopSummary } from '../../switch/switch.js';
import { queueTotals, queuesOf, sum, type Counters } from './rates.js';
import { duration, summaryLines, thousands } from './format.js';

/** The accounting lines of a stop summary, labelled as the summary prints them. */
export function accountingLines(s: StopSummary): Record<string, number> {
  return {
    'Frames total': s.accounting.total,
    'Frames free': s.accounting.free,
    'Frames queued': s.accounting.queued,
    'Frames in flight': s.accounting.inFlight,
    'Frames doubled': s.accounting.doubled,
    'Unaccounted packets': s.unaccounted,
  };
}

export function exitSummary(final: Counters, seconds: number, accounting: Record<string, unknown> = {}): string {
  const t = sum(queuesOf(final).map((q) => queueTotals(final, q)));
  const portTotal = (suffix: string) =>
    Object.entries(final)
      .filter(([k]) => k.endsWith(suffix) && !/^rx\d+_/.test(k))
      .reduce((a, [, v]) => a + v, 0);
  const entries: [string, string][] = [
    ['Duration', duration(seconds)],
    ['Packets received', thousands(t.rx)],
    ['Average packets/s', thousands(seconds > 0 ? t.rx / seconds : 0)],
    ['Dropped', thousands(t.drop)],
    ['Transmitted (TX)', thousands(t.tx)],
    ['Redirected', thousands(t.redirect)],
    ['Passed', thousands(t.pass)],
    ['Errors', thousands(t.error)],
    ['Device no buffer', thousands(portTotal('rx_no_buffer'))],
    ['Device ring full', thousands(portTotal('rx_ring_full'))],
  ];
  for (const [k, v] of Object.entries(accounting)) {
    if (typeof v === 'number') entries.push([label(k), thousands(v)]);
    else if (typeof v === 'boolean') entries.push([label(k), v ? 'yes' : 'no']);
    else if (typeof v === 'string') entries.push([label(k), v]);
  }
  return summaryLines(entries).join('\n');
}

/** `framesInFlight` → `Frames in flight`. */
function label(key: string): string {
  const s = key.replace(/_/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}
