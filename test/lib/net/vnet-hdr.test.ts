/** The virtio-net header's byte layout (virtio 1.x §5.1.6: little-endian) and NEEDS_CSUM completion. */
import { describe, expect, it } from 'vitest';
import { completeChecksum, readVnetHdr, VnetHdr, writeVnetHdr } from '../../../lib/net/vnet-hdr.js';
import { build, plainSum, pseudoSum, headerLength, bytes, rng } from './frames.js';

describe('virtio_net_hdr', () => {
  it('writes and reads the fields at their offsets, little-endian, num_buffers only when asked', () => {
    const h = new VnetHdr();
    Object.assign(h, { flags: 1, gsoType: 0x81, hdrLen: 0x0142, gsoSize: 1448, csumStart: 34, csumOffset: 16, numBuffers: 3 });
    const b = new Uint8Array(12).fill(0xee);
    writeVnetHdr(h, b, 0, false);
    expect([...b]).toEqual([1, 0x81, 0x42, 0x01, 1448 & 0xff, 1448 >> 8, 34, 0, 16, 0, 0xee, 0xee]);
    writeVnetHdr(h, b, 0, true);
    expect([b[10], b[11]]).toEqual([3, 0]);
    const r = new VnetHdr();
    readVnetHdr(r, b, 0);
    expect({ ...r, numBuffers: 3 }).toEqual({ ...h });
  });

  it('completes a partial TCP and UDP checksum from the pseudo-header seed, as a plain sum says', () => {
    const r = rng(7);
    for (const udp of [false, true]) {
      for (const n of [0, 1, 2, 3, 1447, 1448, 9001]) {
        const d = { saddr: [192, 0, 2, 1], daddr: [198, 51, 100, 7], sport: 1234, dport: 80, udp, payload: bytes(n, r) };
        const full = build(d);
        const { l4 } = headerLength(d);
        const seed = plainSum(new Uint8Array(0), 0, 0, pseudoSum(d, full.length - l4));
        const partial = build({ ...d, csumField: seed });
        expect(completeChecksum(partial, 0, partial.length, l4, udp ? 6 : 16)).toBe(true);
        expect(Buffer.from(partial).equals(Buffer.from(full)), `udp=${udp} n=${n}`).toBe(true);
      }
    }
    const f = build({ saddr: [1, 2, 3, 4], daddr: [5, 6, 7, 8], sport: 1, dport: 2, payload: new Uint8Array(10) });
    expect(completeChecksum(f, 0, f.length, f.length - 1, 16)).toBe(false);
  });
});
