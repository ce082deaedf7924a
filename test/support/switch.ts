/**
 * Starting a real switch (threads from dist/) between two peers for the real-peer tests.
 * The program is the MAC-learning `l2switch` when it is built, otherwise `redirect` with a
 * two-port forward — either way ARP and IP pass between the two ports unchanged.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_DEFAULTS, type ProgramRef, type SwitchConfig } from '../../switch/config-types.js';
import type { PortConfig } from '../../switch/ports/port.js';
import { Switch, type LogEvent, type StartOptions, type StopSummary } from '../../switch/switch.js';
import { projectRoot } from '../../lib/worker-url.js';

export function forwardProgram(a: string, b: string): ProgramRef {
  const l2 = path.join(projectRoot(), 'dist', 'programs', 'builtin', 'l2switch.js');
  if (existsSync(l2)) return { name: 'l2switch', params: {}, continueOn: [] };
  return { name: 'redirect', params: { pairs: [a, b] }, continueOn: [] };
}

/** Starts the switch; its log lines are appended to `logs` (shown when a test fails). */
export async function startBetween(ports: [PortConfig, PortConfig], logs: string[], extra: Partial<SwitchConfig> = {}, opts: StartOptions = {}): Promise<Switch> {
  const config: SwitchConfig = {
    ...CONFIG_DEFAULTS,
    queues: 2,
    ports,
    programs: [{ queues: [0, 1], chain: [forwardProgram(ports[0].name, ports[1].name)] }],
    ...extra,
  };
  const sw = await Switch.start(config, opts);
  sw.on('log', (e: LogEvent) => logs.push(`${e.level}: ${e.message}`));
  return sw;
}

/** Stops the switch and checks that every packet that entered left through one exit counter. */
export function checkAccounted(s: StopSummary): string[] {
  const bad: string[] = [];
  if (s.unaccounted !== 0) bad.push(`${s.unaccounted} packets in no exit counter`);
  if (s.stopIngressFailures !== 0) bad.push(`${s.stopIngressFailures} ports whose ingress did not stop`);
  if (s.accounting.doubled !== 0) bad.push(`${s.accounting.doubled} frames in two places`);
  if (s.accounting.free !== s.accounting.total) bad.push(`${s.accounting.total - s.accounting.free} frames not back in their pools`);
  for (const [name, c] of Object.entries(s.stats.ports)) {
    if (c.rx_packets < c.rx_no_buffer + c.rx_ring_full + c.rx_flow_drop + c.rx_dropped) bad.push(`${name}: more drops than packets`);
  }
  return bad;
}
