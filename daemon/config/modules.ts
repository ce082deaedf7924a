/**
 * Finding the modules a configuration names: port types (switch/ports/<type>) and
 * programs (programs/builtin/<name>, or a module path relative to the configuration).
 *
 * Code runs either compiled (dist/, .js files) or from the TypeScript sources under
 * vitest (.ts files), so a module is looked up with both extensions.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { PortType } from '../../switch/ports/port.js';
import type { ProgramModule } from '../../programs/program.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const portsDir = path.join(here, '..', '..', 'switch', 'ports');
const builtinDir = path.join(here, '..', '..', 'programs', 'builtin');

function findModule(dir: string, name: string): string | null {
  for (const ext of ['.js', '.ts']) {
    const f = path.join(dir, name + ext);
    if (existsSync(f)) return f;
  }
  return null;
}

function listModules(dir: string): string[] {
  try {
    const names = new Set<string>();
    for (const f of readdirSync(dir)) {
      const m = /^([a-z][a-z0-9-]*)\.(js|ts)$/.exec(f);
      if (m && !f.endsWith('.d.ts')) names.add(m[1]);
    }
    return [...names].sort();
  } catch {
    return [];
  }
}

/** Port types present in switch/ports/ (every module there except the interface). */
export function portTypeNames(): string[] {
  return listModules(portsDir).filter((n) => n !== 'port' && n !== 'index');
}

export function builtinProgramNames(): string[] {
  return listModules(builtinDir);
}

export async function loadPortType(type: string): Promise<PortType | null> {
  if (!/^[a-z][a-z0-9-]*$/.test(type) || type === 'port' || type === 'index') return null;
  const f = findModule(portsDir, type);
  if (!f) return null;
  const mod = (await import(pathToFileURL(f).href)) as { default?: PortType };
  return mod.default ?? null;
}

/** A program name is a module path when it looks like one; otherwise a built-in. */
export function isProgramPath(name: string): boolean {
  return name.includes('/') || /\.(m?js|ts)$/.test(name);
}

/** Absolute file of a program: a built-in's module, or `name` resolved against `baseDir`. */
export function resolveProgram(name: string, baseDir: string): string | null {
  if (isProgramPath(name)) {
    const f = path.resolve(baseDir, name);
    return existsSync(f) ? f : null;
  }
  if (!/^[a-z][a-z0-9-]*$/.test(name)) return null;
  return findModule(builtinDir, name);
}

export async function loadProgramModule(file: string): Promise<ProgramModule> {
  const mod = (await import(pathToFileURL(file).href)) as { default?: ProgramModule };
  const m = mod.default;
  if (!m || typeof m !== 'object' || typeof m.create !== 'function') {
    throw new Error('does not default-export a program (defineProgram({ name, create, … }))');
  }
  return m;
}
