import { CONFIG_DEFAULTS, type SwitchConfig } from '../../switch/config-types.js';
import type { PortConfig } from '../../switch/ports/port.js';
import type { Switch, StopSummary } from '../../switch/switch.js';
import { expect } from 'vitest';

export const fixture = (name: string) => new URL(`../fixtures/programs/${name}`, import.meta.url).pathname;

export function config(ports: PortConfig[], queues: number, chain: SwitchConfig['programs'][number]['chain'], extra: Partial<SwitchConfig> = {}): SwitchConfig {
  return { ...CONFIG_DEFAULTS, queues, ports, programs: [{ queues: Array.from({ length: queues }, (_, i) => i), chain }], ...extra };
}

/** The switch-wide invariants after a stop: every frame home, every packet in one exit counter. */
export function expectAccounted(sw: Switch, s: StopSummary): void {
  expect(s.accounting.doubled).toBe(0);
  expect(s.accounting.inFlight).toBe(0);
  expect(s.accounting.queued).toBe(0);
  expect(s.accounting.free).toBe(s.accounting.total);
  expect(s.unaccounted).toBe(0);
  expect(s.stopIngressFailures).toBe(0);
  // Ingress: every frame a port read went to a queue or to exactly one drop counter.
  let toQueues = 0;
  // A super-frame a queue cut for a chain without frags is one frame in, rx_gso_segments packets there.
  for (let q = 0; q < sw.config.queues; q++) toQueues += s.stats.queues[`rx${q}_packets`] - (s.stats.queues[`rx${q}_rx_gso_segments`] ?? 0) + (s.stats.queues[`rx${q}_rx_gso_packets`] ?? 0);
  let fromPorts = 0;
  let sent = 0;
  let out = 0;
  for (const c of Object.values(s.stats.ports)) {
    // A super-frame cut at ingress is one rx_packets and rx_gso_segments frames onward.
    fromPorts += c.rx_packets - (c.rx_gso_packets ?? 0) + (c.rx_gso_segments ?? 0) - c.rx_no_buffer - c.rx_ring_full - c.rx_flow_drop - c.rx_dropped;
    out += c.tx_packets + c.tx_dropped;
  }
  for (let q = 0; q < sw.config.queues; q++) sent += s.stats.queues[`rx${q}_tx_frames`];
  expect(toQueues).toBe(fromPorts);
  // Egress: every frame a queue put on a port's tx ring (TX, redirect, flood copies,
  // socket transmits) left through that port or was counted dropped there.
  expect(out).toBe(sent);
}
