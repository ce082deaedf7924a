/**
 * The methods the control socket offers, each a thin call into the daemon's state.
 * Parameters are checked here (bad_params with what is allowed); the work happens in the
 * daemon, the supervisor, the flow-steering control or the maps.
 */
import { ControlError } from './protocol.js';
import type { Handler } from './server.js';

/** What the handlers need from the daemon (switch/daemon.ts implements it). */
export interface DaemonApi {
  status(): Record<string, unknown>;
  stats(): Record<string, number>;
  reload(): Promise<{ changes: string[] }>;
  programs(): unknown;
  replacePrograms(chains: unknown): Promise<{ changes: string[] }>;
  portControl(port: string, msg: unknown): Promise<unknown>;
  /** Begins a clean stop after the answer has gone out. */
  requestStop(): void;
  /** Extra method groups (flows, maps, capture) the daemon adds when they are available. */
  extraHandlers(): Record<string, Handler>;
}

export function objectParams(p: unknown, method: string): Record<string, unknown> {
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new ControlError('bad_params', `${method}: params must be an object`);
  return p as Record<string, unknown>;
}

export function stringParam(p: Record<string, unknown>, key: string, method: string): string {
  const v = p[key];
  if (typeof v !== 'string' || v === '') throw new ControlError('bad_params', `${method}: '${key}' must be a non-empty string`);
  return v;
}

export function makeHandlers(d: DaemonApi): Record<string, Handler> {
  return {
    status: () => d.status(),
    stats: (p) => {
      const o = objectParams(p, 'stats');
      const all = d.stats();
      // Optional prefix filter (`rx0_`, `gen0.`) so a watcher can ask for less.
      const prefix = typeof o.prefix === 'string' ? o.prefix : '';
      const counters: Record<string, number> = {};
      for (const [k, v] of Object.entries(all)) if (k.startsWith(prefix)) counters[k] = v;
      return { time: Date.now(), counters };
    },
    reload: () => d.reload(),
    'prog.list': () => d.programs(),
    'prog.replace': (p) => d.replacePrograms(objectParams(p, 'prog.replace').programs),
    'port.control': (p) => {
      const o = objectParams(p, 'port.control');
      return d.portControl(stringParam(o, 'port', 'port.control'), o.msg);
    },
    stop: () => {
      d.requestStop();
      return { stopping: true };
    },
    ...d.extraHandlers(),
  };
}
