/**
 * Pass one: the shape of the file (types, ranges, known keys), checked by the zod schema.
 *
 * zod's own messages know nothing of the file, so each issue is rewritten here as
 * `path: what is wrong (what is allowed)`, the allowed half taken from the description of
 * the schema node the issue is about, and pinned to its line:column by the SourceMap.
 */
import type { z } from 'zod';
import { configSchema, type ConfigParsed } from './schema.js';
import type { ConfigIssue } from './errors.js';
import type { Path, SourceMap } from './positions.js';

type Schema = z.ZodType;
type Issue = z.core.$ZodIssue;

export function checkStructure(
  data: unknown,
  map: SourceMap,
  file: string,
): { value: ConfigParsed; issues: [] } | { value: null; issues: ConfigIssue[] } {
  const r = configSchema.safeParse(data, { reportInput: true });
  if (r.success) return { value: r.data, issues: [] };
  const issues = r.error.issues.flatMap((i) => describe(i, map, file));
  issues.sort((a, b) => a.line - b.line || a.column - b.column);
  return { value: null, issues };
}

function describe(issue: Issue, map: SourceMap, file: string): ConfigIssue[] {
  const path = issue.path as Path;
  const at = (p: { line: number; column: number }, message: string): ConfigIssue => ({ file, ...p, message });
  const allowed = allowedAt(path);

  if (issue.code === 'unrecognized_keys') {
    const node = schemaAt(path);
    const keys = node ? objectKeys(node) : [];
    return issue.keys.map((k) =>
      at(map.keyAt(path, k), `${where(path, k)}: unknown key${keys.length ? ` (allowed keys: ${keys.join(', ')})` : ''}`),
    );
  }
  const input = (issue as { input?: unknown }).input;
  if (issue.code === 'invalid_type' && input === undefined) {
    return [at(map.valueAt(path), `${where(path.slice(0, -1))}: missing key '${String(path.at(-1))}' (${allowed})`)];
  }
  return [at(map.valueAt(path), `${where(path)}: ${wrong(issue, input, isInteger(path))} (${allowed})`)];
}

/** The "what is wrong" half. */
function wrong(issue: Issue, input: unknown, integer: boolean): string {
  const shown = show(input);
  switch (issue.code) {
    case 'invalid_type':
      if (issue.expected === 'int' || (issue.expected === 'number' && integer)) return `${shown} is not an integer`;
      // YAML reads null and true as non-strings; the fix is quotes ("null" names the null port).
      if (issue.expected === 'string' && (input === null || typeof input === 'boolean')) {
        return `${shown} is not a string; quote it ("${shown}") if you meant the word`;
      }
      return `${shown} is not ${article(issue.expected)}`;
    case 'too_small':
      if (Array.isArray(input)) return `has ${input.length} entries, too few`;
      if (typeof input === 'string') return 'is empty';
      return `${shown} is too small`;
    case 'too_big':
      if (Array.isArray(input)) return `has ${input.length} entries, too many`;
      return `${shown} is too large`;
    case 'invalid_value':
    case 'invalid_union':
      return `${shown} is not allowed`;
    case 'invalid_format':
      return `${shown} is not valid`;
    case 'custom':
      return `${shown} ${issue.message}`;
    default:
      return `${shown} is not valid`;
  }
}

function article(expected: string): string {
  const names: Record<string, string> = {
    number: 'a number',
    int: 'an integer',
    string: 'a string',
    boolean: 'true or false',
    array: 'a list',
    object: 'a map',
    record: 'a map',
  };
  return names[expected] ?? `a ${expected}`;
}

/** A value as the user wrote it, short. */
function show(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 40 ? s.slice(0, 37) + '…' : s;
}

/** `ports[1].write`: the path as a reader would name it. */
export function where(path: Path, key?: string): string {
  const all = key === undefined ? path : [...path, key];
  let s = '';
  for (const p of all) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s || '(top level)';
}

/** The description of the schema node at `path`, or of its nearest described ancestor. */
function allowedAt(path: Path): string {
  for (let n = path.length; n >= 0; n--) {
    const s = schemaAt(path.slice(0, n));
    const d = s && (s.description ?? inner(s).description);
    if (d) return d;
  }
  return 'see docs/configuration.md';
}

function isInteger(path: Path): boolean {
  const s = schemaAt(path);
  return s !== null && (def(inner(s)) as { format?: string }).format === 'safeint';
}

/** The schema node a path leads to, looking through defaults/optionals/unions. */
function schemaAt(path: Path): Schema | null {
  let s: Schema | null = configSchema;
  for (const step of path) {
    s = s ? child(s, step) : null;
  }
  return s;
}

interface Def {
  type: string;
  innerType?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  options?: Schema[];
  valueType?: Schema;
}

function def(s: Schema): Def {
  return (s as unknown as { _zod: { def: Def } })._zod.def;
}

function child(s: Schema, step: string | number): Schema | null {
  const base = inner(s);
  const d = def(base);
  if (d.type === 'object' && d.shape && typeof step === 'string') return d.shape[step] ?? null;
  if (d.type === 'array' && d.element && typeof step === 'number') return d.element;
  if (d.type === 'record' && d.valueType) return d.valueType;
  if (d.type === 'union' && d.options) {
    for (const o of d.options) {
      const c = child(o, step);
      if (c) return c;
    }
  }
  return null;
}

function inner(s: Schema): Schema {
  let d = def(s);
  while ((d.type === 'default' || d.type === 'optional' || d.type === 'nullable') && d.innerType) {
    s = d.innerType;
    d = def(s);
  }
  return s;
}

function objectKeys(s: Schema): string[] {
  const d = def(inner(s));
  return d.type === 'object' && d.shape ? Object.keys(d.shape) : [];
}
