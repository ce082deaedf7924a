/**
 * `bpftool map dump` output for any map (bpftool src/map.c, print_entry_plain / _json):
 *
 *   key: 0a 00 00 01  value: 01 00 00 00
 *   Found 1 element
 *
 * Bytes are lower-case hex, space-separated, two spaces after every 8th byte and a new
 * line after every 16th. Key and value share a line when together they fit in 24 bytes;
 * either over 16 bytes puts `key:`/`value:` on lines of their own. Per-queue maps print
 * `value (CPU 00): …` per queue (a queue is this switch's CPU). JSON (`-j`) gives the bytes
 * as "0x0a" strings, and per-queue values as { cpu, value } objects.
 */
import type { XdpMap } from './map.js';

export function hexBytes(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) {
    if (i !== 0) s += i % 16 === 0 ? '\n' : i % 8 === 0 ? '  ' : ' ';
    s += b[i].toString(16).padStart(2, '0');
  }
  return s;
}

function isPerQueue(map: XdpMap): boolean {
  return map.spec.type === 'percpu_array' || map.spec.type === 'percpu_hash';
}

function perQueueStride(valueSize: number): number {
  return (valueSize + 7) & ~7;
}

export function formatEntry(map: XdpMap, key: Uint8Array, value: Uint8Array): string {
  const { keySize, valueSize } = map.spec;
  if (!isPerQueue(map)) {
    const breakNames = keySize > 16 || valueSize > 16;
    const singleLine = keySize + valueSize <= 24 && !breakNames;
    return `key:${breakNames ? '\n' : ' '}${hexBytes(key)}${singleLine ? '  ' : '\n'}value:${breakNames ? '\n' : ' '}${hexBytes(value)}\n`;
  }
  const stride = perQueueStride(valueSize);
  let s = `key:\n${hexBytes(key)}\n`;
  for (let q = 0; q * stride < value.length; q++) {
    s += `value (CPU ${String(q).padStart(2, '0')}):${valueSize > 16 ? '\n' : ' '}${hexBytes(value.subarray(q * stride, q * stride + valueSize))}\n`;
  }
  return s;
}

/** The plain dump: every entry, then `Found N element(s)`. */
export function formatDump(map: XdpMap): string {
  let s = '';
  let n = 0;
  for (const [k, v] of map.entries()) {
    s += formatEntry(map, k, v);
    n++;
  }
  return s + `Found ${n} element${n === 1 ? '' : 's'}\n`;
}

function jsonBytes(b: Uint8Array): string[] {
  return Array.from(b, (x) => '0x' + x.toString(16).padStart(2, '0'));
}

export type JsonEntry = { key: string[]; value: string[] } | { key: string[]; values: { cpu: number; value: string[] }[] };

/** The `-j` dump as data (JSON.stringify it). */
export function dumpJson(map: XdpMap): JsonEntry[] {
  const out: JsonEntry[] = [];
  const stride = perQueueStride(map.spec.valueSize);
  for (const [k, v] of map.entries()) {
    if (!isPerQueue(map)) out.push({ key: jsonBytes(k), value: jsonBytes(v) });
    else {
      const values: { cpu: number; value: string[] }[] = [];
      for (let q = 0; q * stride < v.length; q++) values.push({ cpu: q, value: jsonBytes(v.subarray(q * stride, q * stride + map.spec.valueSize)) });
      out.push({ key: jsonBytes(k), values });
    }
  }
  return out;
}

/**
 * Parses bytes as bpftool takes them on its command line: each word one byte, read as C's
 * strtoul with base 0 (`10`, `0x0a`, `012`), or all in hex after a leading `hex` word
 * (`hex 0a 00 00 01`). Throws naming the offending word.
 */
export function parseBytes(words: string[], want: number, what: string): Uint8Array {
  const hex = words[0] === 'hex';
  const ws = hex ? words.slice(1) : words;
  if (ws.length !== want) throw new Error(`${what}: ${ws.length} bytes given, the map wants ${want}`);
  const out = new Uint8Array(want);
  ws.forEach((w, i) => {
    let n = NaN;
    if (hex) n = /^[0-9a-f]{1,2}$/i.test(w) ? parseInt(w, 16) : NaN;
    else if (/^0x[0-9a-f]+$/i.test(w)) n = parseInt(w.slice(2), 16);
    else if (/^0[0-7]*$/.test(w)) n = parseInt(w, 8);
    else if (/^[1-9][0-9]*$/.test(w)) n = parseInt(w, 10);
    if (!(n >= 0 && n <= 255)) throw new Error(`${what}: '${w}' is not a byte`);
    out[i] = n;
  });
  return out;
}
