/**
 * The methods the control socket offers, each a thin call into the daemon's state.
 * Parameters are checked here (bad_params with what is allowed); the work happens in the
 * daemon, the supervisor, the flow-steering control or the maps.
 */
import { ControlError } from './protocol.js';
import type { Handler } from './server.js';
import { isDefaultChain, type ProgramRef } from '../../switch/config-types.js';

/** What the handlers need from the daemon (daemon/daemon.ts implements it). */
export interface DaemonApi {
  status(): Promise<Record<string, unknown>>;
  stats(): Record<string, number>;
  reload(): Promise<{ changes: string[] }>;
  programs(): { queue: number; chain: ProgramRef[] }[];
  replacePrograms(chains: unknown): Promise<{ changes: string[] }>;
  setChains(queues: number[], edit: (old: ProgramRef[]) => ProgramRef[]): Promise<{ changes: string[] }>;
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
    'prog.replace': (p) => {
      const o = objectParams(p, 'prog.replace');
      // Either the whole `programs:` list, or a chain for some queues.
      if (o.programs !== undefined) return d.replacePrograms(o.programs);
      const queues = queueList(o, 'prog.replace');
      const chain = o.chain;
      if (!Array.isArray(chain) || chain.length === 0) throw new ControlError('bad_params', "prog.replace: 'chain' must be a list of { name, params, continueOn }");
      return d.setChains(queues, () => chain.map((r) => programRef(r, 'prog.replace')));
    },
    'prog.attach': (p) => {
      const o = objectParams(p, 'prog.attach');
      const ref = programRef(o.program, 'prog.attach');
      return d.setChains(queueList(o, 'prog.attach'), (old) => {
        // Attaching to a queue that runs only the default pass replaces it.
        return isDefaultChain(old) ? [ref] : [...old, ref];
      });
    },
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

function queueList(o: Record<string, unknown>, method: string): number[] {
  const q = o.queues;
  if (!Array.isArray(q) || q.length === 0 || !q.every((x) => Number.isInteger(x))) {
    throw new ControlError('bad_params', `${method}: 'queues' must be a non-empty list of queue numbers`);
  }
  return q as number[];
}

/** A program reference as the file writes it; the loader checks the rest. */
function programRef(r: unknown, method: string): ProgramRef {
  if (r === null || typeof r !== 'object' || typeof (r as ProgramRef).name !== 'string') {
    throw new ControlError('bad_params', `${method}: a program is { name, params, continueOn }`);
  }
  const x = r as Partial<ProgramRef>;
  return { name: x.name as string, params: x.params ?? {}, continueOn: x.continueOn ?? ['PASS'] };
}
