/**
 * Pass two: what the well-formed file means. Runs only when pass one found nothing,
 * because cross-field checks on a half-valid document report nonsense.
 *
 * Checks: port names unique, port types exist and accept their options (each type's own
 * validate(), with the messages pinned to the port's YAML), program queues exist and no
 * queue has two chains, programs exist, load and accept their parameters, the steering
 * file exists, the metrics address is loopback.
 */
import { existsSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import os from 'node:os';
import path from 'node:path';
import type { ConfigParsed } from './schema.js';
import type { ConfigIssue } from './errors.js';
import type { Path, SourceMap } from './positions.js';
import { where } from './structure.js';
import {
  builtinProgramNames,
  isProgramPath,
  loadPortType,
  loadProgramModule,
  portTypeNames,
  resolveProgram,
} from './modules.js';
import type { PortConfig } from '../../switch/ports/port.js';
import { portOptionIssues } from '../../switch/ports/options.js';
import type { ParamSpec, Params } from '../../programs/program.js';
import { instantiate, loadProgram } from '../../programs/loader.js';
import { steeringIssues } from '../control/steering.js';

export interface MeaningOptions {
  /** Import program modules to check they load and take their params (runs their top level). */
  loadPrograms: boolean;
}

export interface Meaning {
  issues: ConfigIssue[];
  /** Program file per chain entry, [chain][entry], resolved against the configuration's folder. */
  programFiles: string[][];
  /** The queues of each chain, "all" expanded. */
  chainQueues: number[][];
  steeringFile?: string;
}

export async function checkMeaning(
  cfg: ConfigParsed,
  map: SourceMap,
  file: string,
  opts: MeaningOptions,
): Promise<Meaning> {
  const issues: ConfigIssue[] = [];
  const baseDir = path.dirname(path.resolve(file));
  const add = (p: Path, message: string, key?: string) =>
    issues.push({ file, ...(key === undefined ? map.valueAt(p) : map.keyAt(p, key)), message });

  // Ports.
  const seen = new Map<string, number>();
  for (let i = 0; i < cfg.ports.length; i++) {
    const port = cfg.ports[i] as PortConfig;
    const first = seen.get(port.name);
    if (first !== undefined) {
      add(['ports', i, 'name'], `ports[${i}].name: '${port.name}' is already the name of ports[${first}] (port names must be unique)`);
    } else seen.set(port.name, i);
    const type = await loadPortType(port.type).catch((e: Error) => e);
    if (type instanceof Error) {
      add(['ports', i, 'type'], `ports[${i}].type: port type '${port.type}' failed to load: ${type.message} (a working port type)`);
      continue;
    }
    if (!type) {
      add(['ports', i, 'type'], `ports[${i}].type: unknown port type '${port.type}' (port types: ${portTypeNames().join(', ')})`);
      continue;
    }
    let messages: string[];
    try {
      messages = portOptionIssues(type, port);
    } catch (e) {
      messages = [`the ${port.type} port's validation failed: ${(e as Error).message}`];
    }
    for (const m of messages) {
      // A message naming one of the port's options ("write: …", "'rate' must be …",
      // "unknown option 'x'") is pinned to that option; others to the port.
      const keys = Object.keys(port);
      const quoted = [...m.matchAll(/'([^']+)'/g)].map((x) => x[1]).find((k) => keys.includes(k));
      const key = keys.find((k) => m.startsWith(k + ':') || m.startsWith(k + ' ')) ?? quoted;
      if (key === undefined) add(['ports', i], `ports[${i}] (${port.type}): ${m}`);
      else if (/^unknown option/.test(m)) add(['ports', i], `ports[${i}].${key}: ${m}`, key);
      else add(['ports', i, key], `ports[${i}].${m.startsWith(key + ':') ? m : `${key}: ${m}`}`);
    }
  }

  // Checks across the ports of one type (each valid on its own): VNIs unique per local address.
  const valid = new Map<string, { i: number; port: PortConfig }[]>();
  for (let i = 0; i < cfg.ports.length; i++) {
    const port = cfg.ports[i] as PortConfig;
    if (issues.some((x) => x.message.startsWith(`ports[${i}].`) || x.message.startsWith(`ports[${i}] `))) continue;
    valid.set(port.type, [...(valid.get(port.type) ?? []), { i, port }]);
  }
  for (const [typeName, group] of valid) {
    const type = await loadPortType(typeName).catch(() => null);
    for (const x of type?.validatePorts?.(group.map((g) => g.port)) ?? []) {
      const i = group[x.port].i;
      add(['ports', i, x.option], `ports[${i}].${x.option}: ${x.message}`);
    }
  }

  // The frame area: one pool per port and per queue, in one SharedArrayBuffer (switch/layout.ts).
  const areaBytes = (cfg.ports.length + cfg.queues) * cfg.poolFrames * cfg.frameSize;
  const limit = Math.min(bufferConstants.MAX_LENGTH, Math.floor(os.totalmem() / 2));
  if (areaBytes > limit) {
    add(
      ['poolFrames'],
      `poolFrames: the frame area would be ${gib(areaBytes)} ((${cfg.ports.length} ports + ${cfg.queues} queues) × ${cfg.poolFrames} frames × ${cfg.frameSize} bytes), more than ${gib(limit)} (${limit === bufferConstants.MAX_LENGTH ? 'the largest buffer Node allows' : "half this machine's memory"})`,
    );
  }

  // Program chains.
  const owner = new Map<number, number>();
  const chainQueues: number[][] = [];
  const programFiles: string[][] = [];
  for (let c = 0; c < cfg.programs.length; c++) {
    const chain = cfg.programs[c];
    const qs = chain.queues === 'all' ? range(cfg.queues) : chain.queues;
    chainQueues.push(qs);
    if (chain.queues !== 'all') {
      for (let j = 0; j < qs.length; j++) {
        const q = qs[j];
        if (q >= cfg.queues) {
          add(['programs', c, 'queues', j], `programs[${c}].queues[${j}]: queue ${q} does not exist (queues 0 to ${cfg.queues - 1})`);
        } else if (qs.indexOf(q) !== j) {
          add(['programs', c, 'queues', j], `programs[${c}].queues[${j}]: queue ${q} is listed twice (each queue once)`);
          continue;
        }
      }
    }
    for (const q of qs) {
      const prev = owner.get(q);
      if (prev !== undefined && prev !== c && q < cfg.queues) {
        add(['programs', c, 'queues'], `programs[${c}].queues: queue ${q} already runs programs[${prev}] (one chain per queue)`);
      } else owner.set(q, c);
    }
    const files: string[] = [];
    for (let e = 0; e < chain.chain.length; e++) {
      const ref = chain.chain[e];
      const at: Path = ['programs', c, 'chain', e];
      const f = resolveProgram(ref.name, baseDir);
      files.push(f ?? '');
      if (!f) {
        add([...at, 'name'], isProgramPath(ref.name)
          ? `${where([...at, 'name'])}: no file ${path.resolve(baseDir, ref.name)} (a module path relative to ${file})`
          : `${where([...at, 'name'])}: unknown program '${ref.name}' (built-ins: ${builtinProgramNames().join(', ') || 'none built'}; or a module path such as ./prog.js)`);
        continue;
      }
      if (!opts.loadPrograms) continue;
      let mod;
      try {
        mod = await loadProgramModule(f);
      } catch (err) {
        add([...at, 'name'], `${where([...at, 'name'])}: program '${ref.name}' does not load: ${(err as Error).message} (a module default-exporting defineProgram(…))`);
        continue;
      }
      const portNames = cfg.ports.map((p) => p.name);
      const bad = checkParams(mod.params ?? {}, ref.params, portNames);
      for (const m of bad) {
        if (m.key !== undefined && m.key in ref.params) add([...at, 'params', m.key], `${where([...at, 'params', m.key])}: ${m.text}`);
        else add([...at, 'params'], `${where([...at, 'params'])}: ${m.text}`);
      }
      if (bad.length === 0) {
        const err = await dryLoad(ref, baseDir, cfg.queues, portNames);
        if (err) {
          const where2 = ref.params && Object.keys(ref.params).length ? [...at, 'params'] : [...at, 'name'];
          add(where2, `${where(at)}: program '${ref.name}' rejects its configuration: ${err} (see the program's parameters)`);
        }
      }
    }
    programFiles.push(files);
  }

  // Steering file.
  let steeringFile: string | undefined;
  if (cfg.steering !== undefined) {
    steeringFile = path.resolve(baseDir, cfg.steering);
    if (!existsSync(steeringFile)) {
      add(['steering'], `steering: no file ${steeringFile} (a flow-steering file relative to ${file})`);
    } else {
      // The flow file's own errors point into the flow file, where they are.
      issues.push(...steeringIssues(steeringFile, cfg.ports.map((p) => p.name), cfg.queues));
    }
  }

  // Metrics endpoint: loopback only, the counters are not for the network.
  if (cfg.metrics !== undefined) {
    const { host, port } = splitHostPort(cfg.metrics);
    if (!isLoopback(host)) add(['metrics'], `metrics: ${host} is not a loopback address (127.0.0.1, [::1] or localhost)`);
    if (port > 65535) add(['metrics'], `metrics: port ${port} is out of range (0 to 65535; 0 picks a free port)`);
  }

  issues.sort((a, b) => a.line - b.line || a.column - b.column);
  return { issues, programFiles, chainQueues, steeringFile };
}

/**
 * Loads the program exactly as the switch will (programs/loader.ts: parameters, maps
 * created, setup() run — a router's routes are parsed there) and builds it once as a
 * queue would; returns the error, if any. What setup() and create() check is part of
 * "the program loads".
 */
async function dryLoad(ref: { name: string; params: Params; continueOn: string[] }, baseDir: string, queues: number, portNames: string[]): Promise<string | null> {
  const ports = portNames.map((name, i) => ({ name, ifindex: i + 1 }));
  try {
    const lp = await loadProgram(ref, { baseDir, queues, ports });
    await instantiate(lp, { queue: 0, queues, ports, log: () => {} });
    return null;
  } catch (e) {
    return (e as Error).message.replace(/^program [\w-]+: /, '');
  }
}

function gib(n: number): string {
  return `${(n / 2 ** 30).toFixed(1)} GiB`;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(i + 1)) };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Parameters against a program's declared ParamSpecs; messages are "what is wrong (allowed)". */
