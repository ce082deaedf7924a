/** Text output of `xswitch prog run` (the --json form is the summary itself). */
import type { RunSummary } from './run.js';

export function formatSummary(s: RunSummary): string {
  const lines: string[] = [];
  const rate = s.seconds > 0 ? s.packets / s.seconds : 0;
  lines.push(
    `Program ${s.program} on ${s.file}: ${s.packets} packets in ${s.seconds.toFixed(3)} s ` +
      `(${s.workers} worker${s.workers === 1 ? '' : 's'}, ${s.chunks} chunk${s.chunks === 1 ? '' : 's'}, ${(rate / 1e6).toFixed(2)} Mpps)`,
  );
  lines.push('Verdicts:');
  for (const [name, n] of Object.entries(s.verdicts)) lines.push(`  ${('XDP_' + name).padEnd(16)}${String(n).padStart(12)}`);
  const targets = Object.entries(s.redirects).sort((a, b) => b[1] - a[1]);
  if (targets.length) {
    lines.push('Redirects:');
    for (const [t, n] of targets) lines.push(`  ${t.padEnd(16)}${String(n).padStart(12)}`);
  }
  if (s.oversize) lines.push(`Oversize packets (ABORTED): ${s.oversize}`);
  if (s.thrown) lines.push(`Program threw on ${s.thrown} packets (ABORTED); first: ${s.firstError}`);
  if (s.out) lines.push(`Output: ${s.out} (pcapng, verdict in each packet's epb_verdict and comment)`);
  return lines.join('\n');
}

/** The summary without per-packet arrays, for --json. */
export function summaryJson(s: RunSummary): Record<string, unknown> {
  const { results: _r, ...rest } = s;
  return rest;
}
