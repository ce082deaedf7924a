import { describe, expect, it } from 'vitest';
import { createMap, openMap } from '../../../programs/maps/index.js';
import { dumpJson, formatDump, parseBytes } from '../../../programs/maps/format.js';
import { lpmKey } from '../../../programs/parse/addr.js';

describe('bpftool-style map dump', () => {
  it('short key and value on one line, element count', () => {
    const m = openMap(createMap({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4 }, 1), 0);
    m.update(Uint8Array.of(10, 0, 0, 1), Uint8Array.of(1, 0, 0, 0));
    expect(formatDump(m)).toBe('key: 0a 00 00 01  value: 01 00 00 00\nFound 1 element\n');
    expect(dumpJson(m)).toEqual([{ key: ['0x0a', '0x00', '0x00', '0x01'], value: ['0x01', '0x00', '0x00', '0x00'] }]);
  });

  it('long values break lines: two spaces after 8 bytes, a newline after 16', () => {
    const m = openMap(createMap({ type: 'lpm_trie', keySize: 20, valueSize: 4, maxEntries: 4 }, 1), 0);
    m.update(lpmKey({ addr: new Uint8Array(16).fill(0x20, 0, 1), len: 8 }), Uint8Array.of(7, 0, 0, 0));
    expect(formatDump(m)).toBe(
      'key:\n08 00 00 00 20 00 00 00  00 00 00 00 00 00 00 00\n00 00 00 00\nvalue:\n07 00 00 00\nFound 1 element\n',
    );
    const e = openMap(createMap({ type: 'array', keySize: 4, valueSize: 16, maxEntries: 2 }, 1), 0);
    expect(formatDump(e).split('\n')[0]).toBe('key: 00 00 00 00  value: 00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00');
    expect(formatDump(e).endsWith('Found 2 elements\n')).toBe(true);
  });

  it('per-queue values print one line per queue (CPU)', () => {
    const m = openMap(createMap({ type: 'percpu_array', keySize: 4, valueSize: 4, maxEntries: 1 }, 2), 0);
    m.update(Uint8Array.of(0, 0, 0, 0), Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0));
    expect(formatDump(m)).toBe('key:\n00 00 00 00\nvalue (CPU 00): 01 00 00 00\nvalue (CPU 01): 02 00 00 00\nFound 1 element\n');
    expect(dumpJson(m)).toEqual([{ key: ['0x00', '0x00', '0x00', '0x00'], values: [{ cpu: 0, value: ['0x01', '0x00', '0x00', '0x00'] }, { cpu: 1, value: ['0x02', '0x00', '0x00', '0x00'] }] }]);
  });

  it('parses bytes as bpftool does', () => {
    expect([...parseBytes(['10', '0x0a', '012', '0'], 4, 'key')]).toEqual([10, 10, 10, 0]);
    expect([...parseBytes(['hex', '0a', 'ff'], 2, 'key')]).toEqual([10, 255]);
    expect(() => parseBytes(['256'], 1, 'key')).toThrow(/'256' is not a byte/);
    expect(() => parseBytes(['1'], 2, 'key')).toThrow(/1 bytes given, the map wants 2/);
  });
});
