/**
 * The program loader: from a ProgramRef (a built-in name or a module path, with
 * parameters) to a LoadedProgram that any thread can instantiate.
 *
 * In the main thread, loadProgram() imports the module once, validates its parameters
 * (defaults filled in, wrong types rejected with the parameter's name) and creates the
 * maps it declares in shared memory — before any queue runs it, as libbpf creates an
 * object's maps before attaching. A LoadedProgram is plain data plus SharedArrayBuffers,
 * so it crosses to queue workers, which call instantiate() to import the module there,
 * attach the same maps, and build the verdict function.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createMap, openMap, type SharedMap, type XdpMap } from './maps/index.js';
import type { Params, ParamSpec, ProgramEnv, ProgramModule, PortInfo, XdpProgram } from './program.js';
import { parseVerdict, XDP_PASS } from './verdicts.js';

export interface ProgramRefInput {
  name: string;
  params?: Params;
  continueOn?: string[];
}

export interface LoadedProgram {
  /** The module's own name (e.g. 'drop'). */
  name: string;
  /** 'builtin:<name>' or a file URL. */
  specifier: string;
  params: Params;
  maps: Record<string, SharedMap>;
  /** Bit v set: verdict v continues to the next program in the chain. */
  continueMask: number;
  /** The module takes super-frames whole (ProgramModule.frags). */
  frags: boolean;
}

export class ProgramError extends Error {}

const BUILTIN = /^[a-z][a-z0-9-]*$/;
// Under vitest the sources are .ts; compiled, they are .js beside this file.
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** Module URL for a specifier. */
function moduleUrl(specifier: string): string {
  if (specifier.startsWith('builtin:')) return new URL(`./builtin/${specifier.slice(8)}${EXT}`, import.meta.url).href;
  return specifier;
}

/** Turns a configured name into a specifier: a bare lower-case word is a built-in, anything else a path. */
export function specifierFor(name: string, baseDir: string): string {
  if (BUILTIN.test(name)) return `builtin:${name}`;
  return pathToFileURL(path.resolve(baseDir, name)).href;
}

export async function importProgram(specifier: string): Promise<ProgramModule> {
  let mod: { default?: ProgramModule };
  try {
    mod = (await import(moduleUrl(specifier))) as { default?: ProgramModule };
  } catch (e) {
    const what = specifier.startsWith('builtin:') ? `no built-in program named '${specifier.slice(8)}'` : `cannot load program module ${specifier}`;
    throw new ProgramError(`${what}: ${(e as Error).message.split('\n')[0]}`);
  }
  const m = mod.default;
  if (!m || typeof m.create !== 'function' || typeof m.name !== 'string') {
    throw new ProgramError(`${specifier} does not default-export a program (defineProgram({ name, description, create }))`);
  }
  return m;
}

function checkParam(prog: string, key: string, spec: ParamSpec, v: unknown): unknown {
  const bad = (want: string) => new ProgramError(`program ${prog}: parameter '${key}' must be ${want}, got ${JSON.stringify(v)}`);
  switch (spec.type) {
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw bad('a number');
      return v;
    case 'string':
      if (typeof v === 'number') return String(v);
      if (typeof v !== 'string') throw bad('a string');
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') throw bad('true or false');
      return v;
    case 'string[]':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad('a list of strings');
      return v;
    case 'number[]':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw bad('a list of numbers');
      return v;
  }
}

/** Fills defaults and checks types; unknown parameters are errors (with the known ones listed). */
export function validateParams(m: ProgramModule, given: Params = {}): Params {
  const specs = m.params ?? {};
  const out: Params = {};
  for (const key of Object.keys(given)) {
    if (!(key in specs)) {
      const known = Object.keys(specs);
      throw new ProgramError(`program ${m.name}: unknown parameter '${key}' (${known.length ? 'known: ' + known.join(', ') : 'it takes none'})`);
    }
  }
  for (const [key, spec] of Object.entries(specs)) {
    if (given[key] !== undefined) out[key] = checkParam(m.name, key, spec, given[key]);
    else if (spec.default !== undefined) out[key] = spec.default;
    else if (spec.required) throw new ProgramError(`program ${m.name}: parameter '${key}' is required (${spec.description})`);
  }
  return out;
}

export function continueMask(names: string[] | undefined): number {
  if (names === undefined) return 1 << XDP_PASS; // libxdp's default chain_call_actions
  let mask = 0;
  for (const n of names) {
    const v = parseVerdict(n);
    if (v < 0) throw new ProgramError(`continueOn: unknown verdict '${n}' (ABORTED, DROP, PASS, TX, REDIRECT)`);
    mask |= 1 << v;
  }
  return mask;
}

/** Main thread: import, validate, create maps. */
export async function loadProgram(ref: ProgramRefInput, opts: { baseDir: string; queues: number; ports?: PortInfo[] }): Promise<LoadedProgram> {
  const specifier = specifierFor(ref.name, opts.baseDir);
  const m = await importProgram(specifier);
  const params = validateParams(m, ref.params);
  const maps: Record<string, SharedMap> = {};
  for (const [name, spec] of Object.entries(m.maps?.(params) ?? {})) maps[name] = createMap(spec, opts.queues);
  if (m.setup) {
    const attached: Record<string, XdpMap> = {};
    for (const [name, shared] of Object.entries(maps)) attached[name] = openMap(shared, 0);
    try {
      m.setup({ params, maps: attached, ports: opts.ports ?? [] });
    } catch (e) {
      throw new ProgramError(`program ${m.name}: setup: ${(e as Error).message}`);
    }
  }
  return { name: m.name, specifier, params, maps, continueMask: continueMask(ref.continueOn), frags: m.frags === true };
}

export interface InstanceEnv {
  queue: number;
  queues: number;
  ports: PortInfo[];
  log(message: string): void;
}

/** Any thread: build the verdict function of a loaded program. */
export async function instantiate(p: LoadedProgram, env: InstanceEnv): Promise<XdpProgram> {
  const m = await importProgram(p.specifier);
  const maps: Record<string, XdpMap> = {};
  for (const [name, shared] of Object.entries(p.maps)) maps[name] = openMap(shared, Math.max(0, env.queue));
  const penv: ProgramEnv = { params: p.params, maps, queue: env.queue, queues: env.queues, ports: env.ports, log: env.log };
  return m.create(penv);
}
