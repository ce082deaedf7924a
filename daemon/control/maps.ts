/**
 * Maps behind the control socket, as bpftool shows and changes them. Every map of every
 * program the switch has loaded gets an id (1, 2, … in load order, stable while the switch
 * runs) and a name `<program>/<map>` (`<program>#2/<map>` for a second instance of the same
 * program with other parameters). Keys and values arrive as bpftool's byte words
 * (`0x0a 0 0 1`, or `hex 0a 00 00 01`) and are checked against the map's sizes here.
 */
import { BPF_ANY, BPF_EXIST, BPF_NOEXIST, openMap, type SharedMap, type XdpMap } from '../../programs/maps/index.js';
import { dumpJson, formatDump, formatEntry, parseBytes } from '../../programs/maps/format.js';
import type { LoadedProgram } from '../../programs/loader.js';
import { ControlError } from './protocol.js';
import { objectParams } from './handlers.js';
import type { Handler } from './server.js';

interface MapRef {
  id: number;
  name: string;
  program: string;
  shared: SharedMap;
}

/** Every map of every loaded program, numbered. */
export function listMaps(programs: LoadedProgram[]): MapRef[] {
  const out: MapRef[] = [];
  const seen = new Map<string, number>();
  for (const p of programs) {
    const n = (seen.get(p.name) ?? 0) + 1;
    seen.set(p.name, n);
    const prog = n === 1 ? p.name : `${p.name}#${n}`;
    for (const [m, shared] of Object.entries(p.maps)) out.push({ id: out.length + 1, name: `${prog}/${m}`, program: prog, shared });
  }
  return out;
}

/** Attached views, one per map, made on first use (a map is attached once, not per request). */
const opened = new WeakMap<SharedMap, XdpMap>();
function attach(shared: SharedMap): XdpMap {
  let m = opened.get(shared);
  if (!m) opened.set(shared, (m = openMap(shared, 0)));
  return m;
}

const FLAGS: Record<string, number> = { any: BPF_ANY, noexist: BPF_NOEXIST, exist: BPF_EXIST };

export function mapHandlers(programs: () => LoadedProgram[]): Record<string, Handler> {
  // The switch only ever adds loaded programs, so the numbering is rebuilt only when their
  // count changes (a map update a millisecond must not re-walk every program each time).
  let cached: { n: number; maps: MapRef[] } = { n: -1, maps: [] };
  const current = (): MapRef[] => {
    const ps = programs();
    if (ps.length !== cached.n) cached = { n: ps.length, maps: listMaps(ps) };
    return cached.maps;
  };
  const find = (p: Record<string, unknown>, method: string): { ref: MapRef; map: XdpMap } => {
    const all = current();
    const want = p.map;
    const ref = typeof want === 'number' ? all.find((m) => m.id === want) : typeof want === 'string' ? all.find((m) => m.name === want) : undefined;
    if (!ref) {
      const known = all.map((m) => `${m.id} (${m.name})`).join(', ') || 'none: no loaded program declares a map';
      throw new ControlError('bad_params', `${method}: no map ${JSON.stringify(want ?? null)} (maps: ${known})`);
    }
    // Queue 0's view: for per-queue maps entries() still returns every queue's value.
    return { ref, map: attach(ref.shared) };
  };
  const bytes = (p: Record<string, unknown>, key: 'key' | 'value', size: number): Uint8Array => {
    const w = p[key];
    if (!Array.isArray(w) || !w.every((x) => typeof x === 'string')) throw new ControlError('bad_params', `'${key}' must be a list of byte words`);
    try {
      return parseBytes(w as string[], size, key);
    } catch (e) {
      throw new ControlError('bad_params', (e as Error).message);
    }
  };
  return {
    'map.list': () =>
      current().map((m) => ({
        id: m.id,
        name: m.name,
        type: m.shared.spec.type,
        keySize: m.shared.spec.keySize,
        valueSize: m.shared.spec.valueSize,
        maxEntries: m.shared.spec.maxEntries,
        flags: m.shared.spec.flags ?? 0,
        bytes: m.shared.buffers.reduce((a, b) => a + b.byteLength, 0),
      })),
    'map.dump': (raw) => {
      const { map } = find(objectParams(raw, 'map.dump'), 'map.dump');
      return { text: formatDump(map), json: dumpJson(map) };
    },
    'map.lookup': (raw) => {
      const p = objectParams(raw, 'map.lookup');
      const { map } = find(p, 'map.lookup');
      const key = bytes(p, 'key', map.spec.keySize);
      const perQueue = map.spec.type === 'percpu_array' || map.spec.type === 'percpu_hash';
      if (!perQueue) {
        // The map's own lookup (an LPM trie matches the longest prefix, as bpf_map_lookup_elem does).
        const value = new Uint8Array(map.spec.valueSize);
        if (map.lookupInto(key, value)) return { found: true, text: formatEntry(map, key, value), json: dumpJson1(map, key, value) };
      } else for (const [k, v] of map.entries()) {
        if (k.length === key.length && k.every((b, i) => b === key[i])) return { found: true, text: formatEntry(map, k, v), json: dumpJson1(map, k, v) };
      }
      return { found: false, text: `key:\n${[...key].map((b) => b.toString(16).padStart(2, '0')).join(' ')}\n\nNot found\n`, json: null };
    },
    'map.update': (raw) => {
      const p = objectParams(raw, 'map.update');
      const { map } = find(p, 'map.update');
      const key = bytes(p, 'key', map.spec.keySize);
      const value = bytes(p, 'value', map.spec.valueSize);
      const flag = p.flags === undefined ? BPF_ANY : FLAGS[String(p.flags)];
      if (flag === undefined) throw new ControlError('bad_params', `map.update: flags must be any, noexist or exist`);
      try {
        map.update(key, value, flag);
      } catch (e) {
        throw new ControlError('failed', `update failed: ${(e as Error).message}`);
      }
      return { ok: true };
    },
    'map.delete': (raw) => {
      const p = objectParams(raw, 'map.delete');
      const { map } = find(p, 'map.delete');
      const key = bytes(p, 'key', map.spec.keySize);
      let gone: boolean;
      try {
        gone = map.delete(key);
      } catch (e) {
        throw new ControlError('failed', `delete failed: ${(e as Error).message}`);
      }
      if (!gone) throw new ControlError('failed', 'delete failed: No such file or directory');
      return { ok: true };
    },
  };
}

function dumpJson1(map: XdpMap, k: Uint8Array, v: Uint8Array): unknown {
  // The one-entry form of `bpftool -j map dump`: reuse its shape through a tiny map view.
  const one: XdpMap = { spec: map.spec, lookupInto: () => false, update: () => {}, delete: () => false, entries: () => [[k, v]] };
  return dumpJson(one)[0];
}
