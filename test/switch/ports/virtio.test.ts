import { describe, expect, it } from 'vitest';
import virtio from '../../../switch/ports/virtio.js';

describe('virtio port options', () => {
  it('accepts its options and says clearly what is wrong', () => {
    expect(virtio.validate!({ name: 'vm0', type: 'virtio' })).toEqual([]);
    expect(virtio.validate!({ name: 'vm0', type: 'virtio', mac: '52:54:00:aa:bb:cc', queuePairs: 8, queueSize: 4096 })).toEqual([]);
    expect(virtio.validate!({ name: 'vm0', type: 'virtio', mac: 'zz' })).toEqual(["invalid MAC address 'zz'"]);
    expect(virtio.validate!({ name: 'vm0', type: 'virtio', queuePairs: 9 })).toEqual(['queuePairs must be an integer in 1..8']);
    expect(virtio.validate!({ name: 'vm0', type: 'virtio', queueSize: 1000 })).toEqual(['queueSize must be a power of two in 1..32768']);
    expect(virtio.validate!({ name: 'vm0', type: 'virtio', pairs: 2 })).toEqual(["unknown option 'pairs' (virtio takes: mac, queuePairs, queueSize)"]);
  });

  it('answers unknown control requests with an error, not a crash', async () => {
    const port = virtio.create({ name: 'vm0', type: 'virtio' });
    const counters = new Float64Array(64);
    await port.open({ name: 'vm0', ifindex: 1, counters, counterIndex: () => 9, log: () => {} } as never);
    expect(() => port.control!({ op: 'bogus' })).toThrow(/unknown control request "bogus"/);
    expect(() => port.control!({ op: 'attach', memory: new ArrayBuffer(8), transport: new SharedArrayBuffer(8) })).toThrow(/SharedArrayBuffer/);
    expect(port.control!({ op: 'status' })).toMatchObject({ attached: false, live: false });
    // Frames for a VM that is not there are dropped and counted, never thrown.
    expect(port.transmit(new Uint8Array(64), 0, 64, 0)).toBe(false);
    expect(counters[9 + 6]).toBe(1); // rx_drop_not_ready
    await port.close();
  });
});
