/**
 * The types of a port type's options, declared once (PortType.options) and checked for
 * every port type the same way, before the type's own validate() looks at the values:
 * a wrong-typed option is an error naming the option, what it got and what it takes —
 * never coerced (`queuePairs: "4"` is a string, not 4, and not a silent default).
 *
 * The declared names are also the options a port type accepts: anything else is reported
 * as unknown, so an option cannot be accepted without a declared type.
 */
import type { OptionKind, OptionTypes, PortConfig, PortType } from './port.js';

export type { OptionKind, OptionTypes };

const ARTICLE: Record<OptionKind, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  'integer[]': 'a list of integers',
};

function isKind(v: unknown, k: OptionKind): boolean {
  switch (k) {
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
    case 'integer[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x));
  }
}

/** What a value is, in the words of the message: `"4" (a string)`. */
function described(v: unknown): string {
  const what = v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a map' : `a ${typeof v}`;
  return `${JSON.stringify(v)} (${what})`;
}

export function kindsOf(spec: OptionKind | readonly OptionKind[]): readonly OptionKind[] {
  return typeof spec === 'string' ? [spec] : spec;
}

/**
 * Unknown options and options of the wrong type, one message each, starting with the
 * option's name (`queuePairs: must be an integer, got "4" (a string)`) so the configuration
 * loader pins it to the option's line:column.
 */
export function optionTypeIssues(type: string, types: OptionTypes, config: PortConfig): string[] {
  const out: string[] = [];
  const names = Object.keys(types);
  for (const [k, v] of Object.entries(config)) {
    if (k === 'name' || k === 'type') continue;
    const spec = types[k];
    if (spec === undefined) {
      out.push(`unknown option '${k}' (${type} takes: ${names.length ? names.join(', ') : 'no options'})`);
      continue;
    }
    if (v === undefined) continue; // not given
    const kinds = kindsOf(spec);
    if (!kinds.some((kind) => isKind(v, kind))) out.push(`${k}: must be ${kinds.map((kind) => ARTICLE[kind]).join(' or ')}, got ${described(v)}`);
  }
  return out;
}

/**
 * Everything wrong with one port's options: unknown or wrong-typed options first; only when
 * there are none, the type's own checks of the values (which may then trust the types).
 */
export function portOptionIssues(t: PortType, config: PortConfig): string[] {
  const typed = optionTypeIssues(t.type, t.options, config);
  if (typed.length) return typed;
  return t.validate?.(config) ?? [];
}