export function checkParams(
  specs: Record<string, ParamSpec>,
  params: Params,
  portNames: string[],
): { key?: string; text: string }[] {
  const out: { key?: string; text: string }[] = [];
  const declared = Object.keys(specs);
  for (const k of Object.keys(params)) {
    if (!(k in specs)) {
      out.push({ key: k, text: `unknown parameter '${k}' (parameters: ${declared.join(', ') || 'none'})` });
      continue;
    }
    const spec = specs[k];
    const v = params[k];
    if (!typeMatches(spec.type, v)) {
      out.push({ key: k, text: `${show(v)} is not ${typeName(spec.type)} (${spec.description})` });
    } else if (k === 'port' && spec.type === 'string' && !portNames.includes(String(v)) && !isIfindex(v, portNames.length)) {
      // Programs name egress ports by a `port` parameter (redirect): it must be a port of this switch.
      out.push({ key: k, text: `no port named '${String(v)}' (ports: ${portNames.join(', ')})` });
    }
  }
  for (const [k, spec] of Object.entries(specs)) {
    if (spec.required && !(k in params)) out.push({ text: `missing parameter '${k}' (${typeName(spec.type)}: ${spec.description})` });
  }
  return out;
}

function isIfindex(v: unknown, ports: number): boolean {
  const n = Number(v);
  return Number.isInteger(n) && n >= 1 && n <= ports;
}

function typeMatches(t: ParamSpec['type'], v: unknown): boolean {
  switch (t) {
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'string':
      // The loader takes a number where a string is wanted (an ifindex for a port name).
      return typeof v === 'string' || typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'number[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  }
}

function typeName(t: ParamSpec['type']): string {
  return { number: 'a number', string: 'a string', boolean: 'true or false', 'string[]': 'a list of strings', 'number[]': 'a list of numbers' }[t];
}

function show(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v !== null && typeof v === 'object') return 'a map';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
