/**
 * Flow steering behind the control socket: one SteeringControl (flows/) per port, created
 * from the configuration's steering file (or empty: RSS over every queue), handed to the
 * device threads at start, changed live by `flow`, `rss` and `channels` requests, and
 * replaced wholesale when a reload brings a different file.
 *
 * Requests carry ethtool's own words (`flow-type udp4 dst-port 53 action 1`), answers are
 * ethtool's own output lines, and ethtool's error messages come back as bad_params.
 */
import { EthtoolError, FlowFileErrors, loadSteeringControls, SteeringControl } from '../../flows/index.js';
import { workerUrl } from '../../lib/worker-url.js';
import { ControlError } from './protocol.js';
import { objectParams, stringParam } from './handlers.js';
import type { Handler } from './server.js';
import type { ConfigIssue } from '../config/errors.js';

export type Controls = Map<string, SteeringControl>;

/** The module device threads import to build a steerer from shared state (createSteerer). */
export function steererModule(): string {
  return workerUrl('flows/index').href;
}

/** Controls for every port: from the file when there is one, defaults otherwise. */
export function buildControls(file: string | undefined, ports: string[], queues: number): Controls {
  if (file === undefined) return new Map(ports.map((p) => [p, new SteeringControl(p, queues)]));
  return loadSteeringControls(file, ports, queues);
}

/** The steering file's errors as configuration issues (file:line:column in the flow file). */
export function steeringIssues(file: string, ports: string[], queues: number): ConfigIssue[] {
  try {
    loadSteeringControls(file, ports, queues);
    return [];
  } catch (e) {
    if (e instanceof FlowFileErrors) return e.errors.map((x) => ({ file, line: x.line, column: x.column, message: x.message }));
    return [{ file, line: 1, column: 1, message: `cannot read: ${(e as Error).message} (a flow-steering file)` }];
  }
}

function words(p: Record<string, unknown>, method: string): string[] {
  const a = p.args;
  if (!Array.isArray(a) || !a.every((w) => typeof w === 'string')) throw new ControlError('bad_params', `${method}: 'args' must be a list of ethtool words`);
  return a as string[];
}

/** Methods: flow.add / flow.del / flow.list / rss.show / rss.set / channels.show / channels.set. */
export function steeringHandlers(get: () => Controls): Record<string, Handler> {
  const control = (p: Record<string, unknown>, method: string): SteeringControl => {
    const port = stringParam(p, 'port', method);
    const c = get().get(port);
    if (!c) throw new ControlError('bad_params', `Cannot get device settings: No such device (no port named ${port}; ports: ${[...get().keys()].join(', ')})`);
    return c;
  };
  const ethtool = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof EthtoolError) throw new ControlError('bad_params', e.message);
      throw e;
    }
  };
  const optInt = (p: Record<string, unknown>, key: string, method: string): number | undefined => {
    const v = p[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ControlError('bad_params', `${method}: '${key}' must be a non-negative integer`);
    return v;
  };
  return {
    'flow.add': (raw) => {
      const p = objectParams(raw, 'flow.add');
      const c = control(p, 'flow.add');
      return { output: ethtool(() => c.exec('-N', words(p, 'flow.add'))) };
    },
    'flow.del': (raw) => {
      const p = objectParams(raw, 'flow.del');
      const c = control(p, 'flow.del');
      const loc = optInt(p, 'loc', 'flow.del');
      if (loc === undefined) throw new ControlError('bad_params', "flow.del: 'loc' (the rule's location) is required");
      return { output: ethtool(() => c.exec('-N', ['delete', String(loc)])) };
    },
    'flow.list': (raw) => {
      const p = objectParams(raw, 'flow.list');
      const c = control(p, 'flow.list');
      const rule = optInt(p, 'rule', 'flow.list');
      const hash = typeof p.rxFlowHash === 'string' ? p.rxFlowHash : undefined;
      return {
        text: ethtool(() => (rule !== undefined ? c.showRule(rule) : hash !== undefined ? c.showRxFlowHash(hash) : c.showRules())),
        counters: c.counters(),
      };
    },
    'rss.show': (raw) => {
      const p = objectParams(raw, 'rss.show');
      const c = control(p, 'rss.show');
      return { text: ethtool(() => c.showRxfh(optInt(p, 'context', 'rss.show') ?? 0)) };
    },
    'rss.set': (raw) => {
      const p = objectParams(raw, 'rss.set');
      const c = control(p, 'rss.set');
      return { output: ethtool(() => c.exec('-X', words(p, 'rss.set'))) };
    },
    'channels.show': (raw) => {
      const p = objectParams(raw, 'channels.show');
      return { text: control(p, 'channels.show').showChannels() };
    },
    'channels.set': (raw) => {
      const p = objectParams(raw, 'channels.set');
      const c = control(p, 'channels.set');
      return { output: ethtool(() => c.exec('-L', words(p, 'channels.set'))) };
    },
  };
}
