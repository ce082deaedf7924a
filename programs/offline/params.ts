/**
 * Program parameters from the command line: `--param key=value`, typed by the module's
 * ParamSpec (numbers, booleans, lists — a list parameter takes repeated keys and/or
 * comma-separated values), and `--params FILE` (YAML or JSON object) for long lists
 * such as blocklists or route tables. The loader then validates them as always.
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import type { Params, ProgramModule } from '../program.js';

export function parseParamArgs(m: ProgramModule, args: string[], file?: string): Params {
  const out: Params = {};
  if (file !== undefined) {
    let doc: unknown;
    try {
      doc = YAML.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`--params ${file}: ${(e as Error).message.split('\n')[0]}`);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`--params ${file}: expected a mapping of parameter names to values`);
    Object.assign(out, doc);
  }
  const specs = m.params ?? {};
  const seen = new Set<string>(); // list keys given on the command line replace the file's, then append
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new Error(`--param '${a}': expected key=value`);
    const key = a.slice(0, eq);
    const text = a.slice(eq + 1);
    const spec = specs[key];
    if (spec === undefined) {
      const known = Object.keys(specs);
      throw new Error(`program ${m.name}: unknown parameter '${key}' (${known.length ? 'known: ' + known.join(', ') : 'it takes none'})`);
    }
    const num = (s: string) => {
      const n = Number(s);
      if (s.trim() === '' || !Number.isFinite(n)) throw new Error(`--param ${key}: '${s}' is not a number`);
      return n;
    };
    switch (spec.type) {
      case 'number':
        out[key] = num(text);
        break;
      case 'boolean':
        if (!['true', 'false', '1', '0', 'yes', 'no'].includes(text)) throw new Error(`--param ${key}: '${text}' is not true or false`);
        out[key] = ['true', '1', 'yes'].includes(text);
        break;
      case 'string':
        out[key] = text;
        break;
      case 'string[]':
      case 'number[]': {
        const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
        const prev = seen.has(key) ? (out[key] as unknown[]) : [];
        seen.add(key);
        out[key] = [...prev, ...(spec.type === 'number[]' ? items.map(num) : items)];
        break;
      }
    }
  }
  return out;
}
