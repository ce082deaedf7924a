/**
 * The daemon's view of the supervisor: the few things `xswitch run` needs of a running
 * switch (flat ethtool -S counters, a stop that returns the final counters and the
 * accounting, chain replacement per queue, steering and port requests), and the adapter
 * that fits the supervisor's Switch to it. Tests can pass another SwitchLike.
 */
import type { QueuePrograms, SwitchConfig } from '../../switch/config-types.js';
import { Switch, type LogEvent } from '../../switch/supervisor.js';

/** What the daemon needs of a running switch (switch/supervisor.ts's Switch). */
export interface SwitchLike {
  /** The supervisor's Switch itself, for subsystems that need more (maps, taps, steering). */
  raw?: Switch;
  /** Flat ethtool -S list. */
  stats(): Record<string, number>;
  stop(): Promise<unknown>;
  replacePrograms?(programs: QueuePrograms[]): Promise<unknown>;
  portControl?(port: string, msg: unknown): Promise<unknown>;
  /** A port's own figures (switch/ports/port.ts status()). */
  portStatus?(port: string): Promise<Record<string, unknown>>;
  /** Installs new steering state on a port (a reload with a different flow file). */
  setSteering?(port: string, module: string, shared: unknown): Promise<void>;
}

export type SteeringMap = Map<string, { module: string; shared: unknown }>;
export type LogLevel = 'info' | 'warn' | 'error';
export type StartSwitch = (config: SwitchConfig, log: (message: string, level?: LogLevel) => void, steering: SteeringMap) => Promise<SwitchLike>;

/** Starts the real switch (switch/supervisor.ts) and fits it to what the daemon needs. */
export async function defaultStart(config: SwitchConfig, log: (m: string, level?: LogLevel) => void, steering: SteeringMap): Promise<SwitchLike> {
  const sw = await Switch.start(config, { steering });
  // Workers report events to the supervisor by message; they are logged here, off the data path.
  sw.on('log', (e: LogEvent) => log(e.message, e.level));
  let running = new Map<number, string>(config.programs.flatMap((p) => p.queues.map((q) => [q, chainKey(p.chain)] as [number, string])));
  return {
    raw: sw,
    stats: () => sw.flatStats(),
    async stop() {
      const s = await sw.stop();
      // Counter blocks outlive the threads: the flat list read now is the final one.
      return {
        counters: sw.flatStats(),
        accounting: {
          'Frames total': s.accounting.total,
          'Frames free': s.accounting.free,
          'Frames queued': s.accounting.queued,
          'Frames in flight': s.accounting.inFlight,
          'Frames doubled': s.accounting.doubled,
          'Unaccounted packets': s.unaccounted,
          // Shown only when it happened (a device thread died or hung at stop).
          ...(s.stopIngressFailures > 0 ? { 'Ports whose ingress did not stop': s.stopIngressFailures } : {}),
        },
        raw: s,
      };
    },
    async replacePrograms(programs: QueuePrograms[]) {
      // Queue by queue: only chains that differ are replaced; a queue left without one runs pass.
      const want = new Map<number, QueuePrograms['chain']>();
      for (let q = 0; q < config.queues; q++) want.set(q, [{ name: 'pass', params: {}, continueOn: ['PASS'] }]);
      for (const p of programs) for (const q of p.queues) want.set(q, p.chain);
      const groups = new Map<string, { queues: number[]; chain: QueuePrograms['chain'] }>();
      for (const [q, chain] of want) {
        const key = chainKey(chain);
        if ((running.get(q) ?? chainKey([{ name: 'pass', params: {}, continueOn: ['PASS'] }])) === key) continue;
        const g = groups.get(key) ?? { queues: [], chain };
        g.queues.push(q);
        groups.set(key, g);
      }
      // Load (and build once) every chain before swapping any queue: all or nothing.
      for (const g of groups.values()) await sw.loadChain(g.chain);
      // What runs is recorded group by group: if a swap fails midway, `running` is still true,
      // and a rollback (the old programs, replaced the same way) swaps back only what changed.
      for (const [key, g] of groups) {
        try {
          await sw.replacePrograms(g.queues, g.chain);
        } catch (e) {
          // Some queues of the group may have swapped: unknown, so the next change swaps them all.
          for (const q of g.queues) running.set(q, '?');
          throw e;
        }
        for (const q of g.queues) running.set(q, key);
      }
    },
    portControl: (port, msg) => sw.portControl(port, msg),
    setSteering: (port, module, shared) => sw.setSteering(port, module, shared),
    portStatus: (port) => sw.portStatus(port),
  };
}

function chainKey(chain: QueuePrograms['chain']): string {
  return JSON.stringify(chain.map((r) => [r.name, r.params, r.continueOn]));
}
