import { describe, expect, it } from 'vitest';
import { isIPv4 } from 'node:net';
import { DEFAULT_RSS_KEY, newToeplitzTable, toeplitzAdd, toeplitzReference } from '../../flows/toeplitz.js';
import { parseIPv4, parseIPv6 } from '../../flows/values.js';

// SPEC §2: the 82599 / Microsoft verification suite (as in DPDK test_thash.c).
const VECTORS: [string, number, string, number, number, number][] = [
  ['66.9.149.187', 2794, '161.142.100.80', 1766, 0x323e8fc2, 0x51ccc178],
  ['199.92.111.2', 14230, '65.69.140.83', 4739, 0xd718262a, 0xc626b0ea],
  ['24.19.198.95', 12898, '12.22.207.184', 38024, 0xd2d0a5de, 0x5c2b394a],
  ['38.27.205.30', 48228, '209.142.163.6', 2217, 0x82989176, 0xafc7327f],
  ['153.39.163.191', 44251, '202.188.127.2', 1303, 0x5d1809c5, 0x10e828a2],
  ['3ffe:2501:200:1fff::7', 2794, '3ffe:2501:200:3::1', 1766, 0x2cc18cd5, 0x40207d3d],
  ['3ffe:501:8::260:97ff:fe40:efab', 14230, 'ff02::1', 4739, 0x0f0c461c, 0xdde51bbf],
  ['3ffe:1900:4545:3:200:f8ff:fe21:67cf', 44251, 'fe80::200:f8ff:fe21:67cf', 38024, 0x4b61e985, 0x02d1feef],
];

function addrBytes(a: string): number[] {
  if (isIPv4(a)) {
    const v = parseIPv4(a)!;
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  }
  const w = parseIPv6(a)!;
  return Array.from(w).flatMap((x) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255]);
}

describe('Toeplitz hash (SPEC §2 vectors)', () => {
  const table = newToeplitzTable(DEFAULT_RSS_KEY);
  for (const [src, sp, dst, dp, ipOnly, withPorts] of VECTORS) {
    const ipIn = [...addrBytes(src), ...addrBytes(dst)];
    const l4In = [...ipIn, sp >> 8, sp & 255, dp >> 8, dp & 255];
    it(`${src}:${sp} → ${dst}:${dp}`, () => {
      expect(toeplitzReference(DEFAULT_RSS_KEY, ipIn)).toBe(ipOnly);
      expect(toeplitzReference(DEFAULT_RSS_KEY, l4In)).toBe(withPorts);
      const a = Uint8Array.from(l4In);
      expect(toeplitzAdd(table, 0, 0, a, 0, ipIn.length) >>> 0).toBe(ipOnly);
      expect(toeplitzAdd(table, 0, 0, a, 0, l4In.length) >>> 0).toBe(withPorts);
    });
  }

  it('table and bit-by-bit reference agree on random keys and inputs', () => {
    let seed = 12345;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) & 255;
    for (let k = 0; k < 20; k++) {
      const key = Array.from({ length: 40 }, rnd);
      const t = newToeplitzTable(key);
      const input = Uint8Array.from({ length: 45 }, rnd);
      const n = 1 + (k * 7) % 45;
      expect(toeplitzAdd(t, 0, 0, input, 0, n) >>> 0).toBe(toeplitzReference(key, input.subarray(0, n)));
    }
  });
});
